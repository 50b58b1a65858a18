"""What PostgreSQL sessions are waiting for, for tests that stage a tie between writers."""

from __future__ import annotations

from sqlalchemy import Engine

_WAITING = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"


def lock_waiters(bind: Engine) -> int:
    """How many sessions wait for a lock now. A connection of its own each time: within a
    transaction PostgreSQL answers from the statistics snapshot it took first."""
    with bind.connect() as watcher:
        return int(watcher.exec_driver_sql(_WAITING).scalar_one())
