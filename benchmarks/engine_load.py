"""Load the engine population (``engine_data``) into a database migrated by Alembic.

SQLite by executemany, PostgreSQL by COPY, as ``loaders`` does; the secondary indexes of
``tickets`` are dropped for the load and re-created afterwards from their own definitions
(as the migrations wrote them), faster than maintaining them row by row (PostgreSQL has a
GIN trigram index on the subject). SQLite datasets are cached per shape and schema; each
run works on a copy, since the benchmark changes the data.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, event, insert

from benchmarks import dataset, engine_data
from benchmarks.loaders import CACHE_DIR, _analyze, _big_cache, _progress, engine_for
from benchmarks.loaders import schema_fingerprint as _fingerprint
from benchmarks.report import REPO_ROOT, Timer, console
from deskdrill.accounts.models import User
from deskdrill.db import migrate
from deskdrill.db.engine import make_sessionmaker
from deskdrill.drills.models import Drill, DrillMember
from deskdrill.sla.models import SlaFiring
from deskdrill.tickets.models import Ticket

_INDEXES = {
    "sqlite": "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
    "AND tbl_name = 'tickets' AND substr(name, 1, 3) = 'ix_' AND sql IS NOT NULL",
    "postgresql": "SELECT indexname, indexdef FROM pg_indexes "
    "WHERE tablename = 'tickets' AND substr(indexname, 1, 3) = 'ix_'",
}


@contextmanager
def _without_indexes(engine: Engine) -> Iterator[None]:
    """Drop the secondary indexes of tickets; re-create them (same SQL) on the way out."""
    with engine.begin() as conn:
        indexes = conn.exec_driver_sql(_INDEXES[engine.dialect.name]).all()
        for name, _sql in indexes:
            conn.exec_driver_sql(f"DROP INDEX {name}")
    yield
    with _progress() as progress, engine.begin() as conn:
        task = progress.add_task("re-creating the ticket indexes", total=len(indexes))
        for _name, sql in indexes:
            conn.exec_driver_sql(sql)
            progress.advance(task)


def _reference(engine: Engine) -> None:
    with make_sessionmaker(engine)() as session:
        session.execute(insert(User), dataset.users())
        session.execute(insert(Drill), [engine_data.drill()])
        session.execute(insert(DrillMember), engine_data.members())
        session.commit()


def _insert(conn: Connection, tickets: list[dict[str, Any]], firings: list[dict[str, Any]]) -> None:
    conn.execute(insert(Ticket.__table__), tickets)
    if firings:
        conn.execute(insert(SlaFiring.__table__), firings)


def _copy(raw: Any, table: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(rows[0])}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([json.dumps(v) if isinstance(v, list) else v for v in row.values()])


def _load(engine: Engine, shape: engine_data.EngineShape) -> None:
    _reference(engine)
    sqlite = engine.dialect.name == "sqlite"
    with _without_indexes(engine), engine.connect() as conn, _progress() as progress:
        how = "executemany" if sqlite else "COPY"
        task = progress.add_task(f"loading tickets ({how})", total=shape.tickets)
        raw: Any = conn.connection.driver_connection
        for tickets, firings in engine_data.batches(shape):
            if sqlite:
                _insert(conn, tickets, firings)
                conn.commit()
            else:
                _copy(raw, "tickets", tickets)
                _copy(raw, "sla_firings", firings)
                raw.commit()
            progress.advance(task, len(tickets))
    if not sqlite:
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "SELECT setval(pg_get_serial_sequence('tickets', 'id'), max(id)) FROM tickets"
            )


def _load_timed(url: str, shape: engine_data.EngineShape, sqlite: bool) -> dict[str, Any]:
    with Timer() as t_migrate:
        migrate.upgrade(url)
    engine = engine_for(url)
    if sqlite:
        event.listen(engine, "connect", _big_cache)
    try:
        with Timer() as t_load:
            _load(engine, shape)
        analyze_s = _analyze(engine) if sqlite else _vacuum(engine)
    finally:
        engine.dispose()  # SQLite: the last connection checkpoints and removes the WAL
    name = "SQLite" if sqlite else "PostgreSQL"
    console.print(
        f"{name}: loaded {shape.tickets:,} open tickets in {t_load.seconds:.1f} s "
        f"({shape.tickets / t_load.seconds:,.0f} rows/s, indexes included), "
        f"{'ANALYZE' if sqlite else 'VACUUM (ANALYZE), CHECKPOINT'} {analyze_s:.1f} s"
    )
    return {"cached": False, "migrate_s": t_migrate.seconds, "load_s": t_load.seconds,
            "analyze_s": analyze_s}  # fmt: skip


def _vacuum(engine: Engine) -> float:
    """PostgreSQL: VACUUM (ANALYZE) as autovacuum would have by now, so that it does not
    run during the measurement, then CHECKPOINT so that writing back the load does not."""
    with Timer() as t, engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.exec_driver_sql("VACUUM (ANALYZE)")
        conn.exec_driver_sql("CHECKPOINT")
    return t.seconds


def settle() -> None:
    """Before measuring: the loads' garbage collected, their dirty pages on disk."""
    gc.collect()
    os.sync()


def sqlite_dataset(
    shape: engine_data.EngineShape, work: Path, *, rebuild: bool = False
) -> tuple[str, dict[str, Any]]:
    """A working copy (at ``work``) of the cached, loaded and analyzed SQLite dataset."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    prefix = f"engine-sqlite-{shape.key}-"
    path = CACHE_DIR / f"{prefix}v{engine_data.VERSION}-{_fingerprint()}.db"
    if path.exists() and not rebuild:
        info: dict[str, Any] = {"cached": True}
        console.print(
            f"SQLite: cached dataset {path.name} ({path.stat().st_size / 2**20:,.0f} MiB)"
        )
    else:
        for stale in CACHE_DIR.glob(f"{prefix}*"):
            stale.unlink()
        partial = path.with_suffix(".partial")
        info = _load_timed(f"sqlite:///{partial}", shape, sqlite=True)
        os.replace(partial, path)
        console.print(f"  cached as {path.relative_to(REPO_ROOT)}")
    remove_sqlite(work)
    with Timer() as t_copy:
        shutil.copyfile(path, work)
    return f"sqlite:///{work}", {**info, "path": str(path), "copy_s": t_copy.seconds}


def remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def postgres_dataset(url: str, shape: engine_data.EngineShape) -> dict[str, Any]:
    return _load_timed(url, shape, sqlite=False)
