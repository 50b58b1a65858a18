"""The pending moments of a drill's schedule, kept in memory by a session that is the only
writer of that schedule (the headless runner's).

The runner asks for the next scheduled moment several times per simulated moment, and the
schedule changes at nearly every one of them (a reaction scheduled, an event done), so a
read kept until the table is written seldom lasts. Instead the writers note each change
here: ``added`` when a scheduling insert went in, ``done`` when an event is marked done.
A drill's moments are read once, at the first question about it, and again after any
rollback (see ``db.kept``). A session that keeps no agenda reads the database as before.
"""

from __future__ import annotations

import heapq
from collections import Counter
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from deskdrill.db.kept import PerDrill
from deskdrill.drills.models import Drill
from deskdrill.simulation.models import ScheduledEvent

LIVE = ("running", "paused")  # the clock states in which scheduled events happen
_PENDING = select(ScheduledEvent.due).where(
    ScheduledEvent.drill_id == bindparam("drill"), ScheduledEvent.done_at.is_(None)
)


class _Moments:
    """A drill's pending moments: a heap, and how many events wait at each moment (a
    moment no longer waited for leaves the heap when it reaches the top)."""

    def __init__(self, dues: list[datetime]) -> None:
        self.waiting = Counter(dues)
        self.heap = list(self.waiting)
        heapq.heapify(self.heap)

    def add(self, due: datetime) -> None:
        if not self.waiting[due]:
            heapq.heappush(self.heap, due)
        self.waiting[due] += 1

    def remove(self, due: datetime) -> None:
        self.waiting[due] -= 1

    def earliest(self) -> datetime | None:
        while self.heap and self.waiting[self.heap[0]] <= 0:
            del self.waiting[heapq.heappop(self.heap)]
        return self.heap[0] if self.heap else None


class Agenda(PerDrill):
    """The pending moments of each drill the session schedules."""

    key = "deskdrill.agenda"

    def moments(self, drill_id: int) -> _Moments:
        found: _Moments | None = self.drills.get(drill_id)
        if found is None:
            rows = self.session.connection().execute(_PENDING, {"drill": drill_id})
            found = self.drills[drill_id] = _Moments(list(rows.scalars()))
        return found

    def next_due(self, drill_id: int, upto: datetime) -> datetime | None:
        drill = self.session.get(Drill, drill_id)
        if drill is None or drill.clock_state not in LIVE:
            return None
        earliest = self.moments(drill_id).earliest()
        return earliest if earliest is not None and earliest <= upto else None

    @classmethod
    def added(cls, session: Session, drill_id: int, due: datetime) -> None:
        """A scheduled event was inserted."""
        agenda = cls.of(session)
        if agenda is not None and drill_id in agenda.drills:
            agenda.drills[drill_id].add(due)

    @classmethod
    def done(cls, session: Session, drill_id: int, due: datetime) -> None:
        """A scheduled event was marked done."""
        agenda = cls.of(session)
        if agenda is not None and drill_id in agenda.drills:
            agenda.drills[drill_id].remove(due)
