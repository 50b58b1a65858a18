"""Reads a session may answer from memory until a table they depend on is written.

For a session that is the only writer of what it reads, on an engine of its own (the
headless runner, whose drill and database nobody else touches): the engines' loop asks
the same few questions (the next scheduled moment, the next SLA check, the newest trail
event) several times per simulated moment, and most of the time nothing they depend on
has changed in between. Each answer is kept with the tables it was read from, and dropped
at the first statement that writes one of them. A DELETE (whose cascades reach other
tables), a statement whose target is not plain to see, a failed statement and any
rollback drop them all.

Answers are what the database holds: like the plain connection reads they stand for,
they do not flush pending ORM changes first (the project's sessions do not autoflush).

A session that is not ``watching`` reads as before: every call goes to the database.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import Session

T = TypeVar("T")
_KEY = "deskdrill.remembered"
# Where an "earliest moment up to a limit" read looks when it is remembered: one answer
# then serves every limit.
HORIZON = datetime(9999, 1, 1, tzinfo=UTC)
_READS = frozenset({"SELECT", "SAVEPOINT", "RELEASE", "BEGIN", "COMMIT", "PRAGMA"})
_NAME = re.compile(r"[a-z_][a-z0-9_]*")
_MISSING = object()


class Memory:
    """The answers kept for one session, and the tables each depends on."""

    def __init__(self, bind: Engine | Connection) -> None:
        self.bind = bind
        self.answers: dict[Hashable, Any] = {}
        self.tables: dict[str, set[Hashable]] = {}
        # Before the statement runs, so that one failing halfway has been counted too.
        event.listen(bind, "before_cursor_execute", self._written)
        event.listen(bind, "rollback", self._undone)

    def close(self) -> None:
        event.remove(self.bind, "before_cursor_execute", self._written)
        event.remove(self.bind, "rollback", self._undone)
        self.forget()

    def forget(self) -> None:
        self.answers.clear()
        self.tables.clear()

    def keep(self, key: Hashable, tables: tuple[str, ...], value: Any) -> None:
        self.answers[key] = value
        for table in tables:
            self.tables.setdefault(table, set()).add(key)

    def _undone(self, *_args: Any) -> None:
        self.forget()

    def _written(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not self.answers:
            return
        words = statement.split(None, 3)
        head = words[0].upper() if words else ""
        if head in _READS:
            return
        table = _target(head, words)
        if table is None:  # a rollback, a DELETE, DDL, or a statement not parsed here
            self.forget()
            return
        for key in self.tables.pop(table, ()):
            self.answers.pop(key, None)


def _target(head: str, words: list[str]) -> str | None:
    """The table an INSERT or UPDATE writes, from its first words; None when unsure."""
    if head == "UPDATE" and len(words) > 1:
        name = words[1]
    elif head == "INSERT" and len(words) > 2 and words[1].upper() == "INTO":
        name = words[2]
    else:
        return None
    # "tickets", "tickets(id, …", '"tickets"', "public.tickets": the last part, bare.
    name = name.split("(", 1)[0].rsplit(".", 1)[-1].strip('"').lower()
    return name if _NAME.fullmatch(name) else None


@contextmanager
def watching(session: Session) -> Iterator[Memory]:
    """Let ``session`` remember reads (see ``read``) while the block runs. Its bind must
    be its own: statements of other sessions on the same engine count as its writes,
    and writes from other processes are not seen at all."""
    if _KEY in session.info:
        raise RuntimeError("this session is already watched")
    memory = session.info[_KEY] = Memory(session.get_bind())
    try:
        yield memory
    finally:
        del session.info[_KEY]
        memory.close()


def read(session: Session, key: Hashable, tables: tuple[str, ...], fetch: Callable[[], T]) -> T:
    """``fetch()``, or what it gave last time if ``session`` is watched and none of
    ``tables`` has been written since."""
    memory: Memory | None = session.info.get(_KEY)
    if memory is None:
        return fetch()
    found = memory.answers.get(key, _MISSING)
    if found is not _MISSING:
        return cast(T, found)
    value = fetch()
    memory.keep(key, tables, value)
    return value


def earliest(
    session: Session,
    key: Hashable,
    tables: tuple[str, ...],
    fetch: Callable[[datetime], datetime | None],
    upto: datetime,
) -> datetime | None:
    """``fetch(upto)``: the earliest moment of something up to ``upto``, or None. A watched
    session remembers the earliest moment of all and compares it with ``upto`` itself."""
    if _KEY not in session.info:
        return fetch(upto)
    found = read(session, key, tables, lambda: fetch(HORIZON))
    return found if found is not None and found <= upto else None
