"""The bulk helpers write exactly what the ORM would, on SQLite and PostgreSQL.

They serve the SLA engine step (thousands of rows per call), so what they report back
(rows inserted, keys claimed, rows changed) decides what the engine records: it is checked
here on a temporary table of this connection, with NULLs, datetimes and JSON text.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    text,
)

from deskdrill.db.base import UTCDateTime
from deskdrill.db.bulk import bind_processor, insert_returning, insert_rows, update_rows
from deskdrill.db.engine import make_engine
from deskdrill.settings import Settings

T0 = datetime(2026, 3, 2, 9, 0, 0, 123456, tzinfo=UTC)

_meta = MetaData()
ITEMS = Table(
    "bulk_items",
    _meta,
    Column("id", Integer, primary_key=True),
    Column("owner", Integer, nullable=False),
    Column("name", String(16), nullable=False),
    Column("note", String(32)),
    Column("at", UTCDateTime()),
    Column("payload", JSON()),
    Column("version", Integer, nullable=False),
    UniqueConstraint("owner", "name"),
    prefixes=["TEMPORARY"],
)
COLUMNS = ("owner", "name", "note", "at", "payload", "version")


@pytest.fixture
def connection(settings: Settings) -> Iterator[Connection]:
    engine = make_engine(settings)
    with engine.connect() as conn:
        ITEMS.create(conn)
        try:
            yield conn
        finally:
            conn.rollback()
    engine.dispose()


def _row(conn: Connection, owner: int, name: str, **values: Any) -> tuple[Any, ...]:
    when = bind_processor(conn.dialect, UTCDateTime())
    fields = {"note": None, "at": None, "payload": None, "version": 1, **values}
    return (owner, name, fields["note"], when(fields["at"]), fields["payload"], fields["version"])


def _stored(conn: Connection) -> list[tuple[Any, ...]]:
    query = ITEMS.select().order_by(ITEMS.c.owner, ITEMS.c.name)
    return [tuple(r)[1:] for r in conn.execute(query)]


class TestInsert:
    def test_counts_rows_and_skips_conflicts(self, connection: Connection) -> None:
        rows = [_row(connection, 1, "a", at=T0), _row(connection, 2, "a"), _row(connection, 1, "b")]
        assert insert_rows(connection, ITEMS, COLUMNS, rows) == 3
        again = [_row(connection, 1, "a"), _row(connection, 3, "c", note="new")]
        inserted = insert_rows(
            connection, ITEMS, COLUMNS, again, skip_conflicts_on=("owner", "name")
        )
        assert inserted == 1
        assert insert_rows(connection, ITEMS, COLUMNS, []) == 0
        assert [(o, n, note) for o, n, note, *_ in _stored(connection)] == [
            (1, "a", None), (1, "b", None), (2, "a", None), (3, "c", "new")
        ]  # fmt: skip

    def test_values_read_back_as_written(self, connection: Connection) -> None:
        payload = '{"timer": "first_response", "due": "2026-03-02T09:00:00+00:00"}'
        rows = [_row(connection, 1, "a", at=T0, payload=payload), _row(connection, 1, "b")]
        insert_rows(connection, ITEMS, COLUMNS, rows)
        first, second = _stored(connection)
        assert first[3] == T0  # microseconds and zone kept
        assert first[4] == {"timer": "first_response", "due": "2026-03-02T09:00:00+00:00"}
        assert second[2:5] == (None, None, None)

    def test_returning_gives_only_the_rows_inserted(self, connection: Connection) -> None:
        insert_rows(connection, ITEMS, COLUMNS, [_row(connection, 1, "a")])
        rows = [_row(connection, 1, "a"), _row(connection, 1, "b"), _row(connection, 2, "a")]
        found = insert_returning(
            connection,
            ITEMS,
            COLUMNS,
            rows,
            skip_conflicts_on=("owner", "name"),
            returning=("owner", "name"),
        )
        assert sorted(found) == [(1, "b"), (2, "a")]


class TestUpdate:
    def test_changes_only_rows_whose_keys_match(self, connection: Connection) -> None:
        insert_rows(connection, ITEMS, COLUMNS, [_row(connection, n, "a") for n in (1, 2, 3)])
        query = ITEMS.select().with_only_columns(ITEMS.c.owner, ITEMS.c.id)
        ids = {owner: id_ for owner, id_ in connection.execute(query)}
        when = bind_processor(connection.dialect, UTCDateTime())
        later = T0 + timedelta(minutes=5)
        changes = [
            ("one", when(later), 2, ids[1], 1),
            ("two", None, 2, ids[2], 7),  # a stale version: left alone
        ]
        changed = update_rows(
            connection, ITEMS, ("note", "at", "version"), ("id", "version"), changes
        )
        assert changed == 1
        stored = {
            owner: (note, at, version) for owner, _, note, at, _, version in _stored(connection)
        }
        assert stored == {1: ("one", later, 2), 2: (None, None, 1), 3: (None, None, 1)}
        assert update_rows(connection, ITEMS, ("note",), ("id",), []) == 0


class TestDatetimes:
    def test_times_written_by_other_means_read_back_as_utc(self, connection: Connection) -> None:
        """deskdrill writes UTC without an offset on SQLite; text written another way (a
        server default, a hand-run statement) may carry one and still reads back right."""
        east = timezone(timedelta(hours=8))
        written: list[Any] = [T0, T0.astimezone(east), T0.replace(microsecond=0)]
        if connection.dialect.name == "sqlite":  # as text, the way SQLite holds them
            written = ["2026-03-02 09:00:00.123456", "2026-03-02 17:00:00.123456+08:00",
                       "2026-03-02 09:00:00"]  # fmt: skip
        for n, value in enumerate(written):
            connection.execute(ITEMS.insert().values(owner=n, name="t", version=1))
            connection.execute(text("UPDATE bulk_items SET at = :at WHERE owner = :n"),
                               {"at": value, "n": n})  # fmt: skip
        read = [row[3] for row in _stored(connection)]  # owner, name, note, at
        assert read == [T0, T0, T0.replace(microsecond=0)]
        assert all(at.tzinfo is UTC for at in read)
