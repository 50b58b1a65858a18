"""Fixtures shared by the suite.

Every test that takes ``api`` (or ``db_url``) runs twice: on SQLite and on PostgreSQL.
The PostgreSQL server is a throwaway one started from the machine's binaries and stopped
by process id at the end. The schema is built by the Alembic migrations, never by
``create_all``. Tests isolate themselves by working in their own drill with their own
users, since the trail table refuses the DELETE a truncate-between-tests would need.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from deskdrill.app import create_app
from deskdrill.cli.main import app as cli
from deskdrill.db import migrate
from deskdrill.db.engine import make_engine, make_sessionmaker
from deskdrill.settings import Settings
from tests.support.factories import Factory
from tests.support.pgserver import PgServer, start_postgres

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


_counter = itertools.count()


def fresh_database_url(request: pytest.FixtureRequest, backend: str, tmp: Path) -> str:
    """An empty database of the given backend."""
    name = f"deskdrill_{os.getpid()}_{next(_counter)}"
    if backend == "sqlite":
        return f"sqlite:///{tmp / (name + '.db')}"
    server: PgServer = request.getfixturevalue("pg_server")
    return server.create_database(name)


@pytest.fixture(scope="session", params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database migrated to head, shared by the tests of one backend."""
    url = fresh_database_url(request, request.param, tmp_path_factory.mktemp("db"))
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session")
def settings(db_url: str) -> Settings:
    # No token cache: tests change tokens behind the app's back and expect it to see.
    # No engine loop: tests move simulated time themselves and read what is due.
    return Settings(
        env="test",
        database_url=db_url,
        secret_key="test-secret-key-0123456789",
        token_cache_seconds=0,
        engine_interval_seconds=0,
    )


@pytest.fixture(scope="session")
def app(settings: Settings) -> Any:
    application = create_app(settings)
    yield application
    application.state.engine.dispose()


@pytest.fixture(scope="session")
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def session_factory(app: Any) -> sessionmaker[Session]:
    return app.state.session_factory


@pytest.fixture
def factory(client: TestClient, session_factory: sessionmaker[Session]) -> Factory:
    return Factory(client, session_factory)


@pytest.fixture
def engine_for(settings: Settings) -> Any:
    engines = []

    def make(**overrides: Any) -> Any:
        engine = make_engine(settings, **overrides)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.dispose()


@pytest.fixture
def sessions(settings: Settings) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(settings)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def run(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run the ``deskdrill`` command in-process against the test database."""
    monkeypatch.setenv("DESKDRILL_DATABASE_URL", db_url)
    monkeypatch.setenv("DESKDRILL_ENV", "test")
    monkeypatch.setenv("DESKDRILL_SECRET_KEY", "cli-test-secret-0123456789")
    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
        result = runner.invoke(cli, list(args), env=env)
        return result.exit_code, result.output

    return invoke
