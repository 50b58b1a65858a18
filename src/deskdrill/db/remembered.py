"""Reads a session may answer from memory until a table they depend on is written.

For a session that is the only writer of what it reads, on an engine of its own (the
headless runner, whose drill and database nobody else touches): some questions (a
drill's trainees, a ticket's pending approvals) are asked again and again while nothing
they depend on changes. Each answer is kept with the tables it was read from, and dropped
at the first statement that writes one of them. A DELETE (whose cascades reach other
tables), a statement whose target is not plain to see, a failed statement and any
rollback drop them all.

Answers are what the database holds: like the plain connection reads they stand for,
they do not flush pending ORM changes first (the project's sessions flush as each action
ends, not before a read), except in a session that puts those flushes off (see
``db.savepoints``), which flushes changes to the tables a read depends on before it.

A session that is not ``watching`` reads as before: every call goes to the database.
Answers that change at nearly every write are better noted by their writers instead
(see ``db.kept``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import Session

from deskdrill.db import savepoints

T = TypeVar("T")
_KEY = "deskdrill.remembered"
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
def watching(session: Session, bind: Engine | Connection | None = None) -> Iterator[Memory]:
    """Let ``session`` remember reads (see ``read``) while the block runs. Its bind (or
    ``bind``, the connection of a transaction nobody else may write in) must be its own:
    statements of other sessions on the same engine count as its writes, and writes from
    other processes are not seen at all."""
    if _KEY in session.info:
        raise RuntimeError("this session is already watched")
    memory = session.info[_KEY] = Memory(bind if bind is not None else session.get_bind())
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
    savepoints.flush_before_reading(session, tables)
    found = memory.answers.get(key, _MISSING)
    if found is not _MISSING:
        return cast(T, found)
    value = fetch()
    memory.keep(key, tables, value)
    return value
