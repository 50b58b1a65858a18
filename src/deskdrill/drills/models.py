from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from deskdrill.db.base import Base, JSONType


class Drill(Base):
    """A practice desk: it owns tickets, parties and orders, and has members."""

    __tablename__ = "drills"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    title: Mapped[str] = mapped_column(String(256))
    description: Mapped[str] = mapped_column(default="")
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    # The simulated clock (deskdrill.core.clock.DrillClock), persisted by its anchors.
    clock_state: Mapped[str] = mapped_column(String(16), default="draft", server_default="draft")
    clock_speed: Mapped[Decimal] = mapped_column(
        Numeric(9, 3), default=Decimal(1), server_default="1"
    )
    clock_anchor_sim: Mapped[datetime | None]
    clock_anchor_wall: Mapped[datetime | None]


class DrillMember(Base):
    __tablename__ = "drill_members"
    __table_args__ = (Index("ix_drill_members_user_id", "user_id"),)

    drill_id: Mapped[int] = mapped_column(
        ForeignKey("drills.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    added_at: Mapped[datetime]
    # The tier this person works at in this drill (a scenario's roster); None: their own.
    tier: Mapped[str | None] = mapped_column(String(16))
