"""One person's timers in a drill, for their debrief: on each ticket they worked, how long
the customer waited for the first reply and for the resolution, against the targets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from deskdrill.sla.deadlines import policy_for
from deskdrill.tickets.models import Ticket, TicketEvent

MAX_TICKETS = 500


@dataclass(frozen=True)
class TicketTimes:
    key: str
    priority: str
    channel: str
    first_response_s: float | None  # None: not answered yet
    first_response_target_s: float
    resolution_s: float | None
    resolution_target_s: float

    @property
    def first_met(self) -> bool | None:
        if self.first_response_s is None:
            return None
        return self.first_response_s <= self.first_response_target_s

    @property
    def resolution_met(self) -> bool | None:
        if self.resolution_s is None:
            return None
        return self.resolution_s <= self.resolution_target_s


@dataclass(frozen=True)
class PersonalSla:
    tickets: list[TicketTimes]

    def _share(self, values: list[bool | None]) -> float | None:
        decided = [v for v in values if v is not None]
        return round(100 * sum(decided) / len(decided), 1) if decided else None

    @property
    def first_response_attainment(self) -> float | None:
        return self._share([t.first_met for t in self.tickets])

    @property
    def resolution_attainment(self) -> float | None:
        return self._share([t.resolution_met for t in self.tickets])


def worked_by(session: Session, drill_id: int, username: str) -> list[Ticket]:
    """Tickets of the drill on whose trail the person acted, oldest first."""
    ids = (
        select(TicketEvent.ticket_id)
        .join(Ticket, Ticket.id == TicketEvent.ticket_id)
        .where(Ticket.drill_id == drill_id, TicketEvent.actor == username)
        .distinct()
    )
    query = select(Ticket).where(Ticket.id.in_(ids)).order_by(Ticket.received_at, Ticket.id)
    return list(session.scalars(query.limit(MAX_TICKETS)))


def personal_sla(session: Session, drill_id: int, username: str, now: datetime) -> PersonalSla:
    policy = policy_for(session, drill_id)
    found = []
    for t in worked_by(session, drill_id, username):
        first = policy.target(t.priority, "first_response", t.channel, t.category)
        resolution = policy.target(t.priority, "resolution", t.channel, t.category)
        found.append(
            TicketTimes(
                key=t.key,
                priority=t.priority,
                channel=t.channel,
                first_response_s=(t.first_response_at - t.received_at).total_seconds()
                if t.first_response_at
                else None,
                first_response_target_s=first.total_seconds(),
                resolution_s=(t.resolved_at - t.received_at).total_seconds()
                if t.resolved_at
                else None,
                resolution_target_s=resolution.total_seconds(),
            )
        )
    return PersonalSla(found)
