"""Alembic owns the schema: the chain upgrades, downgrades and upgrades again on both
databases, and the models match what the migrations build."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from deskdrill.db import migrate
from deskdrill.db.base import Base, import_all_models
from tests.conftest import BACKENDS, fresh_database_url


@pytest.fixture(params=BACKENDS)
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return fresh_database_url(request, request.param, tmp_path)


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(empty_db: str) -> None:
    migrate.upgrade(empty_db)
    assert {"tickets", "ticket_events", "users", "api_tokens"} <= _tables(empty_db)
    migrate.downgrade(empty_db, "base")
    assert _tables(empty_db) - {"alembic_version"} == set()
    migrate.upgrade(empty_db)
    assert migrate.current(empty_db) is not None
    assert "ticket_events" in _tables(empty_db)


def test_models_match_migrated_schema(empty_db: str) -> None:
    migrate.upgrade(empty_db)
    import_all_models()
    engine = create_engine(empty_db)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "include_object": migrate.include_object}
            )
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_search_objects_exist_per_backend(empty_db: str) -> None:
    migrate.upgrade(empty_db)
    engine = create_engine(empty_db)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                sql = "SELECT sql FROM sqlite_master WHERE name = 'ticket_search'"
                assert "trigram" in conn.execute(text(sql)).scalar_one()
            else:
                indexes = {i["name"] for i in inspect(conn).get_indexes("messages")}
                assert "ix_messages_body_trgm" in indexes
    finally:
        engine.dispose()
