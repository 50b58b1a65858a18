"""The next SLA check of each ticket (``Ticket.sla_next_check``), kept in memory by a
session that is the only writer of its drill's tickets (the headless runner's).

The runner asks for a drill's earliest check several times per simulated moment, and a
ticket is written at nearly every one, so a read kept until the table is written seldom
lasts. Instead every writer of a ticket's next check notes it here: the deadlines hook,
the intake insert and the SLA engine's own updates. A drill's checks are read once, at
the first question about it, and again after any rollback (see ``db.kept``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from deskdrill.db.kept import Earliest, PerDrill
from deskdrill.db.savepoints import flush_before_reading
from deskdrill.tickets.models import Ticket

_CHECKS = select(Ticket.id, Ticket.sla_next_check).where(
    Ticket.drill_id == bindparam("drill"), Ticket.sla_next_check.is_not(None)
)


class NextChecks(PerDrill):
    key = "deskdrill.sla-checks"

    def earliest(self, drill_id: int, upto: datetime) -> datetime | None:
        """The drill's earliest check up to ``upto``, or None."""
        checks: Earliest[int] | None = self.drills.get(drill_id)
        if checks is None:
            flush_before_reading(self.session, ("tickets",))
            rows = self.session.connection().execute(_CHECKS, {"drill": drill_id})
            checks = self.drills[drill_id] = Earliest((row.id, row.sla_next_check) for row in rows)
        first = checks.first()
        return first[0] if first is not None and first[0] <= upto else None

    @classmethod
    def noted(
        cls, session: Session, drill_id: int, changes: Iterable[tuple[int, datetime | None]]
    ) -> None:
        """Tickets of the drill were written with these next checks (None: no check)."""
        kept = cls.of(session)
        checks: Earliest[int] | None = kept.drills.get(drill_id) if kept is not None else None
        if checks is not None:
            for ticket_id, when in changes:
                checks.set(ticket_id, when)
