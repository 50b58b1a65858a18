"""A live drill of the 8-hour mixed shift catching up after its clock jumps to the end.

A trainer who jumps a drill's clock forward leaves the engine to make everything in
between happen (arrivals, customers chasing, SLA warnings and breaches, the built-in bots'
turns) before the next read answers. The figure is the simulated speed of that catch-up;
the baseline is the fastest clock a drill may run at (``MAX_SPEED``): an engine slower
than that falls behind a drill running at full speed, and a jump blocks reads for longer
than the time it skips would take at that speed.

The roster is one L2 trainee, who does nothing: an L1 bot takes the arrivals (and
escalates to the trainee), and the queue grows as it would for a desk that stopped.
"""

from __future__ import annotations

import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select

from benchmarks.pg import postgres
from benchmarks.report import console
from deskdrill.accounts.enums import Role, Tier
from deskdrill.accounts.models import User
from deskdrill.core.clock import MAX_SPEED, utc_now
from deskdrill.db import migrate
from deskdrill.db.engine import make_engine, make_sessionmaker, unit_of_work
from deskdrill.drills import clock
from deskdrill.scenarios.load import read
from deskdrill.settings import Settings
from deskdrill.simulation import hooks, setup
from deskdrill.sla import deadlines
from deskdrill.sla.catch_up import catch_up, is_due
from deskdrill.tickets.models import Ticket, TicketEvent

JUMP = timedelta(hours=8)


def measure(shift: Path, backend: str = "sqlite") -> dict[str, Any]:
    """Create the drill, jump its clock 8 hours, and time the catch-up (``backend``:
    sqlite, or postgresql on a throwaway server)."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="deskdrill-bench-") as scratch:
            return _measure(shift, f"sqlite:///{Path(scratch) / 'live.db'}", backend)
    with postgres() as server:
        return _measure(shift, server.create_database("bench_catch_up"), backend)


def _measure(shift: Path, url: str, backend: str) -> dict[str, Any]:
    deadlines.install()
    hooks.install()
    scenario = read(shift)
    migrate.upgrade(url)
    settings = Settings(env="test", database_url=url, secret_key="bench-" + "0" * 26)
    engine = make_engine(settings)
    factory = make_sessionmaker(engine)
    try:
        wall = utc_now()
        with unit_of_work(factory) as session:
            person = User(
                username="trainee-l2",
                display_name="trainee-l2",
                role=Role.trainee,
                tier=Tier.L2,
                password_hash="!",
                created_at=wall,
            )
            session.add(person)
            session.flush()
            drill = setup.create(
                session=session,
                scenario=scenario,
                digest=setup.source_digest(shift.read_bytes()),
                name="live-shift",
                roster=[setup.Seat(person.username, Tier.L2)],
                creator=None,  # run by nobody: the roster is enough here
                now=wall,
            )
            clock.start(drill, wall)
            clock.pause(drill, wall)
            clock.jump(drill, wall, JUMP)
            drill_id = drill.id
        sent = [0]

        def count(*_args: Any) -> None:
            sent[0] += 1

        event.listen(engine, "before_cursor_execute", count)
        began = time.perf_counter()
        now = utc_now()  # the clock is paused: every call catches up to the same moment
        fired = calls = 0
        while True:  # a call stops after MAX_ROUNDS; the next read goes on from there
            fired += catch_up(factory, drill_id, now)
            calls += 1
            with unit_of_work(factory, read_only=True) as session:
                if not is_due(session, drill_id, now):
                    break
        took = time.perf_counter() - began
        event.remove(engine, "before_cursor_execute", count)
        with unit_of_work(factory, read_only=True) as session:
            tickets = session.scalar(
                select(func.count()).select_from(Ticket).where(Ticket.drill_id == drill_id)
            )
            events = session.scalar(
                select(func.count())
                .select_from(TicketEvent)
                .join(Ticket, Ticket.id == TicketEvent.ticket_id)
                .where(Ticket.drill_id == drill_id)
            )
    finally:
        engine.dispose()
    speed = JUMP.total_seconds() / took
    return {
        "backend": backend,
        "jump_seconds": JUMP.total_seconds(),
        "wall_seconds": took,
        "fired": fired,
        "calls": calls,
        "tickets": tickets or 0,
        "events": events or 0,
        "statements": sent[0],
        "sim_to_wall": speed,
        "ratio_to_max_speed": speed / float(MAX_SPEED),
        "pass": speed >= float(MAX_SPEED),
    }


def show(found: dict[str, Any]) -> None:
    console.print(
        f"    {found['backend']}: 8-hour jump caught up in {found['wall_seconds']:.1f} s wall: "
        f"{found['tickets']:,} tickets, {found['events']:,} trail events, "
        f"{found['statements']:,} statements; "
        f"{found['sim_to_wall']:.0f}x simulated speed "
        f"({found['ratio_to_max_speed']:.1f}x the fastest clock, {MAX_SPEED}x)"
    )
