"""Capture the SQL the app sends and show its query plans."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, event

from deskdrill.db.engine import SQLITE_BEGIN


@dataclass
class Statement:
    sql: str
    params: Any
    seconds: float = 0.0


@dataclass
class Capture:
    statements: list[Statement] = field(default_factory=list)

    def main_query(self) -> Statement:
        """The queue's own SELECT over tickets (the only statement reading ``FROM tickets``)."""
        for s in self.statements:
            if "FROM tickets" in s.sql and s.sql.lstrip().upper().startswith("SELECT"):
                return s
        raise LookupError("no SELECT ... FROM tickets was executed")


@contextmanager
def capture(engine: Engine) -> Iterator[Capture]:
    """Record every statement sent to ``engine`` (with its parameters and duration)."""
    cap = Capture()
    started: list[float] = []

    def before(_conn: Any, _cur: Any, sql: str, params: Any, _ctx: Any, _many: bool) -> None:
        started.append(time.perf_counter())
        cap.statements.append(Statement(sql, params))

    def after(*_args: Any) -> None:
        cap.statements[-1].seconds = time.perf_counter() - started.pop()

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield cap
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def label(sql: str) -> str:
    """A short name for a statement, to sum time per kind of statement."""
    text = " ".join(sql.split())
    upper = text.upper()
    if not upper.startswith("SELECT"):
        return upper.split(" ")[0] + (" " + upper.split(" ")[1] if " " in upper else "")
    table = text.split(" FROM ", 1)[1].split(" ")[0] if " FROM " in text else "?"
    names = {
        "tickets": "main query",
        "users": "users (names)",
        "parties": "parties (names)",
        "drills": "drill",
        "drill_members": "membership",
    }
    return names.get(table, f"SELECT FROM {table}")


def explain(engine: Engine, stmt: Statement) -> list[str]:
    """The plan of ``stmt`` with its real parameters: SQLite EXPLAIN QUERY PLAN as a tree,
    PostgreSQL EXPLAIN (ANALYZE, BUFFERS) text."""
    sqlite = engine.dialect.name == "sqlite"
    prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN (ANALYZE, BUFFERS) "
    with engine.connect().execution_options(**{SQLITE_BEGIN: "DEFERRED"}) as conn:
        rows = conn.exec_driver_sql(prefix + stmt.sql, stmt.params).all()
        conn.rollback()
    if not sqlite:
        return [str(r[0]) for r in rows]
    depth: dict[int, int] = {0: -1}
    lines = []
    for node_id, parent, _unused, detail in rows:
        depth[node_id] = depth.get(parent, -1) + 1
        lines.append("  " * depth[node_id] + str(detail))
    return lines


@dataclass
class PlanCheck:
    uses_queue_index: bool
    full_scan: bool
    sorts: bool

    @property
    def ok(self) -> bool:
        return self.uses_queue_index and not self.full_scan and not self.sorts


# The indexes built for the queues (see deskdrill.tickets.models.Ticket).
QUEUE_INDEXES = ("ix_tickets_queue", "ix_tickets_unassigned")


def check(plan: list[str], dialect: str) -> PlanCheck:
    text = "\n".join(plan)
    uses = any(name in text for name in QUEUE_INDEXES)
    if dialect == "sqlite":
        full = any(line.strip().startswith("SCAN tickets") for line in plan)
        sorts = "TEMP B-TREE" in text
    else:
        full = "Seq Scan on tickets" in text
        sorts = any(_node(line) in ("Sort", "Incremental Sort") for line in plan)
    return PlanCheck(uses_queue_index=uses, full_scan=full, sorts=sorts)


def _node(line: str) -> str:
    name = line.strip().removeprefix("->").strip()
    return name.split("  (")[0].split(" on ")[0]


def one_line(sql: str) -> str:
    return " ".join(sql.split())
