"""The engine loop of a server process: catch up every live drill, every second.

On PostgreSQL, with several server processes, exactly one runs the loop: the one holding
a session-level advisory lock on a connection it keeps open. When that process dies its
connection closes, the lock is released, and another process takes it on its next try.
SQLite serves one process, which always leads, and checkpoints the write-ahead log after
each round.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from deskdrill.core import tasks
from deskdrill.core.clock import utc_now
from deskdrill.db.engine import checkpoint, unit_of_work
from deskdrill.drills.models import Drill
from deskdrill.sla.catch_up import catch_up

log = logging.getLogger("deskdrill.engine")
LOCK_KEY = 0x6465736B  # "desk": one advisory lock for the whole database


class EngineLoop:
    def __init__(self, engine: Engine, factory: sessionmaker[Session], interval: float) -> None:
        self.engine = engine
        self.factory = factory
        self.interval = interval
        self.leader = False
        self._lock_conn: Any = None
        self._task: asyncio.Task[None] | None = None

    def _lead(self) -> bool:
        """Hold (or try to take) the leadership; always true on SQLite."""
        if self.engine.dialect.name != "postgresql":
            return True
        if self._lock_conn is not None:
            try:
                self._lock_conn.exec_driver_sql("SELECT 1")
                return True
            except Exception:  # the connection died: leadership is lost
                self._release()
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        taken = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}).scalar()
        if taken:
            self._lock_conn = conn
            return True
        conn.close()
        return False

    def _release(self) -> None:
        if self._lock_conn is not None:
            try:
                self._lock_conn.close()
            finally:
                self._lock_conn = None

    def tick(self) -> int:
        """One round: catch up each drill whose clock is not finished."""
        self.leader = self._lead()
        if not self.leader:
            return 0
        with unit_of_work(self.factory, read_only=True) as session:
            drill_ids = session.scalars(
                select(Drill.id).where(Drill.clock_state != "finished")
            ).all()
        wall = utc_now()
        fired = 0
        for drill_id in drill_ids:
            try:
                fired += catch_up(self.factory, drill_id, wall)
            except Exception:  # one drill's failure must not stop the others
                log.exception("catching up drill %s failed", drill_id)
        checkpoint(self.engine)
        return fired

    async def _run(self) -> None:
        while True:
            try:
                await run_in_threadpool(self.tick)
            except Exception:  # keep the loop alive; the next round tries again
                log.exception("engine round failed")
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        if self.interval > 0 and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        await tasks.cancel(self._task)
        self._task = None
        await run_in_threadpool(self._release)
