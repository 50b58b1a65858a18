"""(d) The headless runner: the full 8-hour mixed shift, all data persisted in SQLite.

Targets (from the issue): the shift (about 1,500 tickets, 10 careful bots) in under 10 s
of wall time, and at least 1,000 simulated tickets per wall second (full lifecycle, every
event on the hash-chained trail); the same shift at ``scale`` times the arrival rate with
ten times the bots is measured too. Printed with each run: the peak memory, and, measured
in the same process, the time a bare SQLAlchemy Core bulk insert of as many event rows
takes (the floor of per-row cost the runner should stay close to).
"""

from __future__ import annotations

import json
import resource
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    insert,
)

from benchmarks import catch_up
from benchmarks.report import REPO_ROOT, console, rule, write_results
from deskdrill.db import migrate
from deskdrill.db.engine import make_engine, make_sessionmaker
from deskdrill.scenarios.load import read
from deskdrill.settings import Settings
from deskdrill.simulation.agents import parse_agents
from deskdrill.simulation.runner import run

SHIFT = REPO_ROOT / "scenarios" / "mixed-8h-shift.yaml"
TARGET_WALL_S = 10.0
TARGET_TICKETS_PER_S = 1000.0


@dataclass
class ScenarioOptions:
    scales: tuple[int, ...] = (1, 10)
    backends: tuple[str, ...] = ("sqlite", "postgresql")  # of the live drill's catch-up


def _bare_insert(rows: int) -> float:
    """Seconds for a bare Core executemany of ``rows`` trail-like rows into SQLite."""
    with tempfile.TemporaryDirectory() as scratch:
        engine = create_engine(f"sqlite:///{scratch}/bare.db")
        meta = MetaData()
        table = Table(
            "events",
            meta,
            Column("id", Integer, primary_key=True),
            Column("ticket_id", Integer),
            Column("seq", Integer),
            Column("type", String(48)),
            Column("actor", String(64)),
            Column("sim_at", DateTime),
            Column("wall_at", DateTime),
            Column("payload", Text),
            Column("prev_hash", String(64)),
            Column("hash", String(64)),
        )
        meta.create_all(engine)
        now = datetime.now(UTC).replace(tzinfo=None)
        data = [
            {
                "ticket_id": i // 9,
                "seq": i % 9 + 1,
                "type": "reply",
                "actor": "careful-l1-01",
                "sim_at": now,
                "wall_at": now,
                "payload": '{"body": "您好"}',
                "prev_hash": "0" * 64,
                "hash": f"{i:064x}",
            }
            for i in range(rows)
        ]
        start = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(insert(table), data)
        took = time.perf_counter() - start
        engine.dispose()
    return took


def _one(scale: int) -> dict[str, Any]:
    scenario = read(SHIFT)
    if scale != 1:
        generators = [
            g.model_copy(update={"per_hour": g.per_hour * scale}) for g in scenario.generators
        ]
        scenario = scenario.model_copy(update={"generators": generators})
    bots = 10 * scale
    plan = parse_agents(f"careful:{bots}", scenario.headless.handling)
    with tempfile.TemporaryDirectory(prefix="deskdrill-bench-") as scratch:
        url = f"sqlite:///{Path(scratch) / 'run.db'}"
        migrate.upgrade(url)
        settings = Settings(env="test", database_url=url, secret_key="bench-" + "0" * 26)
        engine = make_engine(settings)
        # Statements sent to the database: a figure the machine's speed does not move; and
        # the time spent inside them, to tell the database's share from the runner's own.
        sent, inside, began = [0], [0.0], [0.0]

        def count(*_args: Any) -> None:
            sent[0] += 1
            began[0] = time.perf_counter()

        def timed(*_args: Any) -> None:
            inside[0] += time.perf_counter() - began[0]

        event.listen(engine, "before_cursor_execute", count)
        event.listen(engine, "after_cursor_execute", timed)
        try:
            result = run(
                scenario=scenario,
                raw=SHIFT.read_bytes(),
                plan=plan,
                factory=make_sessionmaker(engine),
                settings=settings,
            )
        finally:
            engine.dispose()
    bare = _bare_insert(result.events)
    per_s = result.tickets / result.wall_seconds
    return {
        "scale": scale,
        "bots": bots,
        "tickets": result.tickets,
        "events": result.events,
        "wall_seconds": result.wall_seconds,
        "sim_seconds": result.sim_seconds,
        "sim_to_wall": result.sim_seconds / result.wall_seconds,
        "tickets_per_wall_second": per_s,
        "peak_memory_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "statements": sent[0],
        "statements_per_ticket": sent[0] / result.tickets,
        "database_seconds": inside[0],
        "database_share": inside[0] / result.wall_seconds,
        "bare_insert_seconds": bare,
        "ratio_to_bare": result.wall_seconds / bare,
        "pass_wall": scale != 1 or result.wall_seconds < TARGET_WALL_S,
        "pass_rate": per_s >= TARGET_TICKETS_PER_S,
    }


