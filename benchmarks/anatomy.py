"""Where one create request's time goes: both apps in-process, one request at a time.

Requests go through the ASGI app (``httpx.ASGITransport``, no sockets, no uvicorn); the
time inside the app is measured (not the client's), and every statement the app's engine
runs is timed. What is not SQL is Python: FastAPI, pydantic, SQLAlchemy ORM and the domain
code. Run serially, this is service time, free of contention.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI
from rich.table import Table
from sqlalchemy import Engine, event

from benchmarks import plans
from benchmarks.report import console
from deskdrill.settings import Settings

REQUESTS = 500
WARMUP = 50


@dataclass
class Anatomy:
    app: str
    requests: int = 0
    wall_ms: float = 0.0  # per request
    commits: float = 0.0  # per request
    statements: dict[str, list[float]] = field(default_factory=dict)  # label: [count, ms]

    @property
    def sql_ms(self) -> float:
        return sum(ms for _, ms in self.statements.values())

    def to_json(self) -> dict[str, Any]:
        return {"app": self.app, "wall_ms": self.wall_ms, "sql_ms": self.sql_ms,
                "commits": self.commits, "statements": self.statements}  # fmt: skip


def _label(sql: str) -> str:
    words = " ".join(sql.split()).split(" ")
    verb = words[0].upper()
    if verb == "SELECT":
        upper = [w.upper() for w in words]
        return f"SELECT {words[upper.index('FROM') + 1]}" if "FROM" in upper else "SELECT"
    if verb in ("INSERT", "DELETE"):
        return f"{verb} {words[2]}"
    if verb == "UPDATE":
        return f"UPDATE {words[1]}"
    return " ".join(words[:2])


Captured = tuple[float, int, list[plans.Statement]]


async def _drive(
    app: FastAPI, path: str, body: dict[str, Any], headers: dict[str, str]
) -> Captured:
    inside = 0.0

    async def timed(scope: Any, receive: Any, send: Any) -> None:
        nonlocal inside
        start = time.perf_counter()
        await app(scope, receive, send)
        inside += time.perf_counter() - start

    transport = httpx.ASGITransport(app=timed)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for _ in range(WARMUP):
            (await client.post(path, json=body, headers=headers)).raise_for_status()
        engine: Engine = app.state.engine
        commits, inside = 0, 0.0

        def on_commit(_conn: Any) -> None:
            nonlocal commits
            commits += 1

        event.listen(engine, "commit", on_commit)
        try:
            with plans.capture(engine) as cap:
                for _ in range(REQUESTS):
                    (await client.post(path, json=body, headers=headers)).raise_for_status()
        finally:
            event.remove(engine, "commit", on_commit)
        return inside, commits, cap.statements


def measure(
    app_name: str, app: FastAPI, path: str, body: dict[str, Any], headers: dict[str, str]
) -> Anatomy:
    wall, commits, statements = asyncio.run(_drive(app, path, body, headers))
    app.state.engine.dispose()
    per: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for stmt in statements:
        entry = per[_label(stmt.sql)]
        entry[0] += 1 / REQUESTS
        entry[1] += stmt.seconds * 1000 / REQUESTS
    return Anatomy(app_name, REQUESTS, wall * 1000 / REQUESTS, commits / REQUESTS, dict(per))


def real_app(url: str, drill_id: int, token: str, ticket: dict[str, Any]) -> Anatomy:
    from deskdrill.app import create_app

    app = create_app(Settings(env="dev", database_url=url))
    headers = {"Authorization": f"Bearer {token}"}
    return measure("create", app, "/api/v1/tickets", {"drill": drill_id, **ticket}, headers)


def bare_app(url: str, ticket: dict[str, Any]) -> Anatomy:
    from benchmarks.bare_app import create_app

    app = create_app(Settings(env="dev", database_url=url))
    return measure("bare", app, "/rows", {"drill": 1, **ticket}, {})


def show(backend: str, create: Anatomy, bare: Anatomy) -> None:
    table = Table(
        title=f"anatomy of one request ({backend}; in-process, serial, {REQUESTS} requests)",
        caption="count and ms per request; SQL = time inside cursor.execute",
    )
    table.add_column("statement")
    for name in ("create #", "create ms", "bare #", "bare ms"):
        table.add_column(name, justify="right")
    labels = sorted(set(create.statements) | set(bare.statements),
                    key=lambda k: -create.statements.get(k, [0, 0])[1])  # fmt: skip
    for label in labels:
        c, b = create.statements.get(label, [0, 0]), bare.statements.get(label, [0, 0])
        table.add_row(label, f"{c[0]:.1f}", f"{c[1]:.3f}", f"{b[0]:.1f}", f"{b[1]:.3f}")
    total = sum(int(v[0] + 0.5) for v in create.statements.values())
    bare_total = sum(int(v[0] + 0.5) for v in bare.statements.values())
    table.add_section()
    table.add_row("SQL total", str(total), f"{create.sql_ms:.2f}", str(bare_total),
                  f"{bare.sql_ms:.2f}")  # fmt: skip
    table.add_row("commits", f"{create.commits:.1f}", "", f"{bare.commits:.1f}", "")
    table.add_row("not SQL (Python)", "", f"{create.wall_ms - create.sql_ms:.2f}", "",
                  f"{bare.wall_ms - bare.sql_ms:.2f}")  # fmt: skip
    table.add_row("[bold]time in the app", "", f"[bold]{create.wall_ms:.2f}", "",
                  f"[bold]{bare.wall_ms:.2f}")  # fmt: skip
    console.print(table)
    console.print(
        f"  service time create / bare = {create.wall_ms / bare.wall_ms:.1f}x: while both are "
        f"CPU-bound expect create to reach ~{bare.wall_ms / create.wall_ms:.0%} of the ceiling. "
        f"SQL execution is {create.sql_ms / create.wall_ms:.0%} of create's time in the app, "
        f"the rest is Python."
    )
