"""The pending events of a drill's schedule, kept in memory by a session that is the only
writer of that schedule (the headless runner's).

The runner asks for the next scheduled moment several times per simulated moment, and the
schedule changes at nearly every one of them (a reaction scheduled, an event done), so a
read kept until the table is written seldom lasts. Instead the writers note each change
here: ``added`` when a scheduling insert went in, ``done`` when an event is marked done;
the engine step takes its due events from here too. A drill's pending events are read
once, at the first question about it, and again after any rollback (see ``db.kept``).
A session that keeps no agenda reads the database as before.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from deskdrill.db.deferred import Deferred
from deskdrill.db.kept import Earliest, PerDrill, attach
from deskdrill.drills.models import Drill
from deskdrill.simulation.models import ScheduledEvent

LIVE = ("running", "paused")  # the clock states in which scheduled events happen
_PENDING = select(ScheduledEvent).where(
    ScheduledEvent.drill_id == bindparam("drill"), ScheduledEvent.done_at.is_(None)
)


class _Pending:
    """A drill's pending events by id, earliest first."""

    def __init__(self, events: list[ScheduledEvent]) -> None:
        self.events = {e.id: e for e in events}
        self.moments = Earliest((e.id, e.due) for e in events)

    def add(self, event: ScheduledEvent) -> None:
        self.events[event.id] = event
        self.moments.set(event.id, event.due)

    def done(self, event_id: int) -> None:
        self.events.pop(event_id, None)
        self.moments.set(event_id, None)

    def earliest(self) -> datetime | None:
        first = self.moments.first()
        return first[0] if first is not None else None

    def take(self, upto: datetime, limit: int) -> list[ScheduledEvent]:
        """The events due up to ``upto``, earliest first, at most ``limit``: no longer
        waited for, as the step that asks marks each one done."""
        taken: list[ScheduledEvent] = []
        while len(taken) < limit and (first := self.moments.first()) and first[0] <= upto:
            self.moments.set(first[1], None)
            taken.append(self.events[first[1]])
        return taken


class Agenda(PerDrill):
    """The pending events of each drill the session schedules."""

    key = "deskdrill.agenda"

    def pending(self, drill_id: int) -> _Pending:
        found: _Pending | None = self.drills.get(drill_id)
        if found is None:
            Deferred.flush(self.session)  # the done marks put off, first
            events = self.session.scalars(_PENDING, {"drill": drill_id}).all()
            found = self.drills[drill_id] = _Pending(list(events))
        return found

    def next_due(self, drill_id: int, upto: datetime) -> datetime | None:
        drill = self.session.get(Drill, drill_id)
        if drill is None or drill.clock_state not in LIVE:
            return None
        earliest = self.pending(drill_id).earliest()
        return earliest if earliest is not None and earliest <= upto else None

    @classmethod
    def added(cls, session: Session, event_id: int, values: dict[str, Any]) -> None:
        """A scheduled event was inserted with these values: kept as a loaded row."""
        agenda = cls.of(session)
        if agenda is None or values["drill_id"] not in agenda.drills:
            return
        # As a read would give it back: the moment in UTC, the payload through JSON.
        due = values["due"].astimezone(UTC)
        payload = json.loads(json.dumps(values["payload"]))
        event = ScheduledEvent(
            **{**values, "due": due, "payload": payload}, id=event_id, done_at=None, outcome=None
        )
        agenda.drills[values["drill_id"]].add(attach(session, event))

    @classmethod
    def done(cls, session: Session, event: ScheduledEvent) -> None:
        """A scheduled event was marked done."""
        agenda = cls.of(session)
        if agenda is not None and event.drill_id in agenda.drills:
            agenda.drills[event.drill_id].done(event.id)
