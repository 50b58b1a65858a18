"""Engines and sessions.

SQLite is tuned for many trainees on one file: WAL so readers never block the writer,
``synchronous=NORMAL`` (safe with WAL), foreign keys on, a busy timeout, and write
transactions that start with ``BEGIN IMMEDIATE`` so that two writers queue on the lock
instead of one failing later with "database is locked" when it upgrades a read lock.
Read-only units of work begin DEFERRED so they never wait on writers.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from deskdrill.settings import Settings

SQLITE_BEGIN = "sqlite_begin"
# A commit that leaves more pages than this in the write-ahead log checkpoints at once, in
# the writer's time. SQLite's default (1,000 pages) is less than one large SLA engine step
# writes; with this margin the loop's checkpoints between rounds (``checkpoint``) do it.
AUTOCHECKPOINT_PAGES = 10_000


def make_engine(settings: Settings, **overrides: Any) -> Engine:
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(settings, **overrides)
    kwargs: dict[str, Any] = {
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_max_overflow,
        "pool_pre_ping": True,
    }
    kwargs.update(overrides)
    return create_engine(url, **kwargs)


def ensure_sqlite_dir(database_url: str) -> None:
    """Create the folder of a SQLite file (./var by default) so a first run just works."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _sqlite_engine(settings: Settings, **overrides: Any) -> Engine:
    url = make_url(settings.database_url)
    ensure_sqlite_dir(settings.database_url)
    kwargs: dict[str, Any] = {
        "connect_args": {
            "check_same_thread": False,
            "timeout": settings.sqlite_busy_timeout_ms / 1000,
        },
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_max_overflow,
    }
    kwargs.update(overrides)
    engine = create_engine(url, **kwargs)
    busy = settings.sqlite_busy_timeout_ms
    cache_kib = settings.sqlite_cache_mib * 1024

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take over transaction control from the sqlite3 module so we can say BEGIN IMMEDIATE.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy)}")
        cur.execute(f"PRAGMA cache_size=-{int(cache_kib)}")
        cur.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
        cur.close()

    # Writers of this process queue on a lock before asking SQLite for its write lock.
    # SQLite's busy handler polls with sleeps of up to 100 ms, so under load some writers
    # would sleep while the database sits idle; the lock hands over at once, in order.
    # Other processes still meet the busy timeout.
    writer = threading.Lock()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get(SQLITE_BEGIN, "IMMEDIATE")
        if mode == "IMMEDIATE" and writer.acquire(timeout=busy / 1000):
            conn.info["holds_writer_lock"] = True
        try:
            conn.exec_driver_sql(f"BEGIN {mode}")
        except BaseException:
            _release(conn)
            raise

    def _release(conn: Any) -> None:
        if conn.info.pop("holds_writer_lock", False):
            writer.release()

    event.listen(engine, "commit", _release)
    event.listen(engine, "rollback", _release)
    return engine


def checkpoint(engine: Engine) -> None:
    """Copy the SQLite write-ahead log back into the database file, without blocking
    readers or writers (PASSIVE); the SLA engine loop calls it between rounds, so writers'
    commits rarely pay for it. No-op on other databases."""
    if engine.dialect.name != "sqlite":
        return
    # Outside any transaction: a checkpoint cannot pass a snapshot its own connection holds.
    raw = engine.raw_connection()
    try:
        raw.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    finally:
        raw.close()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False, autoflush=False)


def begin_read(session: Session) -> None:
    """Mark the session's transaction read-only in spirit: on SQLite it begins DEFERRED."""
    session.connection(execution_options={SQLITE_BEGIN: "DEFERRED"})


@contextmanager
def unit_of_work(factory: sessionmaker[Session], *, read_only: bool = False) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    with factory() as session:
        if read_only:
            begin_read(session)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
