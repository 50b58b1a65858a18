"""(b) Queue queries at the database layer: ``queries.queue`` over a million tickets."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.table import Table
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from benchmarks import dataset, plans
from benchmarks.loaders import engine_for, load_postgres, sqlite_dataset
from benchmarks.pg import postgres
from benchmarks.report import REPO_ROOT, console, median, percentile, rule, verdict, write_results
from deskdrill.accounts.models import User
from deskdrill.db.engine import begin_read, make_sessionmaker
from deskdrill.tickets.models import Ticket
from deskdrill.tickets.queries import queue
from deskdrill.tickets.schemas import QueuePage

TARGET_MS = 20.0
LIMIT = 50
VIEWS = ("mine", "unassigned")
BREAKDOWN_CALLS = 30


@dataclass
class QueueOptions:
    backends: list[str]
    tickets: int = 1_000_000
    mine: int = 1000
    repeat: int = 200
    warmup: int = 20
    rebuild: bool = False


@dataclass
class Case:
    view: str
    page: int
    cursor: str | None

    @property
    def name(self) -> str:
        return f"{self.view} p{self.page}"


def _call(factory: sessionmaker[Session], user: User, case: Case) -> QueuePage:
    """One queue request's database work, as GET /drills/{id}/tickets does it."""
    with factory() as session:
        begin_read(session)
        page = queue(session=session, user=user, drill_id=dataset.MEASURED_DRILL_ID,
                     view=case.view, limit=LIMIT, cursor=case.cursor)  # fmt: skip
        session.commit()
    return page


def _cases(call: Callable[[Case], QueuePage]) -> list[Case]:
    cases = []
    for view in VIEWS:
        first = Case(view, 1, None)
        cursor = call(first).next_cursor
        cases += [first, Case(view, 2, cursor)] if cursor else [first]
    return cases


def _time(call: Callable[[Case], QueuePage], case: Case, opts: QueueOptions) -> dict[str, Any]:
    for _ in range(opts.warmup):
        call(case)
    samples = []
    for _ in range(opts.repeat):
        start = time.perf_counter()
        page = call(case)
        samples.append((time.perf_counter() - start) * 1000)
    med = median(samples)
    return {"median_ms": med, "p95_ms": percentile(samples, 95), "min_ms": min(samples),
            "max_ms": max(samples), "items": len(page.items), "next_cursor": bool(page.next_cursor),
            "repeat": opts.repeat, "target_ms": TARGET_MS, "pass": med < TARGET_MS}  # fmt: skip


def _breakdown(engine: Engine, call: Callable[[Case], QueuePage], case: Case) -> dict[str, float]:
    """Median milliseconds per kind of statement per call, and the rest (Python, ORM, pydantic)."""
    per_label: dict[str, list[float]] = defaultdict(list)
    rest: list[float] = []
    for _ in range(BREAKDOWN_CALLS):
        with plans.capture(engine) as cap:
            start = time.perf_counter()
            call(case)
            total = time.perf_counter() - start
        sums: dict[str, float] = defaultdict(float)
        for stmt in cap.statements:
            sums[plans.label(stmt.sql)] += stmt.seconds
        for name, seconds in sums.items():
            per_label[name].append(seconds * 1000)
        rest.append((total - sum(sums.values())) * 1000)
    result = {name: median(values) for name, values in per_label.items()}
    result["rest: python"] = median(rest)
    return result


def _population(factory: sessionmaker[Session]) -> dict[str, int]:
    d, me = dataset.MEASURED_DRILL_ID, dataset.MEASURED_USER_ID
    count = select(func.count()).select_from(Ticket)
    with factory() as session:
        begin_read(session)
        return {
            "tickets": session.scalar(count) or 0,
            "drill_tickets": session.scalar(count.where(Ticket.drill_id == d)) or 0,
            "unassigned_active": session.scalar(count.where(
                Ticket.drill_id == d, Ticket.active.is_(True), Ticket.assignee_id.is_(None)
            )) or 0,
            "mine_active": session.scalar(count.where(
                Ticket.drill_id == d, Ticket.active.is_(True), Ticket.assignee_id == me
            )) or 0,
        }  # fmt: skip


