"""Who holds which tickets of a drill and what waits in each tier's queue, kept in memory
by a session that is the only writer of its drill's tickets (the headless runner's).

Bots ask for their worklist and for the next ticket in their queue at every action; the
answers are what the tickets table gives (the same filters and order), taken from the
tickets themselves. A ticket's holder, status and tier change only through
``recording.record`` and are born in ``intake``; both note the ticket here. A drill's
tickets are read once, at the first question about it, and again after any rollback
(see ``db.kept``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from deskdrill.db.kept import PerDrill
from deskdrill.tickets.enums import Status
from deskdrill.tickets.models import Ticket

_ALL = select(Ticket).where(Ticket.drill_id == bindparam("drill"))


def urgency(ticket: Ticket) -> tuple[Any, ...]:
    """The order of worklists and queues: priority, then the oldest first."""
    return (ticket.priority, ticket.received_at, ticket.id)


@dataclass
class _Desk:
    held: dict[int, set[Ticket]] = field(default_factory=dict)  # assignee -> not closed
    queues: dict[str, set[Ticket]] = field(default_factory=dict)  # tier -> active, unheld
    load: Counter[int] = field(default_factory=Counter)  # assignee -> active tickets held
    # ticket id -> where it is filed, under which key, and whether it counts in the load
    filed: dict[int, tuple[dict[Any, set[Ticket]], Any, bool]] = field(default_factory=dict)

    def file(self, ticket: Ticket) -> None:
        before = self.filed.pop(ticket.id, None)
        if before is not None:
            where, key, counted = before
            where[key].discard(ticket)
            if counted:
                self.load[key] -= 1
        if ticket.assignee_id is not None:
            if ticket.status != Status.closed:
                self._put(self.held, ticket.assignee_id, ticket, counted=ticket.active)
        elif ticket.active:
            self._put(self.queues, ticket.tier, ticket, counted=False)

    def _put(self, where: dict[Any, set[Ticket]], key: Any, ticket: Ticket, counted: bool) -> None:
        where.setdefault(key, set()).add(ticket)
        self.filed[ticket.id] = (where, key, counted)
        if counted:
            self.load[key] += 1


class Desks(PerDrill):
    key = "deskdrill.desks"

    def _desk(self, drill_id: int) -> _Desk:
        desk: _Desk | None = self.drills.get(drill_id)
        if desk is None:
            desk = self.drills[drill_id] = _Desk()
            for ticket in self.session.scalars(_ALL, {"drill": drill_id}):
                desk.file(ticket)
        return desk

    def mine(self, drill_id: int, user_id: int) -> list[Ticket]:
        """The person's tickets not closed yet, most urgent first."""
        return sorted(self._desk(drill_id).held.get(user_id, ()), key=urgency)

    def next_in_queue(self, drill_id: int, tier: str) -> Ticket | None:
        """The most urgent active ticket nobody holds at ``tier``."""
        return min(self._desk(drill_id).queues.get(tier, ()), key=urgency, default=None)

    def load(self, drill_id: int) -> dict[int, int]:
        """How many active tickets each person holds (people holding none left out)."""
        return {user: n for user, n in self._desk(drill_id).load.items() if n}

    @classmethod
    def noted(cls, session: Session, tickets: Iterable[Ticket]) -> None:
        """These tickets were written (born, or changed holder, status or tier)."""
        kept = cls.of(session)
        if kept is None:
            return
        for ticket in tickets:
            desk: _Desk | None = kept.drills.get(ticket.drill_id)
            if desk is not None:
                desk.file(ticket)
