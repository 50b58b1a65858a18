"""The scenario engine step: make the scheduled events of a drill happen, in time order.

Each scheduled event is taken once (its row is locked and marked done in the same
transaction as what it did), at its own simulated moment. Events of a drill whose clock
has not started, or has finished, wait.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from deskdrill.core.clock import Instant
from deskdrill.db import savepoints, ties
from deskdrill.db.base import UTCDateTime
from deskdrill.db.deferred import Deferred
from deskdrill.db.savepoints import flush_before_reading
from deskdrill.drills.models import Drill
from deskdrill.simulation.agenda import LIVE, Agenda, Happening
from deskdrill.simulation.models import ScenarioTicket, ScheduledEvent
from deskdrill.simulation.world import HANDLERS, World, scenario_of
from deskdrill.tickets.models import Ticket
from deskdrill.tickets.recording import StaleTicket

log = logging.getLogger("deskdrill.scenario")
BATCH = 200
# An event that meets a ticket someone changed since this transaction read it (a trainee
# acting meanwhile, on PostgreSQL) is worked again, with the tickets read afresh. The
# change shows as a refused version (StaleDataError), or, when the other's change added
# to the trail first, as the trail's next number taken (IntegrityError): a mistake in
# the scenario that is refused the same way fails again, and is recorded as before.
ATTEMPTS = 3
_CONCURRENT = (StaleDataError, IntegrityError)


# Built once (a statement per call costs more to build than to run).
# The first pending moment as the pending index's first entry (ORDER BY ... LIMIT 1), the
# drill's state a condition of its own: as min() over a join with drills, PostgreSQL read
# every pending event up to the moment (2 ms with a thousand pending, more after a jump).
_LIVE_DRILL = (
    select(Drill.id).where(Drill.id == bindparam("drill"), Drill.clock_state.in_(LIVE)).exists()
)
_NEXT_DUE = (
    select(ScheduledEvent.due)
    .where(
        ScheduledEvent.drill_id == bindparam("drill"),
        ScheduledEvent.done_at.is_(None),
        ScheduledEvent.due <= bindparam("upto", type_=UTCDateTime()),
        _LIVE_DRILL,
    )
    .order_by(ScheduledEvent.due)
    .limit(1)
)


_DUE_EVENTS = (
    select(ScheduledEvent)
    .where(
        ScheduledEvent.drill_id == bindparam("drill"),
        ScheduledEvent.done_at.is_(None),
        ScheduledEvent.due <= bindparam("upto", type_=UTCDateTime()),
    )
    .order_by(ScheduledEvent.due, ScheduledEvent.id)
    .limit(BATCH)
    .with_for_update(skip_locked=True)
)


def next_due(session: Session, drill_id: int, upto: datetime) -> datetime | None:
    """The earliest pending moment up to ``upto`` (an indexed read, or the session's agenda
    when it keeps one), or None."""
    kept = Agenda.of(session)
    if kept is not None:
        return kept.next_due(drill_id, upto)
    Deferred.flush(session)  # done marks put off, if any, before the table is read
    # On the connection: a plain read needs none of the ORM's statement handling, which
    # costs more than the read itself.
    params = {"drill": drill_id, "upto": upto}
    flush_before_reading(session, ("scheduled_events", "drills"))
    return session.connection().execute(_NEXT_DUE, params).scalar()


def step(session: Session, drill_id: int, upto: Instant) -> int:
    """Make happen what is due up to ``upto.sim`` (at most BATCH); returns how many."""
    scenario = scenario_of(session, drill_id)
    if scenario is None:
        return 0
    kept = Agenda.of(session)
    if kept is not None:
        events = kept.pending(drill_id).take(upto.sim, BATCH)
    else:
        Deferred.flush(session)
        events = session.scalars(_DUE_EVENTS, {"drill": drill_id, "upto": upto.sim}).all()
    world = World(session, drill_id, scenario)
    for event in events:
        at = Instant(sim=event.due, wall=upto.wall)
        ticket_id = event.ticket_id  # an arrival sets it; undone with the rest if it fails
        for attempt in range(1, ATTEMPTS + 1):
            try:
                with savepoints.undoable(session):
                    outcome = HANDLERS[event.kind](world, event, at)
                break
            except Exception as error:  # one bad event must not stop the drill
                event.ticket_id = ticket_id
                if ties.lost(error):  # a deadlock with a trainee's action: see ``ties``
                    raise savepoints.Redo from error
                again = isinstance(error, _CONCURRENT) and attempt < ATTEMPTS
                stale = error.ticket_id if isinstance(error, StaleTicket) else None
                if again and _read_tickets_again(session, event, stale):
                    log.info("scenario event %s met a changed ticket: again", event.key)
                    continue
                log.exception("scenario event %s of drill %s failed", event.key, drill_id)
                outcome = f"error: {type(error).__name__}"
                break
        _mark_done(session, event, outcome[:32], upto.wall)
    return len(events)


def _read_tickets_again(session: Session, event: Happening, stale: int | None = None) -> bool:
    """Let go of the session's tickets, to be read afresh, and lock the event's own and
    the one found ``stale`` (if known) for the rest of the transaction, so that the next
    attempt meets them changed no more (a savepoint's rollback leaves a row that was only
    about to be written as it was read, stale version and all, and gives up the locks
    taken in it): whether that could be done (a lock refused leaves the event failed; a
    deadlock, the whole stretch worked again). The other tickets a bot's turn reads are
    locked as it writes them, one at a time like a trainee's action, where locking them
    all at once, in an order of its own, could deadlock with one."""
    for instance in list(session.identity_map.values()):
        if isinstance(instance, Ticket | ScenarioTicket):
            session.expire(instance)
    ids = sorted({i for i in (event.ticket_id, stale) if i is not None})
    if not ids:
        return True
    try:
        with session.begin_nested():
            locking = select(Ticket.id).where(Ticket.id.in_(ids)).order_by(Ticket.id)
            # FOR NO KEY UPDATE, the lock its own UPDATE takes: FOR UPDATE would also
            # stop others' inserts that refer to the ticket (a trail event, a message),
            # and a trainee's transaction holding one then deadlocked with it.
            session.execute(locking.with_for_update(key_share=True)).all()
    except SQLAlchemyError as error:
        if ties.lost(error):
            raise savepoints.Redo from error
        log.exception("locking the ticket to work an event again failed")
        return False
    return True


_DONE = (
    update(ScheduledEvent)
    .where(
        ScheduledEvent.drill_id == bindparam("drill"), ScheduledEvent.key == bindparam("event_key")
    )
    .values(
        done_at=bindparam("done_at", type_=UTCDateTime()),
        outcome=bindparam("outcome"),
        ticket_id=bindparam("ticket_id"),
    )
)


def _mark_done(session: Session, event: Happening, outcome: str, wall: datetime) -> None:
    """Mark ``event`` done, with the ticket it made, in one plain UPDATE (put off by a
    headless run, see ``agenda``), and a loaded row to match: a flush of its own per event
    cost more than the event's handling in a headless run."""
    params = {
        "drill": event.drill_id,
        "event_key": event.key,
        "done_at": wall,
        "outcome": outcome,
        "ticket_id": event.ticket_id,
    }
    Deferred.write(session, _DONE, params)
    Agenda.done(session, event)
    if isinstance(event, ScheduledEvent):
        set_committed_value(event, "outcome", outcome)
        set_committed_value(event, "done_at", wall)
        set_committed_value(event, "ticket_id", event.ticket_id)
