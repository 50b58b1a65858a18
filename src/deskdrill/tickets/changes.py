"""What changed since a mark: the live pages ask this once per moment for every open page
of a server process, so each question is an indexed read of a few rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from deskdrill.drills.models import Drill
from deskdrill.sla.models import Notification
from deskdrill.tickets.models import Ticket, TicketEvent

MAX_CHANGES = 5000


@dataclass(frozen=True)
class Marks:
    event: int
    notice: int


def marks(session: Session) -> Marks:
    return Marks(
        event=session.scalar(select(func.max(TicketEvent.id))) or 0,
        notice=session.scalar(select(func.max(Notification.id))) or 0,
    )


def changed_tickets(session: Session, after: int, upto: int) -> list[tuple[int, int]]:
    """(drill id, ticket id) of tickets with trail events in (after, upto]."""
    query = (
        select(Ticket.drill_id, Ticket.id)
        .join(TicketEvent, TicketEvent.ticket_id == Ticket.id)
        .where(TicketEvent.id > after, TicketEvent.id <= upto)
        .distinct()
        .limit(MAX_CHANGES)
    )
    return [(d, t) for d, t in session.execute(query).all()]


def noticed_drills(session: Session, after: int, upto: int) -> set[int]:
    query = (
        select(Notification.drill_id)
        .where(Notification.id > after, Notification.id <= upto)
        .distinct()
    )
    return set(session.scalars(query))


def clocks(session: Session, drill_ids: list[int]) -> dict[int, tuple[Any, ...]]:
    """Each drill's clock as stored (state, speed, anchors): a change means it was operated."""
    if not drill_ids:
        return {}
    rows = session.execute(
        select(
            Drill.id, Drill.clock_state, Drill.clock_speed, Drill.clock_anchor_sim,
            Drill.clock_anchor_wall,
        ).where(Drill.id.in_(drill_ids))
    ).all()  # fmt: skip
    return {row[0]: tuple(row[1:]) for row in rows}