def run_scenario(opts: ScenarioOptions) -> dict[str, Any]:
    rule("headless runner: the 8-hour mixed shift")
    results = []
    for scale in opts.scales:
        console.print(f"  scale {scale}: {10 * scale} careful bots, arrivals x{scale} ...")
        found = _one(scale)
        results.append(found)
        console.print(
            f"    {found['tickets']:,} tickets, {found['events']:,} trail events in "
            f"{found['wall_seconds']:.1f} s wall ({found['sim_to_wall']:.0f}x simulated "
            f"speed); {found['tickets_per_wall_second']:.1f} tickets/s "
            f"({found['tickets_per_wall_second'] / TARGET_TICKETS_PER_S:.3f}x the target "
            f"of {TARGET_TICKETS_PER_S:.0f}); peak memory {found['peak_memory_mib']:.0f} MiB; "
            f"bare Core insert of as many events {found['bare_insert_seconds'] * 1000:.0f} ms "
            f"(the run takes {found['ratio_to_bare']:.0f}x that); "
            f"{found['statements']:,} statements "
            f"({found['statements_per_ticket']:.0f} per ticket), "
            f"{found['database_seconds']:.2f} s inside them ({found['database_share']:.0%} of the "
            "run; the rest is the runner's own work)"
        )
    console.print(
        "  live drill, one L2 trainee and the built-in bots: a jump to the shift's end ..."
    )
    live = []
    for backend in opts.backends:
        live.append(catch_up.measure(SHIFT, backend))
        catch_up.show(live[-1])
    report = {
        "results": results,
        "catch_up": live,
        "targets": {"wall_seconds": TARGET_WALL_S, "tickets_per_wall_second": TARGET_TICKETS_PER_S},
    }
    path = write_results("scenario", report)
    console.print(f"results: {path.relative_to(REPO_ROOT)}")
    console.print_json(
        json.dumps(
            {
                "summary": [
                    {
                        k: r[k]
                        for k in ("scale", "tickets", "wall_seconds", "tickets_per_wall_second")
                    }
                    for r in results
                ]
            }
        )
    )
    return report


def outcomes(report: dict[str, Any]) -> list[tuple[str, bool | None]]:
    found: list[tuple[str, bool | None]] = []
    for r in report["results"]:
        if r["scale"] == 1:
            found.append((f"8-hour shift < {TARGET_WALL_S:.0f} s wall", r["pass_wall"]))
        found.append(
            (
                f"scenario x{r['scale']}: >= {TARGET_TICKETS_PER_S:.0f} tickets per wall s",
                r["pass_rate"],
            )
        )
    for live in report.get("catch_up", []):
        found.append(
            (f"live catch-up faster than the fastest clock ({live['backend']})", live["pass"])
        )
    return found
