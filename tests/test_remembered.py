"""Remembered reads: a watched session answers a read from memory until a statement writes
a table it depends on, on SQLite and PostgreSQL; an unwatched one always reads."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, func, select, text
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
    engine = make_engine(settings)
    with engine.connect() as conn:
        DUE.create(conn)
        OTHER.create(conn)
        with Session(bind=conn) as session:
            try:
                yield session
            finally:
                remembered.unwatch(session)
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


def test_a_watched_session_reads_again_only_after_its_table_is_written(session: Session) -> None:
    remembered.watch(session)
    fetch = Counted(session)
    _add(session, T0)
    assert fetch.read() == T0
    assert fetch.read() == T0
    assert fetch.reads == 1
    session.connection().execute(OTHER.insert().values(id=1))  # not a table it reads
    assert fetch.read() == T0
    assert fetch.reads == 1
    _add(session, T0 - timedelta(minutes=5))
    assert fetch.read() == T0 - timedelta(minutes=5)
    session.connection().execute(DUE.update().values(at=T0 + timedelta(hours=1)))
    assert fetch.read() == T0 + timedelta(hours=1)
    session.connection().execute(DUE.delete())
    assert fetch.read() is None
    assert fetch.reads == 4


def test_a_rollback_forgets_what_it_undid(session: Session) -> None:
    remembered.watch(session)
    fetch = Counted(session)
    _add(session, T0)
    savepoint = session.begin_nested()
    _add(session, T0 - timedelta(minutes=5))
    assert fetch.read() == T0 - timedelta(minutes=5)  # read inside the savepoint
    savepoint.rollback()
    assert fetch.read() == T0
    assert fetch.reads == 2


def test_a_statement_not_parsed_forgets_everything(session: Session) -> None:
    remembered.watch(session)
    fetch = Counted(session)
    _add(session, T0)
    assert fetch.read() == T0
    # A statement whose target is not in its first words: nothing is kept past it.
    session.connection().execute(text("WITH gone AS (SELECT 1) DELETE FROM remembered_due"))
    assert fetch.read() is None
    assert fetch.reads == 2


def test_earliest_compares_the_limit_itself_when_watched(session: Session) -> None:
    fetch = Counted(session)
    _add(session, T0)
    found = remembered.earliest(session, "due", ("remembered_due",), fetch.upto, T0)
    assert found == T0
    assert fetch.limits == [T0]  # unwatched: the database applies the limit

    remembered.watch(session)
    early, later = T0 - timedelta(seconds=1), T0 + timedelta(hours=3)
    answers = [
        remembered.earliest(session, "due", ("remembered_due",), fetch.upto, limit)
        for limit in (early, T0, later)
    ]
    assert answers == [None, T0, T0]
    assert fetch.limits == [T0, remembered.HORIZON]  # one read serves every limit
