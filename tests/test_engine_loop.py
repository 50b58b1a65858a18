"""The engine loop in real server processes: restarts and several processes."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.factories import Desk, Factory
from tests.support.pgserver import PgServer
from tests.support.server import Server, start_server


def wait_for(condition: Callable[[], Any], seconds: float = 20) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not true within {seconds} s")


def breaches(server: Server, desk: Desk, key: str) -> list[dict[str, Any]]:
    trail = httpx.get(
        f"{server.url}/api/v1/tickets/{key}", headers=desk.trainer.headers, timeout=10
    ).json()["trail"]
    return [e for e in trail if e["type"] == "sla_breach"]


@pytest.mark.server
def test_restart_mid_drill_keeps_time_and_fires_once(
    factory: Factory, db_url: str, tmp_path: Path
) -> None:
    desk = factory.desk()
    clock = f"/drills/{desk.drill_id}/clock"
    desk.trainer.ok(f"{clock}/start", {"speed": 60})  # a simulated minute per second
    key = desk.receive()["key"]  # chat P3: first response due in 3 simulated minutes
    first = start_server(db_url, tmp_path, engine_interval=0.2)
    before = httpx.get(f"{first.url}/api/v1{clock}", headers=desk.trainer.headers).json()
    first.stop()
    time.sleep(3.5)  # the deadline passes while no server runs
    second = start_server(db_url, tmp_path, engine_interval=0.2)
    try:
        fired = wait_for(lambda: breaches(second, desk, key))
        time.sleep(1)  # more rounds of the loop change nothing
        assert len(breaches(second, desk, key)) == len(fired) == 1
        after = httpx.get(f"{second.url}/api/v1{clock}", headers=desk.trainer.headers).json()
    finally:
        second.stop()
    assert after["state"] == "running"
    gained = (
        datetime.fromisoformat(after["sim_now"]) - datetime.fromisoformat(before["sim_now"])
    ).total_seconds()
    wall = (
        datetime.fromisoformat(after["wall_now"]) - datetime.fromisoformat(before["wall_now"])
    ).total_seconds()
    assert abs(gained - 60 * wall) < 60 * 0.5  # the same clock, not restarted


@pytest.mark.server
def test_one_leader_among_processes_and_a_successor(
    pg_server: PgServer, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from deskdrill.app import create_app
    from deskdrill.db import migrate
    from deskdrill.settings import Settings
    from tests.support.factories import Factory as Made

    url = pg_server.create_database(f"leaders_{time.time_ns()}")
    migrate.upgrade(url)
    settings = Settings(
        env="test",
        database_url=url,
        secret_key="leader-secret-0123456789",
        engine_interval_seconds=0,
        token_cache_seconds=0,
    )
    app = create_app(settings)
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        desk = Made(client, app.state.session_factory).desk()
        desk.trainer.ok(f"/drills/{desk.drill_id}/clock/start", {"speed": 60})
        servers = [start_server(url, tmp_path, engine_interval=0.2) for _ in range(2)]
        try:

            def leaders() -> list[Server]:
                states = [
                    httpx.get(f"{s.url}/api/v1/health").json()["engine_leader"]
                    for s in servers
                    if s.process.poll() is None
                ]
                alive = [s for s in servers if s.process.poll() is None]
                return [s for s, lead in zip(alive, states, strict=True) if lead]

            wait_for(lambda: len(leaders()) == 1)
            time.sleep(1)
            assert len(leaders()) == 1
            keys = [desk.receive()["key"] for _ in range(3)]
            leader = leaders()[0]
            other = next(s for s in servers if s is not leader)
            wait_for(lambda: all(breaches(other, desk, k) for k in keys))
            leader.kill()
            assert wait_for(lambda: leaders() == [other])
            late = desk.receive()["key"]
            wait_for(lambda: breaches(other, desk, late))
            time.sleep(1)
            for key in [*keys, late]:
                assert len(breaches(other, desk, key)) == 1
        finally:
            for server in servers:
                server.stop()
    app.state.engine.dispose()
