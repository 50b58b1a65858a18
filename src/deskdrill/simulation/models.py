"""What a drill started from a scenario keeps: the scenario itself, and its schedule."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from deskdrill.db.base import Base, JSONType


class DrillScenario(Base):
    """The validated scenario a drill runs (as JSON), and a digest of its source file."""

    __tablename__ = "drill_scenarios"

    drill_id: Mapped[int] = mapped_column(
        ForeignKey("drills.id", ondelete="CASCADE"), primary_key=True
    )
    scenario_id: Mapped[str] = mapped_column(String(64))
    # Read only when the process has not parsed it yet (``world.scenario_of``): the row is
    # read once per transaction for its cursor, and the document is the scenario's size.
    document: Mapped[dict[str, Any]] = mapped_column(JSONType, deferred=True)
    source_sha256: Mapped[str] = mapped_column(String(64))
    seed: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    # Tickets handed out so far: the round-robin assignment's cursor.
    handed_out: Mapped[int] = mapped_column(default=0)


PENDING_WHERE = "done_at IS NULL"


class ScheduledEvent(Base):
    """Something the scenario makes happen at a simulated moment: a ticket arriving, a
    customer chasing or answering, a third party replying. ``key`` is stable (from the
    scenario, or from the event that caused it), so scheduling twice is a no-op; the
    engine marks each one done once."""

    __tablename__ = "scheduled_events"
    __table_args__ = (
        UniqueConstraint("drill_id", "key"),
        Index(
            "ix_scheduled_events_pending",
            "drill_id",
            "due",
            "id",
            sqlite_where=text(PENDING_WHERE),
            postgresql_where=text(PENDING_WHERE),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    drill_id: Mapped[int] = mapped_column(ForeignKey("drills.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(160))
    due: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(32))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    done_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(32))


class ScenarioTicket(Base):
    """Which scenario case a ticket is: a timeline id (``timeline:late-noodles``) or a
    generated arrival (``gen:evening-rush:17``); the persona who wrote it; whether it is
    an incident that needs a report before it can be resolved."""

    __tablename__ = "scenario_tickets"
    __table_args__ = (UniqueConstraint("drill_id", "ref"),)

    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    drill_id: Mapped[int] = mapped_column(ForeignKey("drills.id", ondelete="CASCADE"))
    ref: Mapped[str] = mapped_column(String(160))
    persona: Mapped[str] = mapped_column(String(64))
    report_required: Mapped[bool] = mapped_column(default=False)
    chases: Mapped[int] = mapped_column(default=0)
    mood: Mapped[int] = mapped_column(default=0)
