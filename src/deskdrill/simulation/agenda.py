"""The pending events of a drill's schedule, kept in memory by a session that is the only
writer of that schedule (the headless runner's).

The runner asks for the next scheduled moment several times per simulated moment, and the
schedule changes at nearly every one of them (a reaction scheduled, an event done), so a
read kept until the table is written seldom lasts. Instead the schedule goes through the
agenda: ``schedule`` notes a new event (a key already scheduled is a no-op, as the table's
unique key makes it) and writes its row through ``db.deferred``, so that a session that
puts writes off sends a commit's worth in one statement; the engine step takes its due
events from here and marks each one done, put off too. A drill's events are read once,
at the first question about it, and again after any rollback (see ``db.kept``). A session
that keeps no agenda reads and writes the table as before.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

from deskdrill.db.deferred import Deferred
from deskdrill.db.kept import Earliest, PerDrill, held
from deskdrill.db.savepoints import flush_before_reading
from deskdrill.drills.models import Drill
from deskdrill.simulation.models import ScheduledEvent

LIVE = ("running", "paused")  # the clock states in which scheduled events happen
_COLUMNS = (
    ScheduledEvent.id,
    ScheduledEvent.drill_id,
    ScheduledEvent.key,
    ScheduledEvent.due,
    ScheduledEvent.kind,
    ScheduledEvent.ticket_id,
    ScheduledEvent.payload,
)
_PENDING = select(*_COLUMNS).where(
    ScheduledEvent.drill_id == bindparam("drill"), ScheduledEvent.done_at.is_(None)
)
_KEYS = select(ScheduledEvent.id, ScheduledEvent.key).where(
    ScheduledEvent.drill_id == bindparam("drill")
)
_INSERT = insert(ScheduledEvent)


@dataclass(slots=True)
class Planned:
    """A scheduled event as an agenda holds it: a plain record, not a loaded row, so that
    both its insert and its done mark can be put off. ``id`` orders a drill's events that
    fall due at the same moment: the row's id, or for one not yet written a number after
    all of them, in the order written (the order of the ids the rows will get)."""

    id: int
    drill_id: int
    key: str
    due: datetime
    kind: str
    ticket_id: int | None
    payload: dict[str, Any]


# What a handler is given: a loaded row, or what an agenda keeps of one.
Happening = ScheduledEvent | Planned


class _Pending:
    """A drill's pending events by id, earliest first, and every key it has scheduled."""

    def __init__(self, events: list[Planned], keys: set[str], last_id: int) -> None:
        self.events = {e.id: e for e in events}
        self.ids = {e.key: e.id for e in events}
        self.moments = Earliest((e.id, e.due) for e in events)
        self.keys = keys
        self.last_id = last_id

    def add(self, event: Planned) -> None:
        self.events[event.id] = event
        self.ids[event.key] = event.id
        self.moments.set(event.id, event.due)

    def done(self, key: str) -> None:
        """By key: an event taken before a rollback carries the number it had then, which
        the events read again after it may give another."""
        event_id = self.ids.pop(key, None)
        if event_id is not None:
            self.events.pop(event_id, None)
            self.moments.set(event_id, None)

    def earliest(self) -> datetime | None:
        first = self.moments.first()
        return first[0] if first is not None else None

    def take(self, upto: datetime, limit: int) -> list[Planned]:
        """The events due up to ``upto``, earliest first, at most ``limit``: no longer
        waited for, as the step that asks marks each one done."""
        taken: list[Planned] = []
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
            Deferred.flush(self.session)  # the rows and done marks put off, first
            flush_before_reading(self.session, ("scheduled_events",))
            connection = self.session.connection()
            params = {"drill": drill_id}
            ids = dict(connection.execute(_KEYS, params).all())
            events = [Planned(*row) for row in connection.execute(_PENDING, params)]
            found = _Pending(events, set(ids.values()), max(ids, default=0))
            self.drills[drill_id] = found
        return found

    def next_due(self, drill_id: int, upto: datetime) -> datetime | None:
        drill = held(self.session, Drill, drill_id)
        if drill is None or drill.clock_state not in LIVE:
            return None
        earliest = self.pending(drill_id).earliest()
        return earliest if earliest is not None and earliest <= upto else None

    def schedule(self, values: dict[str, Any]) -> None:
        """Schedule an event with these column values, unless its key was scheduled."""
        pending = self.pending(values["drill_id"])
        if values["key"] in pending.keys:
            return
        pending.keys.add(values["key"])
        Deferred.write(self.session, _INSERT, values)
        pending.last_id += 1
        # As a read would give it back: the moment in UTC, the payload through JSON.
        pending.add(
            Planned(
                id=pending.last_id,
                drill_id=values["drill_id"],
                key=values["key"],
                due=values["due"].astimezone(UTC),
                kind=values["kind"],
                ticket_id=values["ticket_id"],
                payload=json.loads(json.dumps(values["payload"])),
            )
        )

    @classmethod
    def done(cls, session: Session, event: Happening) -> None:
        """A scheduled event was marked done."""
        agenda = cls.of(session)
        if agenda is not None and event.drill_id in agenda.drills:
            agenda.drills[event.drill_id].done(event.key)
