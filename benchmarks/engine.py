"""(c) The SLA engine step with 10,000 to 1,000,000 open tickets in a running drill.

Target (from the issue): with 100,000 open tickets, catching up 1,000 due items takes
under 50 ms and an engine step with nothing due under 2 ms, on SQLite and PostgreSQL, and
both stay flat from 10,000 to 1,000,000 open tickets.

Nothing due: ``catch_up`` (the lazy path: an indexed read, no write) and ``step()`` in a
write unit of work, each timed ``repeat`` times after ``warmup`` calls. 1,000 due: the
whole catch-up as the server does it, ``catch_up`` called until it reports nothing fired
(``step`` takes at most ``BATCH`` = 1,000 tickets per call and unit of work), on a fresh due
set each round (see ``engine_data``): one warm-up round, ``rounds`` timed ones, then one
round for the statement anatomy and one for the Python profile. Before each round the
SQLite write-ahead log is checkpointed, as the server's engine loop does after each of its
rounds; that time is reported apart (``checkpoint_before_ms``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from benchmarks import engine_anatomy, engine_load, plans
from benchmarks.engine_data import DRILL_ID, NOW, EngineShape
from benchmarks.engine_report import TARGET_DUE_MS, TARGET_IDLE_MS, fmt_ms, show_plans, show_table
from benchmarks.loaders import CACHE_DIR, engine_for
from benchmarks.pg import postgres
from benchmarks.report import REPO_ROOT, console, median, percentile, rule, write_results
from deskdrill.core.clock import Instant
from deskdrill.db.engine import begin_read, checkpoint, make_sessionmaker, unit_of_work
from deskdrill.sla.catch_up import catch_up
from deskdrill.sla.engine import BATCH, step
from deskdrill.tickets.models import Ticket

SIZES = (10_000, 100_000, 1_000_000)
MAX_ROUNDS = 25


@dataclass
class EngineOptions:
    backends: list[str]
    sizes: tuple[int, ...] = SIZES
    due: int = 1000
    rounds: int = 5
    repeat: int = 200
    warmup: int = 20
    rebuild: bool = False

    def shape(self, tickets: int) -> EngineShape:
        if not 1 <= self.rounds <= MAX_ROUNDS or self.due < 1:
            # Round s runs one simulated minute after round s - 1; a processed ticket's next
            # check is at least 30 minutes on (the P1 e-mail resolution warning).
            raise SystemExit(f"rounds must be 1 to {MAX_ROUNDS} and due at least 1")
        shape = EngineShape(tickets=tickets, due=self.due, sets=self.rounds + 3)
        if shape.due * shape.sets > tickets:
            raise SystemExit(
                f"{tickets:,} tickets cannot hold {shape.sets} due sets of {shape.due:,} "
                f"(warm-up, {self.rounds} rounds, anatomy, profile): use fewer rounds or more "
                "tickets"
            )
        return shape


def _timed(call: Callable[[], int], opts: EngineOptions) -> dict[str, Any]:
    for _ in range(opts.warmup):
        call()
    samples, fired = [], 0
    for _ in range(opts.repeat):
        start = time.perf_counter()
        fired += call()
        samples.append((time.perf_counter() - start) * 1000)
    med = median(samples)
    return {"median_ms": med, "p95_ms": percentile(samples, 95), "min_ms": min(samples),
            "max_ms": max(samples), "fired": fired, "repeat": opts.repeat,
            "target_ms": TARGET_IDLE_MS, "pass": med < TARGET_IDLE_MS and fired == 0}  # fmt: skip


def _idle(engine: Engine, factory: sessionmaker[Session], opts: EngineOptions) -> dict[str, Any]:
    """Nothing due (at ``NOW`` the first due set is still 10 s to 1 min away)."""

    def check() -> int:
        return catch_up(factory, DRILL_ID, NOW)

    def write_step() -> int:
        with unit_of_work(factory) as session:
            return step(session, DRILL_ID, Instant(sim=NOW, wall=NOW))

    result = {"catch_up": _timed(check, opts), "step": _timed(write_step, opts)}
    result["plans"] = {name: _plan(engine, call) for name, call in
                       (("anything due?", check), ("due batch", write_step))}  # fmt: skip
    return result


def _plan(engine: Engine, call: Callable[[], int]) -> dict[str, Any]:
    with plans.capture(engine) as cap:
        call()
    main = cap.main_query()
    plan = plans.explain(engine, main)
    text = "\n".join(plan)
    scan = "Seq Scan on tickets" in text or any(
        line.strip().startswith("SCAN tickets") for line in plan
    )
    uses = "ix_tickets_sla_next_check" in text
    return {"sql": plans.one_line(main.sql), "plan": plan, "uses_index": uses,
            "full_scan": scan, "ok": uses and not scan}  # fmt: skip


def _still_due(factory: sessionmaker[Session], at: datetime) -> int:
    with factory() as session:
        begin_read(session)
        query = select(func.count()).where(Ticket.drill_id == DRILL_ID, Ticket.sla_next_check <= at)
        count = session.scalar(query) or 0
        session.commit()
    return count


def _drain(factory: sessionmaker[Session], at: datetime, due: int) -> list[int]:
    """Catch up as the server does, until a call fires nothing: the firings per call."""
    calls: list[int] = []
    while not calls or (calls[-1] and len(calls) <= due // BATCH + 2):
        calls.append(catch_up(factory, DRILL_ID, at))
    return calls


def _round(
    engine: Engine, factory: sessionmaker[Session], shape: EngineShape, s: int
) -> dict[str, Any]:
    at = shape.wall(s)
    # The server's loop checkpoints SQLite's write-ahead log after each round, off the
    # path of the next one; so does this, timed on its own.
    start = time.perf_counter()
    checkpoint(engine)
    checkpoint_ms = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    calls = _drain(factory, at, shape.due)
    ms = (time.perf_counter() - start) * 1000
    left = _still_due(factory, at)
    return {"set": s, "ms": ms, "calls": calls, "fired": sum(calls), "left_due": left,
            "checkpoint_before_ms": checkpoint_ms,
            "valid": sum(calls) == shape.due and left == 0}  # fmt: skip


def _due(
    engine: Engine, factory: sessionmaker[Session], shape: EngineShape, opts: EngineOptions
) -> dict[str, Any]:
    warm = _round(engine, factory, shape, 0)
    rounds = [_round(engine, factory, shape, s) for s in range(1, opts.rounds + 1)]
    times = [r["ms"] for r in rounds]
    med = median(times)
    anat_set, prof_set = opts.rounds + 1, opts.rounds + 2
    checkpoint(engine)
    anat = engine_anatomy.statements(
        engine, lambda: _drain(factory, shape.wall(anat_set), shape.due)
    )
    checkpoint(engine)
    prof = engine_anatomy.profile(lambda: _drain(factory, shape.wall(prof_set), shape.due))
    valid = warm["valid"] and all(r["valid"] for r in rounds)
    if not valid:
        console.print("[red]  a round did not fire exactly the due items: see the JSON[/]")
    return {"median_ms": med, "max_ms": max(times), "min_ms": min(times), "warmup": warm,
            "rounds": rounds, "valid": valid, "target_ms": TARGET_DUE_MS,
            "pass": valid and med < TARGET_DUE_MS, "anatomy": anat.to_json(),
            "profile": prof}  # fmt: skip


def _population(factory: sessionmaker[Session]) -> dict[str, int]:
    count = select(func.count()).select_from(Ticket).where(Ticket.drill_id == DRILL_ID)
    with factory() as session:
        begin_read(session)
        active = session.scalar(count.where(Ticket.active.is_(True))) or 0
        due = session.scalar(count.where(Ticket.sla_next_check <= NOW)) or 0
    return {"open_tickets": active, "due_at_now": due}


def _bench(url: str, backend: str, shape: EngineShape, opts: EngineOptions) -> dict[str, Any]:
    engine_load.settle()
    engine = engine_for(url)
    try:
        factory = make_sessionmaker(engine)
        pop = _population(factory)
        console.print(
            f"  {backend}, {pop['open_tickets']:,} open tickets: timing nothing due "
            f"({opts.warmup} + {opts.repeat} calls each), then {opts.rounds} + 3 rounds of "
            f"{shape.due:,} due items"
        )
        idle = _idle(engine, factory, opts)
        due = _due(engine, factory, shape, opts)
        rounds = ", ".join(fmt_ms(r["ms"]) for r in due["rounds"])
        calls = "+".join(str(n) for n in due["rounds"][0]["calls"])
        console.print(
            f"    none due: catch_up {fmt_ms(idle['catch_up']['median_ms'])} ms, step "
            f"{fmt_ms(idle['step']['median_ms'])} ms; {shape.due:,} due: {rounds} ms "
            f"(warm-up {fmt_ms(due['warmup']['ms'])} ms), catch_up calls firing {calls}"
        )
    finally:
        engine.dispose()
    return {"population": pop, "idle": idle, "due": due}


def _one_size(backend: str, tickets: int, opts: EngineOptions) -> dict[str, Any]:
    shape = opts.shape(tickets)
    if backend == "sqlite":
        work = CACHE_DIR / f"engine-work-{tickets}.db"
        url, load = engine_load.sqlite_dataset(shape, work, rebuild=opts.rebuild)
        try:
            return {"load": load, **_bench(url, backend, shape, opts)}
        finally:
            engine_load.remove_sqlite(work)
    with postgres() as server:
        url = server.create_database("bench_engine")
        load = engine_load.postgres_dataset(url, shape)
        return {"load": load, **_bench(url, backend, shape, opts)}


def run_engine(opts: EngineOptions) -> dict[str, Any]:
    sizes = ", ".join(f"{n:,}" for n in opts.sizes)
    rule(f"SLA engine step with {sizes} open tickets")
    report: dict[str, Any] = {"options": {**opts.__dict__, "batch": BATCH}, "backends": {}}
    for backend in opts.backends:
        results = report["backends"][backend] = {}
        for tickets in opts.sizes:
            results[str(tickets)] = _one_size(backend, tickets, opts)
        largest = results[str(max(opts.sizes))]
        show_plans(backend, max(opts.sizes), largest["idle"]["plans"])
        engine_anatomy.show(
            f"{backend}, {max(opts.sizes):,} open tickets",
            opts.due,
            largest["due"]["anatomy"],
            largest["due"]["profile"],
        )
    report["flatness"] = show_table(report["backends"], opts)
    path = write_results("engine", report)
    console.print(f"results: {path.relative_to(REPO_ROOT)}")
    return report
