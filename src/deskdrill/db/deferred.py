"""Writes a session may put off until it commits, for rows nothing reads back before then.

The headless runner writes rows that its steps seldom or never read again: the trail's
events, the search index of each message, the done mark of each scheduled event. One
statement each cost more than the run's own work on them. A session that keeps
``Deferred`` collects them, and sends each statement's rows as one executemany when it
flushes them: before it commits, and before a read of what they change (or of what must
follow them in id order, as other writers of trail events do). Rows put off in a
transaction that is rolled back go with it (a journal). A session that defers nothing
writes at once, as before.

New rows that the session holds as objects from the start (a ticket, its order and its
scenario link, which the run reads and changes from memory) can be put off too, when the
session also keeps ``Ids`` to hand out their ids: ``insert_later``. Those are *early*
rows: the session sends them before any other statement it executes, since any may read
them, update them or refer to them. Whatever is put off when a savepoint is taken is sent
just before, so that rolling the savepoint back undoes only what was written in it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any, Self, TypeVar

from sqlalchemy import (
    Connection,
    Executable,
    Insert,
    Table,
    TextClause,
    event,
    func,
    insert,
    select,
)
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.sql.expression import (
    ReleaseSavepointClause,
    RollbackToSavepointClause,
    SavepointClause,
)

from deskdrill.db.base import Base
from deskdrill.db.journal import Journal
from deskdrill.db.kept import Kept, attach, insert_now, row_of

T = TypeVar("T")
_SAVEPOINT_CLAUSES = (SavepointClause, ReleaseSavepointClause, RollbackToSavepointClause)
Entry = tuple[Executable, dict[str, Any], bool]  # statement, row, whether an early row


class Deferred(Journal):
    key = "deskdrill.deferred"

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.early = 0  # early rows held
        self.watched: Connection | None = None
        # Savepoints begun but not yet taken: SQLAlchemy takes one at the first statement
        # inside it, and what is put off inside must be held until then (see ``hold``).
        self.untaken: set[SessionTransaction] = set()
        event.listen(session, "after_transaction_create", self._created)
        event.listen(session, "after_transaction_end", self._ended)
        event.listen(session, "before_commit", self._before_commit)
        event.listen(session, "after_begin", self._watch)
        if session.in_transaction():
            self._watch(session, None, session.connection())

    def close(self) -> None:
        event.remove(self.session, "after_begin", self._watch)
        event.remove(self.session, "after_transaction_create", self._created)
        event.remove(self.session, "after_transaction_end", self._ended)
        event.remove(self.session, "before_commit", self._before_commit)
        self._unwatch()
        super().close()

    @classmethod
    @contextmanager
    def keeping(cls, session: Session) -> Iterator[Self]:
        """As ``Kept.keeping``; what is still put off when the block ends is sent then,
        rather than dropped with the block (unless the block fails)."""
        with super().keeping(session) as kept:
            yield kept
            cls.flush(session)

    @classmethod
    def write(cls, session: Session, statement: Executable, params: dict[str, Any]) -> None:
        """Execute ``statement`` with ``params`` now, or when the session flushes what it
        has put off."""
        kept = cls.of(session)
        if kept is None:
            session.connection().execute(statement, params)
        else:
            kept.hold((statement, params, False))

    @classmethod
    def insert_row(cls, session: Session, table: Table, row: dict[str, Any]) -> bool:
        """Put off the insert of ``row`` into ``table`` as an early row, giving it the
        table's next id if it has none; False (write it yourself) unless the session
        keeps both ``Deferred`` and ``Ids``."""
        kept, ids = cls.of(session), Ids.of(session)
        if kept is None or ids is None:
            return False
        (key,) = table.primary_key.columns
        if row.get(key.key) is None:
            row[key.key] = ids.next(table)
        # The row as it is now: lists and dicts on the object may change before it is sent.
        frozen = {k: copy.deepcopy(v) if isinstance(v, list | dict) else v for k, v in row.items()}
        kept.hold((_insert_into(table), frozen, True))
        kept.early += 1
        return True

    @classmethod
    def flush(cls, session: Session) -> None:
        """Send what was put off: each statement's rows together, in the order written,
        inserts first and those of a table before the tables that refer to it (an update
        put off may be of a row inserted since the last flush, an event of a ticket).
        Otherwise only rows that no other statement put off depends on belong here, so the
        order between statements is free; rows of one statement keep theirs (and so their
        ids)."""
        kept = cls.of(session)
        if kept is not None and kept.entries:
            kept._send(session.connection())

    def _send(self, connection: Connection) -> None:
        batches: dict[int, tuple[Executable, list[dict[str, Any]]]] = {}
        for statement, params, _early in self.drain():
            batches.setdefault(id(statement), (statement, []))[1].append(params)
        self.early = 0
        for statement, rows in sorted(batches.values(), key=lambda b: _rank(b[0])):
            connection.execute(statement, rows)

    def hold(self, entry: Entry) -> None:
        """Put off ``entry``. In a savepoint not yet taken, the session takes it first
        (what is held from before then goes before it, see ``_before_savepoint``), so that
        the savepoint's rollback takes back just what was put off inside it."""
        if self.untaken:
            self.session.connection()
        self.entries.append(entry)

    def forget(self, entries: list[Any]) -> None:
        self.early -= sum(early for _statement, _params, early in entries)

    def _watch(self, _session: Session, _transaction: object, connection: Connection) -> None:
        """Every statement of the session passes its connection, the ORM's and plain
        ones alike: the early rows go first."""
        self._unwatch()
        event.listen(connection, "before_execute", self._before_execute)
        event.listen(connection, "savepoint", self._before_savepoint)
        self.watched = connection

    def _unwatch(self) -> None:
        if self.watched is not None:
            if event.contains(self.watched, "before_execute", self._before_execute):
                event.remove(self.watched, "before_execute", self._before_execute)
            if event.contains(self.watched, "savepoint", self._before_savepoint):
                event.remove(self.watched, "savepoint", self._before_savepoint)
            self.watched = None

    def _before_execute(self, connection: Connection, statement: object, *_args: object) -> None:
        # Not amid taking or leaving a savepoint, whose statements pass here too.
        if self.early and not isinstance(statement, _SAVEPOINT_CLAUSES):
            self._send(connection)  # clears ``early`` before it executes anything

    def _before_savepoint(self, connection: Connection, _name: str) -> None:
        """What was put off before a savepoint is sent before it is taken: sent inside it,
        a rollback of the savepoint would take the rows away while the journal, which
        handed them on, could no longer give them back. Nothing held was put off inside
        it (``hold``), and its enclosing savepoints are taken with it."""
        self.untaken.clear()
        if self.entries:
            self._send(connection)

    def _before_commit(self, session: Session) -> None:
        Deferred.flush(session)  # what is put off belongs to the transaction that commits

    def _created(self, _session: Session, transaction: SessionTransaction) -> None:
        if transaction.nested:
            self.untaken.add(transaction)

    def _ended(self, _session: Session, transaction: SessionTransaction) -> None:
        self.untaken.discard(transaction)


