from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from deskdrill.db.base import Base


class SlaFiring(Base):
    """A warning or breach that has been recorded: the stable key that makes it fire once."""

    __tablename__ = "sla_firings"
    __table_args__ = (UniqueConstraint("ticket_id", "timer", "kind", "due"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    timer: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    due: Mapped[datetime]
    fired_wall: Mapped[datetime]
    # The ticket's priority when it fired (a miss may raise it): what the metrics count.
    priority: Mapped[str | None] = mapped_column(String(2))


class Notification(Base):
    """A notice for a person (or everyone of a role in a drill) from the engine."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user_id", "user_id", "id"),
        Index("ix_notifications_drill_id", "drill_id", "role", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    drill_id: Mapped[int] = mapped_column(ForeignKey("drills.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[str | None] = mapped_column(String(16))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    sim_at: Mapped[datetime]
    wall_at: Mapped[datetime]
