"""Where the time of catching up 1,000 due items goes.

Two extra rounds on fresh due sets, after the timed ones: one with every statement timed
(time inside cursor.execute, the rest is Python), one under cProfile (Python time by
package, and the inclusive time of the engine's own functions; cProfile slows Python
down, so read its figures as shares, not as durations).
"""

from __future__ import annotations

import cProfile
import pstats
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.table import Table
from sqlalchemy import Engine

from benchmarks import anatomy, plans
from benchmarks.report import console

# Functions whose inclusive time is shown: (file suffix, function name, what it is).
FUNCTIONS = (
    ("sla/catch_up.py", "catch_up", "catch_up (all of it)"),
    ("sla/engine.py", "step", "engine.step"),
    ("sla/engine.py", "_plan", "  _plan (timers of one ticket)"),
    ("sla/engine.py", "_claim_all", "  _claim_all (insert the keys)"),
    ("tickets/trail.py", "event_hash", "  event_hash"),
    ("db/bulk.py", "execute_many", "  execute_many (events, notices, tickets)"),
    ("sla/engine.py", "_act", "  _act (bump or escalate)"),
    ("sqlalchemy/orm/session.py", "commit", "  commit"),
)


@dataclass
class Anatomy:
    wall_ms: float = 0.0
    commits: int = 0
    statements: dict[str, list[float]] = field(default_factory=dict)  # label: [n, rows, ms]

    @property
    def sql_ms(self) -> float:
        return sum(v[2] for v in self.statements.values())

    def to_json(self) -> dict[str, Any]:
        return {"wall_ms": self.wall_ms, "sql_ms": self.sql_ms, "commits": self.commits,
                "statements": self.statements}  # fmt: skip


def label(sql: str) -> str:
    text = " ".join(sql.split())
    upper = text.upper()
    for verb in ("RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT", "SAVEPOINT"):
        if upper.startswith(verb):
            return verb
    if upper.startswith("SELECT TICKETS.ID FROM"):
        return "SELECT tickets (anything due?)"
    if upper.startswith("SELECT") and " FROM tickets" in text:
        return "SELECT tickets (due batch)"
    return anatomy._label(sql)


def statements(engine: Engine, drain: Callable[[], Any]) -> Anatomy:
    """Run ``drain`` once with every statement and every COMMIT (the DBAPI call, where
    SQLite writes the WAL and may checkpoint) counted and timed."""
    dialect: Any = engine.dialect
    commits: list[float] = []

    def do_commit(dbapi_conn: Any) -> None:
        start = time.perf_counter()
        try:
            type(dialect).do_commit(dialect, dbapi_conn)
        finally:
            commits.append(time.perf_counter() - start)

    dialect.do_commit = do_commit
    try:
        with plans.capture(engine) as cap:
            start = time.perf_counter()
            drain()
            wall = time.perf_counter() - start
    finally:
        del dialect.do_commit
    per: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0.0])
    for stmt in cap.statements:
        entry = per[label(stmt.sql)]
        entry[0] += 1
        entry[1] += len(stmt.params) if isinstance(stmt.params, list) else 1
        entry[2] += stmt.seconds * 1000
    if commits:
        per["COMMIT"] = [len(commits), len(commits), sum(commits) * 1000]
    return Anatomy(wall * 1000, len(commits), dict(per))


def _package(filename: str, name: str) -> str:
    path = filename.replace("\\", "/")
    if "/sqlalchemy/orm/" in path:
        return "SQLAlchemy ORM (unit of work, identity map, attributes)"
    if "/sqlalchemy/" in path:
        return "SQLAlchemy Core (compile cache, execution, type processing)"
    if "/psycopg" in path or "sqlite3." in name:
        return "database driver (incl. waiting on the database)"
    if "/pydantic" in path or "pydantic_core" in name:
        return "pydantic"
    if "/deskdrill/" in path:
        return "deskdrill code"
    return "stdlib and builtins (hashlib, json, datetime, ...)"


def profile(drain: Callable[[], Any]) -> dict[str, Any]:
    """Run ``drain`` once under cProfile: tottime shares by package, inclusive shares."""
    profiler = cProfile.Profile()
    profiler.runcall(drain)
    stats: dict[Any, Any] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    total = sum(tt for _cc, _nc, tt, _ct, _callers in stats.values()) or 1.0
    by_package: dict[str, float] = defaultdict(float)
    inclusive: dict[str, list[float]] = {}
    for (filename, _line, name), (_cc, calls, tt, ct, _callers) in stats.items():
        by_package[_package(filename, name)] += tt / total
        for suffix, func, title in FUNCTIONS:
            if name == func and filename.replace("\\", "/").endswith(suffix):
                entry = inclusive.setdefault(title, [0, 0.0])
                entry[0] += calls
                entry[1] = max(entry[1], ct / total)  # recursion: cumulative, not a sum
    ordered = {t: inclusive[t] for _s, _f, t in FUNCTIONS if t in inclusive}
    return {"by_package": dict(sorted(by_package.items(), key=lambda kv: -kv[1])),
            "inclusive": ordered, "profiled_s": total}  # fmt: skip


def show(title: str, items: int, anat: dict[str, Any], prof: dict[str, Any]) -> None:
    """Print one round's statements (``Anatomy.to_json()``) and the profile of another."""
    table = Table(
        title=f"anatomy of catching up {items:,} due items ({title})",
        caption="one round, every statement timed; ms = time inside cursor.execute (COMMIT: "
        "the driver's commit); an executemany or a multi-row INSERT counts once with its rows",
    )
    for col in ("statement", "count", "rows", "ms", "ms per item"):
        table.add_column(col, justify="left" if col == "statement" else "right")
    for name, (n, rows, ms) in sorted(anat["statements"].items(), key=lambda kv: -kv[1][2]):
        table.add_row(name, f"{n:,.0f}", f"{rows:,.0f}", f"{ms:.1f}", f"{ms / items:.3f}")
    count = sum(v[0] for v in anat["statements"].values())
    sql, wall = anat["sql_ms"], anat["wall_ms"]
    rest = wall - sql
    table.add_section()
    table.add_row("SQL (incl. COMMIT)", f"{count:,.0f}", "", f"{sql:.1f}", f"{sql / items:.3f}")
    table.add_row("not SQL (Python)", "", "", f"{rest:.1f}", f"{rest / items:.3f}")
    table.add_row("[bold]total", "", "", f"[bold]{wall:.1f}", f"{wall / items:.3f}")
    console.print(table)
    console.print(
        f"  {count / items:.1f} statements per due item; SQL is {sql / wall:.0%} of the time, "
        f"Python {rest / wall:.0%}."
    )
    prof_table = Table(title=f"Python profile of another round ({title}): share of the time")
    prof_table.add_column("own time by package")
    prof_table.add_column("share", justify="right")
    for name, share in prof["by_package"].items():
        prof_table.add_row(name, f"{share:.0%}")
    prof_table.add_section()
    prof_table.add_row("[bold]inclusive time of", "[bold]calls / share")
    for name, (calls, share) in prof["inclusive"].items():
        prof_table.add_row(name, f"{calls:,.0f} / {share:.0%}")
    console.print(prof_table)
