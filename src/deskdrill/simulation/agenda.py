"""The pending moments of a drill's schedule, kept in memory by a session that is the only
writer of that schedule (the headless runner's).

The runner asks for the next scheduled moment several times per simulated moment, and the
schedule changes at nearly every one of them (a reaction scheduled, an event done), so a
read kept until the table is written seldom lasts. Instead the writers note each change
here: ``added`` when a scheduling insert went in, ``done`` when an event is marked done.
A drill's moments are read once, at the first question about it, and again after any
rollback, which may have undone changes noted here.

A session that keeps no agenda reads the database as before.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import bindparam, event, select
from sqlalchemy.orm import Session

from deskdrill.drills.models import Drill
from deskdrill.simulation.models import ScheduledEvent

_KEY = "deskdrill.agenda"
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


class Agenda:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.drills: dict[int, _Moments] = {}
        event.listen(session, "after_soft_rollback", self._forget)

    def close(self) -> None:
        event.remove(self.session, "after_soft_rollback", self._forget)

    def _forget(self, *_args: object) -> None:
        self.drills.clear()

    def moments(self, drill_id: int) -> _Moments:
        found = self.drills.get(drill_id)
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


@contextmanager
def keeping(session: Session) -> Iterator[Agenda]:
    """Keep the agenda of every drill ``session`` schedules, while the block runs."""
    if _KEY in session.info:
        raise RuntimeError("this session already keeps an agenda")
    agenda = session.info[_KEY] = Agenda(session)
    try:
        yield agenda
    finally:
        del session.info[_KEY]
        agenda.close()


def kept(session: Session) -> Agenda | None:
    return session.info.get(_KEY)


def added(session: Session, drill_id: int, due: datetime) -> None:
    """A scheduled event was inserted."""
    agenda = kept(session)
    if agenda is not None and drill_id in agenda.drills:
        agenda.drills[drill_id].add(due)


def done(session: Session, drill_id: int, due: datetime) -> None:
    """A scheduled event was marked done."""
    agenda = kept(session)
    if agenda is not None and drill_id in agenda.drills:
        agenda.drills[drill_id].remove(due)
