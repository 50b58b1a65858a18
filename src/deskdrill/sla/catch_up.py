"""Running the engine lazily, before a read, so that answers are always current.

Besides the SLA timers, a drill may have a schedule of its own (a scenario's arrivals
and reactions, registered in ``SCHEDULES``). Both are processed in simulated-time order:
each round first records the SLA firings up to the next scheduled moment, then makes the
events of that moment happen, so a trail never shows a later moment before an earlier
one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from deskdrill.core.clock import Instant
from deskdrill.core.errors import DomainError
from deskdrill.db import savepoints, ties
from deskdrill.db.base import UTCDateTime
from deskdrill.db.engine import unit_of_work
from deskdrill.db.kept import kept_loaded
from deskdrill.drills import clock
from deskdrill.sla import engine
from deskdrill.tickets import sole_writer
from deskdrill.tickets.models import Ticket
from deskdrill.tickets.next_checks import NextChecks


@dataclass(frozen=True)
class Schedule:
    """Another source of due work: its earliest pending moment up to a limit, and a step
    that processes what is due up to a moment (a batch at most; returns how many)."""

    next_due: Callable[[Session, int, datetime], datetime | None]
    step: Callable[[Session, int, Instant], int]


SCHEDULES: list[Schedule] = []
# A guard: a round that lets another follow has recorded something, so only a schedule
# that never ends would reach it (an 8-hour jump on the mixed shift takes some 12,000).
MAX_ROUNDS = 1_000_000
TRANSACTION_BUDGET = 1.0  # seconds of rounds in one transaction
# On PostgreSQL, where trainees write alongside: shorter, since the engine holds the rows
# of the tickets it changed (a trainee's action on one waits) until it commits.
SHARED_BUDGET = 0.2
TIES = 3  # stretches lost in a row to deadlocks before a catch-up gives up


_NEXT_SLA_CHECK = select(func.min(Ticket.sla_next_check)).where(
    Ticket.drill_id == bindparam("drill"),
    Ticket.sla_next_check <= bindparam("upto", type_=UTCDateTime()),
)


def next_sla_check(session: Session, drill_id: int, upto: datetime) -> datetime | None:
    """The earliest SLA check of the drill up to ``upto`` (the first entry of an index, or
    the session's own record when it keeps one)."""
    kept = NextChecks.of(session)
    if kept is not None:
        return kept.earliest(drill_id, upto)
    # On the connection: a plain read needs none of the ORM's statement handling.
    savepoints.flush_before_reading(session, ("tickets",))
    params = {"drill": drill_id, "upto": upto}
    return session.connection().execute(_NEXT_SLA_CHECK, params).scalar()


def _sla_due(session: Session, drill_id: int, at: datetime) -> bool:
    return next_sla_check(session, drill_id, at) is not None


def _pending(session: Session, drill_id: int, at: datetime) -> bool:
    return _sla_due(session, drill_id, at) or any(
        s.next_due(session, drill_id, at) is not None for s in SCHEDULES
    )


def is_due(session: Session, drill_id: int, wall: datetime) -> bool:
    """Whether anything has fallen due in the drill (the cheap read ``catch_up`` starts
    with), for callers that ask in a transaction of their own."""
    return _pending(session, drill_id, clock.instant(session, drill_id, wall).sim)


def catch_up(factory: sessionmaker[Session], drill_id: int, wall: datetime) -> int:
    """Fire what is due in the drill; a cheap indexed read when nothing is.

    On SQLite rounds share a transaction for up to TRANSACTION_BUDGET of wall time: after
    a long jump there are thousands, and one transaction each re-read the drill, its
    scenario and every ticket a round touched, which cost several times the rounds' own
    work. The budget bounds how long other writers wait for the lock. On PostgreSQL
    rounds share a transaction for up to SHARED_BUDGET: what a trainee changes meanwhile
    shows as a stale ticket, and the event is worked again (``simulation.engine.step``).
    """
    with turn(drill_id, None):
        return _catch_up(factory, drill_id, wall, None)[0]


def catch_up_within(
    factory: sessionmaker[Session],
    drill_id: int,
    wall: datetime,
    seconds: float,
    *,
    wait: float | None = None,
) -> bool:
    """Catch up for about ``seconds`` (one stretch at least), waiting for another catch-up
    of the drill in this process no longer than ``wait`` (by default, ``seconds``):
    whether the drill is caught up.

    For pages, which must not hang on the hours of work a long clock jump leaves (the
    engine loop, and the next page, go on from where this stopped).
    """
    until = time.perf_counter() + seconds
    with turn(drill_id, seconds if wait is None else wait) as mine:
        if not mine:
            return False
        return not _catch_up(factory, drill_id, wall, until)[1]


# One catch-up of a drill at a time per process: the others would only queue for its
# rows (or SQLite's write lock) and then find nothing left to do.
_TURNS: dict[int, threading.Lock] = {}
_TURNS_GUARD = threading.Lock()


@contextmanager
def turn(drill_id: int, wait: float | None) -> Iterator[bool]:
    """The drill's turn to catch up in this process (waiting ``wait`` seconds at most, or
    as long as it takes): whether it was had."""
    with _TURNS_GUARD:
        lock = _TURNS.setdefault(drill_id, threading.Lock())
    mine = lock.acquire() if wait is None else lock.acquire(timeout=max(wait, 0.0))
    try:
        yield mine
    finally:
        if mine:
            lock.release()


def _catch_up(
    factory: sessionmaker[Session], drill_id: int, wall: datetime, until: float | None
) -> tuple[int, bool]:
    """Rounds until nothing is due or the wall clock passes ``until`` (perf_counter):
    how many things happened, and whether more is due."""
    # The moment to catch up to, read once: a clock operated meanwhile (a pause, a jump)
    # is the next call's to follow, and a finished drill's events wait (see next_due).
    with unit_of_work(factory, read_only=True) as session:
        now = clock.instant(session, drill_id, wall)
        more = _pending(session, drill_id, now.sim)
    fired = rounds = 0
    while more and rounds < MAX_ROUNDS:
        most = MAX_ROUNDS - rounds
        try:
            done, more = _stretch(factory, drill_id, now, most, until, optimistic=True)
        except savepoints.Redo:  # something was refused: again, with a savepoint each
            done, more = _stretch_carefully(factory, drill_id, now, most, until)
        fired += done[0]
        rounds += done[1]
        if until is not None and time.perf_counter() >= until:
            break  # after a stretch at least: each try makes progress
    if more and until is not None:
        # A round that recorded something says more may be due; the last before the time
        # ran out may have left nothing, and a caller would be told to wait for nothing.
        with unit_of_work(factory, read_only=True) as session:
            more = _pending(session, drill_id, now.sim)
    return fired, more


def behind(session: Session, drill_id: int, wall: datetime) -> datetime | None:
    """The earliest simulated moment still waiting to be processed, if any: what a drill
    that is catching up has recorded everything before."""
    upto = clock.instant(session, drill_id, wall).sim
    found = [next_sla_check(session, drill_id, upto)]
    found += [s.next_due(session, drill_id, upto) for s in SCHEDULES]
    return min((m for m in found if m is not None), default=None)


def _stretch(
    factory: sessionmaker[Session],
    drill_id: int,
    now: Instant,
    most: int,
    deadline: float | None,
    *,
    optimistic: bool,
) -> tuple[tuple[int, int], bool]:
    """Rounds in one transaction, for up to TRANSACTION_BUDGET (and not past ``deadline``)
    and at most ``most``: (how many things happened, how many rounds), and whether more
    is due."""
    try:
        return _rounds(factory, drill_id, now, most, deadline, optimistic=optimistic)
    except DBAPIError as error:  # a tie lost outside an event (the SLA step, the commit)
        if ties.lost(error):
            raise savepoints.Redo from error
        raise


def _rounds(
    factory: sessionmaker[Session],
    drill_id: int,
    now: Instant,
    most: int,
    deadline: float | None,
    *,
    optimistic: bool,
) -> tuple[tuple[int, int], bool]:
    fired = rounds = 0
    more = True
    with unit_of_work(factory) as session, kept_loaded(session):
        # On PostgreSQL others commit alongside: a ticket this session holds from one round
        # may be stale in the next. Its version is refused then (``RowLocks``, the UPDATE)
        # and the event worked again on the ticket read afresh.
        alone = session.connection().dialect.name == "sqlite"
        until = time.perf_counter() + (TRANSACTION_BUDGET if alone else SHARED_BUDGET)
        if deadline is not None:
            until = min(until, deadline)
        with _kept(session, alone=alone, optimistic=optimistic):
            while more and rounds < most:
                recorded, more = one_round(session, drill_id, now)
                fired += recorded
                rounds += 1
                if time.perf_counter() > until:
                    break
    return (fired, rounds), more


class KeptTying(DomainError):
    """A catch-up that lost TIES stretches in a row to deadlocks with other writers: what
    it did is undone, and the next read or the engine loop goes on from there."""

    status = 503
    code = "catching_up"


def _stretch_carefully(
    factory: sessionmaker[Session], drill_id: int, now: Instant, most: int, deadline: float | None
) -> tuple[tuple[int, int], bool]:
    """A stretch with a savepoint per action. One that lost a tie with another writer
    (``db.ties``: a deadlock with a trainee's action, met in an event's handler, in the
    SLA step or at the commit) is rolled back, which lets the other go on, and worked
    again, up to TIES times."""
    lost = 0
    while True:
        try:
            return _stretch(factory, drill_id, now, most, deadline, optimistic=False)
        except savepoints.Redo as error:
            lost += 1
            if lost >= TIES:
                raise KeptTying(
                    "the drill's engine met other changes at the same moment again and "
                    "again; try again in a moment"
                ) from error


@contextmanager
def _kept(session: Session, *, alone: bool, optimistic: bool) -> Iterator[None]:
    """Work the stretch as the headless runner does where that is safe. If ``optimistic``,
    without a savepoint per action (see ``db.savepoints``): a refusal redoes the stretch
    with them. And if ``alone`` (SQLite, where the transaction holds the write lock from
    its first statement, BEGIN IMMEDIATE, to its commit, and so is the only writer
    meanwhile), keeping in memory what it writes; on PostgreSQL others write alongside,
    and every read goes to the database."""
    with ExitStack() as stack:
        if alone:
            stack.enter_context(sole_writer.keeping(session, session.connection()))
        if optimistic:
            stack.enter_context(savepoints.optimistic(session))
        yield


def one_round(session: Session, drill_id: int, now: Instant) -> tuple[int, bool]:
    """SLA firings up to the next scheduled moment (at most a batch), then that moment's
    scheduled events: how many things happened, and whether more is due up to ``now``.

    Nothing more is due when the SLA step took less than a batch and no schedule had
    anything, or had only rows another server process holds locked (that process's to
    finish); "more" may also mean that only the next round's reads find nothing.
    """
    found = [(m, s) for s in SCHEDULES if (m := s.next_due(session, drill_id, now.sim))]
    moment, schedule = min(found, key=lambda f: f[0]) if found else (None, None)
    upto = Instant(sim=moment, wall=now.wall) if moment is not None else now
    savepoints.settle(session)  # what the step reads must include this transaction's changes
    if _sla_due(session, drill_id, upto.sim):
        recorded, full = engine.batch(session, drill_id, upto)
    else:
        recorded, full = 0, False
    if full:
        return recorded, True  # more SLA work before this moment: another round first
    if schedule is None:
        return recorded, False
    recorded += schedule.step(session, drill_id, upto)
    # Nothing happened although something was due: another process holds it. Else the
    # next round's own reads tell whether more is due (asking here too was a fifth of a
    # PostgreSQL catch-up's statements, where each round is a transaction).
    return recorded, recorded > 0


def drain(session: Session, drill_id: int, now: Instant) -> int:
    """Everything due up to ``now``, in this transaction (the headless runner's way)."""
    fired, more = 0, True
    for _ in range(MAX_ROUNDS):
        if not more:
            break
        recorded, more = one_round(session, drill_id, now)
        fired += recorded
    return fired
