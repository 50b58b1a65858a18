"""Remembered reads: a watched session answers a read from memory until a statement writes
a table it depends on, on SQLite and PostgreSQL; an unwatched one always reads."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from deskdrill.db import remembered
from deskdrill.db.base import UTCDateTime
from deskdrill.db.engine import make_engine
from deskdrill.settings import Settings

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

_meta = MetaData()
DUE = Table(
    "remembered_due",
    _meta,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime()),
    prefixes=["TEMPORARY"],
)
OTHER = Table(
    "remembered_other", _meta, Column("id", Integer, primary_key=True), prefixes=["TEMPORARY"]
)
_EARLIEST = select(func.min(DUE.c.at))


@pytest.fixture
def session(settings: Settings) -> Iterator[Session]:
    """A session on a connection of its own, with two temporary tables."""
    engine = make_engine(settings)
    with engine.connect() as conn:
        DUE.create(conn)
        OTHER.create(conn)
        conn.commit()  # the tables outlive the session's own rollbacks
        with Session(bind=conn) as session:
            try:
                yield session
            finally:
                session.rollback()
    engine.dispose()


class Counted:
    """The earliest due moment, read from the table, counting the reads."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.reads = 0
        self.limits: list[datetime] = []

    def __call__(self) -> datetime | None:
        self.reads += 1
        return self.session.connection().execute(_EARLIEST).scalar()

    def upto(self, limit: datetime) -> datetime | None:
        self.reads += 1
        self.limits.append(limit)
        query = _EARLIEST.where(DUE.c.at <= limit)
        return self.session.connection().execute(query).scalar()

    def read(self) -> datetime | None:
        return remembered.read(self.session, "earliest", ("remembered_due",), self)


def _add(session: Session, at: datetime) -> None:
    session.connection().execute(DUE.insert().values(at=at))


def test_an_unwatched_session_reads_every_time(session: Session) -> None:
    fetch = Counted(session)
    _add(session, T0)
    assert [fetch.read(), fetch.read()] == [T0, T0]
    assert fetch.reads == 2


@pytest.fixture
def watched(session: Session) -> Iterator[Session]:
    with remembered.watching(session):
        yield session


def test_a_watched_session_reads_again_only_after_its_table_is_written(watched: Session) -> None:
    fetch = Counted(watched)
    _add(watched, T0)
    assert fetch.read() == T0
    assert fetch.read() == T0
    assert fetch.reads == 1
    watched.connection().execute(OTHER.insert().values(id=1))  # not a table it reads
    assert fetch.read() == T0
    assert fetch.reads == 1
    _add(watched, T0 - timedelta(minutes=5))
    assert fetch.read() == T0 - timedelta(minutes=5)
    watched.connection().execute(DUE.update().values(at=T0 + timedelta(hours=1)))
    assert fetch.read() == T0 + timedelta(hours=1)
    assert fetch.reads == 3


@pytest.mark.parametrize(
    "statement",
    [
        'INSERT INTO "remembered_due" (at) VALUES (NULL)',
        "INSERT INTO remembered_due(at) VALUES (NULL)",
        "UPDATE REMEMBERED_DUE SET at = NULL",
    ],
)
def test_quoted_and_unspaced_names_count_as_the_table(watched: Session, statement: str) -> None:
    fetch = Counted(watched)
    fetch.read()
    watched.connection().execute(text(statement))
    fetch.read()
    assert fetch.reads == 2


@pytest.mark.parametrize(
    "statement",
    [
        # A target not in the first words, or cascades that may reach other tables.
        "WITH gone AS (SELECT 1) DELETE FROM remembered_due",
        "DELETE FROM remembered_other",
    ],
)
def test_statements_not_parsed_and_deletes_forget_everything(
    watched: Session, statement: str
) -> None:
    fetch = Counted(watched)
    _add(watched, T0)
    fetch.read()
    watched.connection().execute(text(statement))
    fetch.read()
    assert fetch.reads == 2


def test_a_rollback_to_a_savepoint_forgets_what_it_undid(watched: Session) -> None:
    fetch = Counted(watched)
    _add(watched, T0)
    savepoint = watched.begin_nested()
    _add(watched, T0 - timedelta(minutes=5))
    assert fetch.read() == T0 - timedelta(minutes=5)  # read inside the savepoint
    savepoint.rollback()
    assert fetch.read() == T0
    assert fetch.reads == 2


def test_a_full_rollback_and_a_failed_statement_forget(watched: Session) -> None:
    fetch = Counted(watched)
    _add(watched, T0)
    watched.commit()
    watched.begin()
    _add(watched, T0 - timedelta(minutes=5))
    assert fetch.read() == T0 - timedelta(minutes=5)
    watched.rollback()  # the driver's own rollback: no statement goes by
    assert fetch.read() == T0
    with pytest.raises(DBAPIError):
        watched.connection().execute(text("INSERT INTO remembered_due (id) VALUES ('x')"))
    watched.rollback()
    assert fetch.read() == T0
    assert fetch.reads == 3


def test_a_session_is_watched_once_and_no_longer_after(session: Session) -> None:
    fetch = Counted(session)
    with remembered.watching(session):
        with pytest.raises(RuntimeError, match="already watched"), remembered.watching(session):
            pass
        fetch.read()
        fetch.read()
    fetch.read()
    assert fetch.reads == 2
