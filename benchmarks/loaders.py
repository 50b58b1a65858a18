"""Load the dataset: SQLite through executemany (cached by size), PostgreSQL through COPY."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from collections.abc import Iterable, Iterator
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from sqlalchemy import Engine, event, insert
from sqlalchemy.orm import Session

from benchmarks import dataset
from benchmarks.report import RESULTS_DIR, Timer, console
from deskdrill.accounts.models import User
from deskdrill.customers.models import Party
from deskdrill.db import migrate
from deskdrill.db.engine import make_engine, make_sessionmaker
from deskdrill.drills.models import Drill, DrillMember
from deskdrill.paths import resource_dir
from deskdrill.settings import Settings
from deskdrill.tickets.models import Ticket

CACHE_DIR = RESULTS_DIR / "cache"


def engine_for(url: str) -> Engine:
    """An engine exactly as the app makes it (same pragmas, BEGIN mode and pool)."""
    return make_engine(Settings(env="dev", database_url=url))


def schema_fingerprint() -> str:
    """Changes whenever a migration file changes, so a stale cached database is not reused."""
    digest = hashlib.sha256()
    for path in sorted((resource_dir("migrations") / "versions").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def _chunks(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    it = iter(rows)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


def _progress() -> Progress:
    return Progress(
        "{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=True,
    )  # fmt: skip


def _load_reference_rows(session: Session) -> None:
    """Users, drills, memberships and parties (explicit ids, see ``dataset``)."""
    session.execute(insert(User), dataset.users())
    session.execute(insert(Drill), dataset.drills())
    session.execute(insert(DrillMember), dataset.drill_members())
    for chunk in _chunks(dataset.parties(), dataset.BATCH):
        session.execute(insert(Party), chunk)
    session.commit()


def _orm_tickets(engine: Engine, shape: dataset.Shape) -> None:
    factory = make_sessionmaker(engine)
    with factory() as session, _progress() as progress:
        _load_reference_rows(session)
        task = progress.add_task("loading tickets (executemany)", total=shape.tickets)
        for batch in dataset.ticket_batches(shape):
            session.execute(insert(Ticket), batch)
            session.commit()
            progress.advance(task, len(batch))


def _copy_tickets(engine: Engine, shape: dataset.Shape) -> None:
    factory = make_sessionmaker(engine)
    with factory() as session:
        _load_reference_rows(session)
    columns: list[str] | None = None
    with engine.connect() as conn, _progress() as progress:
        raw: Any = conn.connection.driver_connection
        task = progress.add_task("loading tickets (COPY)", total=shape.tickets)
        for batch in dataset.ticket_batches(shape):
            columns = columns or list(batch[0])
            sql = f"COPY tickets ({', '.join(columns)}) FROM STDIN"
            with raw.cursor() as cur, cur.copy(sql) as copy:
                for row in batch:
                    copy.write_row(
                        [json.dumps(v) if isinstance(v, list) else v for v in row.values()]
                    )
            raw.commit()
            progress.advance(task, len(batch))


def _analyze(engine: Engine) -> float:
    with Timer() as t, engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    return t.seconds


def sqlite_dataset(shape: dataset.Shape, *, rebuild: bool = False) -> tuple[str, dict[str, Any]]:
    """A migrated, loaded and analyzed SQLite file, reused while size and schema match."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    prefix = f"queues-sqlite-{shape.tickets}-m{shape.mine}-"
    path = CACHE_DIR / f"{prefix}v{dataset.VERSION}-{schema_fingerprint()}.db"
    url = f"sqlite:///{path}"
    if path.exists() and not rebuild:
        console.print(
            f"SQLite: cached dataset {path.name} ({path.stat().st_size / 2**20:,.0f} MiB)"
        )
        return url, {"path": str(path), "cached": True}
    for stale in CACHE_DIR.glob(f"{prefix}*"):
        stale.unlink()
    partial = path.with_suffix(".partial")
    url_partial = f"sqlite:///{partial}"
    with Timer() as t_migrate:
        migrate.upgrade(url_partial)
    engine = engine_for(url_partial)
    event.listen(engine, "connect", _big_cache)
    try:
        with Timer() as t_load:
            _orm_tickets(engine, shape)
        analyze_s = _analyze(engine)
    finally:
        engine.dispose()  # the last connection to close checkpoints and removes the WAL
    os.replace(partial, path)
    info = {"path": str(path), "cached": False, "migrate_s": t_migrate.seconds,
            "load_s": t_load.seconds, "analyze_s": analyze_s}  # fmt: skip
    console.print(
        f"SQLite: loaded {shape.tickets:,} tickets in {t_load.seconds:.1f} s "
        f"({shape.tickets / t_load.seconds:,.0f} rows/s), ANALYZE {analyze_s:.1f} s; "
        f"cached as {path.relative_to(RESULTS_DIR.parent.parent)}"
    )
    return url, info


def _big_cache(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA cache_size=-1048576")  # 1 GiB page cache while loading
    cur.close()


def load_postgres(url: str, shape: dataset.Shape) -> dict[str, Any]:
    with Timer() as t_migrate:
        migrate.upgrade(url)
    engine = engine_for(url)
    try:
        with Timer() as t_load:
            _copy_tickets(engine, shape)
        analyze_s = _analyze(engine)
    finally:
        engine.dispose()
    console.print(
        f"PostgreSQL: loaded {shape.tickets:,} tickets in {t_load.seconds:.1f} s "
        f"({shape.tickets / t_load.seconds:,.0f} rows/s), ANALYZE {analyze_s:.1f} s"
    )
    return {"cached": False, "migrate_s": t_migrate.seconds, "load_s": t_load.seconds,
            "analyze_s": analyze_s}  # fmt: skip
