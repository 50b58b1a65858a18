"""A throwaway PostgreSQL server from tests/support/pgserver.py (stopped by pid on exit)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from benchmarks.report import REPO_ROOT, Timer, console

if TYPE_CHECKING:
    from tests.support.pgserver import PgServer


@contextmanager
def postgres() -> Iterator[PgServer]:
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from tests.support.pgserver import start_postgres

    with Timer() as t:
        server = start_postgres()
    console.print(f"PostgreSQL up on port {server.port} (pid {server.pid}) in {t.seconds:.1f} s")
    try:
        yield server
    finally:
        server.stop()
        console.print(f"PostgreSQL stopped (pid {server.pid})")