class Ids(Kept):
    """The next id of each table whose rows a session puts off (``Deferred.insert_row``),
    for a session that is the only writer of its database: the highest id is read once
    (after sending what was put off) and again after any rollback, and each row gets the
    one after, as SQLite would give it. Only on SQLite: PostgreSQL's sequences would not
    know of the ids handed out."""

    key = "deskdrill.ids"

    def __init__(self, session: Session) -> None:
        if session.get_bind().dialect.name != "sqlite":
            raise RuntimeError("a session hands out ids of its own only on SQLite")
        super().__init__(session)
        self.last: dict[str, int] = {}
        event.listen(session, "after_soft_rollback", self._forget)

    def close(self) -> None:
        event.remove(self.session, "after_soft_rollback", self._forget)

    def next(self, table: Table) -> int:
        last = self.last.get(table.name)
        if last is None:
            Deferred.flush(self.session)  # rows put off hold ids of their own
            (key,) = table.primary_key.columns
            read = select(func.max(key))
            last = self.session.connection().execute(read).scalar() or 0
        self.last[table.name] = last + 1
        return last + 1

    def _forget(self, *_args: object) -> None:
        self.last.clear()


def insert_later(session: Session, instance: T) -> T:
    """``instance`` (new) attached as written, its row put off as an early row with its
    id handed out by ``Ids`` (see ``Deferred.insert_row``); written at once
    (``kept.insert_now``) in a session that keeps neither."""
    if Deferred.of(session) is None or Ids.of(session) is None:
        return insert_now(session, instance)
    table, row, generated = row_of(instance)
    Deferred.insert_row(session, table, row)
    if generated is not None:
        setattr(instance, generated[1], row[generated[0].key])
    return attach(session, instance)


@cache
def _insert_into(table: Table) -> Insert:
    return insert(table)


def _rank(statement: Executable) -> tuple[bool, int]:
    """Inserts first, a table's before those of tables that refer to it."""
    ranks = _ranks()
    if isinstance(statement, TextClause):
        inserts = statement.text.lstrip()[:6].upper() == "INSERT"
        return (not inserts, len(ranks))  # a virtual table, which nothing refers to
    if isinstance(statement, Insert):
        return (False, ranks.get(statement.table.name, 0))  # type: ignore[attr-defined]
    return (True, 0)


@cache
def _ranks() -> dict[str, int]:
    """Each table's place in an order where the tables a table refers to come first."""
    return {table.name: rank for rank, table in enumerate(Base.metadata.sorted_tables)}