def _bench(url: str, backend: str, opts: QueueOptions) -> dict[str, Any]:
    engine = engine_for(url)
    try:
        factory = make_sessionmaker(engine)
        with factory() as session:
            user = session.get_one(User, dataset.MEASURED_USER_ID)
        pop = _population(factory)
        console.print(
            f"{backend}: {pop['tickets']:,} tickets; measured drill {pop['drill_tickets']:,}, "
            f"{pop['unassigned_active']:,} active unassigned, {pop['mine_active']:,} active "
            f"assigned to {user.username}"
        )

        def call(case: Case) -> QueuePage:
            return _call(factory, user, case)

        cases = _cases(call)
        timings, breakdowns, plan_out = {}, {}, {}
        for case in cases:
            console.print(f"  timing {case.name}: {opts.warmup} warm-up + {opts.repeat} calls")
            timings[case.name] = _time(call, case, opts)
            breakdowns[case.name] = _breakdown(engine, call, case)
            with plans.capture(engine) as cap:
                call(case)
            main = cap.main_query()
            plan = plans.explain(engine, main)
            checked = plans.check(plan, engine.dialect.name)
            plan_out[case.name] = {"sql": plans.one_line(main.sql), "params": repr(main.params),
                                   "plan": plan, **checked.__dict__, "ok": checked.ok}  # fmt: skip
    finally:
        engine.dispose()
    _print(backend, timings, breakdowns, plan_out)
    return {"population": pop, "timings": timings, "breakdown_ms": breakdowns, "plans": plan_out}


def _print(
    backend: str,
    timings: dict[str, dict[str, Any]],
    breakdowns: dict[str, dict[str, float]],
    plan_out: dict[str, dict[str, Any]],
) -> None:
    table = Table(title=f"queue queries at the database layer ({backend}), limit {LIMIT}")
    for col in ("query", "median ms", "p95 ms", "min ms", "max ms", "items", "target", "result"):
        table.add_column(col, justify="left" if col == "query" else "right")
    for name, t in timings.items():
        table.add_row(name, f"{t['median_ms']:.2f}", f"{t['p95_ms']:.2f}", f"{t['min_ms']:.2f}",
                      f"{t['max_ms']:.2f}", str(t["items"]), f"< {TARGET_MS:.0f} ms",
                      verdict(t["pass"]))  # fmt: skip
    console.print(table)
    labels = sorted({k for b in breakdowns.values() for k in b}, key=_label_order)
    parts = Table(
        title=f"where one call's time goes ({backend}): median ms per call",
        caption="SQL columns: time inside cursor.execute. rest: Python (SQLAlchemy ORM, "
        "pydantic) and fetching rows (SQLite computes rows after the first while fetching).",
    )
    parts.add_column("query")
    for name in labels:
        parts.add_column(name, justify="right")
    for name, b in breakdowns.items():
        parts.add_row(name, *(f"{b.get(k, 0.0):.2f}" for k in labels))
    console.print(parts)
    for name, p in plan_out.items():
        kind = "EXPLAIN QUERY PLAN" if backend == "sqlite" else "EXPLAIN (ANALYZE, BUFFERS)"
        console.print(f"[bold]{name}[/] main query, {kind}:")
        console.print(f"  [dim]{p['sql']}[/]", soft_wrap=True)
        console.print(f"  [dim]params: {p['params']}[/]", soft_wrap=True)
        for line in p["plan"]:
            console.print(f"    {line}", soft_wrap=True)
        console.print(
            f"  queue index used: {_yes(p['uses_queue_index'])}; full scan: "
            f"{_yes(p['full_scan'], good=False)}; sort over the matching rows: "
            f"{_yes(p['sorts'], good=False)} -> plan {verdict(p['ok'])}"
        )


def _yes(value: bool, *, good: bool = True) -> str:
    colour = "green" if value == good else "red"
    return f"[{colour}]{'yes' if value else 'no'}[/]"


def _label_order(name: str) -> tuple[int, str]:
    first = ("main query", "users (names)", "parties (names)")
    return (first.index(name) if name in first else 10 if name.startswith("rest") else 5, name)


def run_queues(opts: QueueOptions) -> dict[str, Any]:
    rule(f"queue queries with {opts.tickets:,} tickets")
    shape = dataset.Shape(tickets=opts.tickets, mine=opts.mine)
    report: dict[str, Any] = {"options": opts.__dict__, "backends": {}}
    for backend in opts.backends:
        if backend == "sqlite":
            url, load = sqlite_dataset(shape, rebuild=opts.rebuild)
            report["backends"][backend] = {"load": load, **_bench(url, backend, opts)}
            continue
        with postgres() as server:
            url = server.create_database("bench_queues")
            load = load_postgres(url, shape)
            report["backends"][backend] = {"load": load, **_bench(url, backend, opts)}
    path = write_results("queues", report)
    console.print(f"results: {path.relative_to(REPO_ROOT)}")
    return report
