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


# A trail event with its drill, its ticket and the ticket's assignee now.
_EVENTS = select(TicketEvent.id, Ticket.drill_id, Ticket.id, Ticket.assignee_id).join(
    Ticket, Ticket.id == TicketEvent.ticket_id
)
Changed = tuple[int, int, int, int | None]


def events_after(session: Session, after: int) -> list[Changed]:
    """(event id, drill id, ticket id, its assignee now) of trail events with ids above
    ``after``."""
    query = _EVENTS.where(TicketEvent.id > after).order_by(TicketEvent.id).limit(MAX_CHANGES)
    return [(e, d, t, a) for e, d, t, a in session.execute(query).all()]


def events_in(session: Session, ids: list[int]) -> list[Changed]:
    """The same for the trail events with these ids that exist (now)."""
    if not ids:
        return []
    return [(e, d, t, a) for e, d, t, a in session.execute(_EVENTS.where(TicketEvent.id.in_(ids)))]


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


def drill_changed_since(session: Session, drill_id: int, since: Marks) -> bool:
    """Whether the drill has trail events or notices newer than ``since`` (a short range
    read of the newest rows: ``since`` is a page's moment of rendering)."""
    event = session.scalar(
        select(TicketEvent.id)
        .join(Ticket, Ticket.id == TicketEvent.ticket_id)
        .where(TicketEvent.id > since.event, Ticket.drill_id == drill_id)
        .limit(1)
    )
    notice = session.scalar(
        select(Notification.id)
        .where(Notification.id > since.notice, Notification.drill_id == drill_id)
        .limit(1)
    )
    return event is not None or notice is not None
