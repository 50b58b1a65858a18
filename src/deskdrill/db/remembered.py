"""Reads a session may answer from memory until a table they depend on is written.

For a session that is the only writer of what it reads (the headless runner, whose drill
nobody else touches): the engines' loop asks the same few questions (the next scheduled
moment, the next SLA check, the newest trail event) several times per simulated moment,
and most of the time nothing they depend on has changed in between. Each answer is kept
with the tables it was read from, and dropped at the first statement that writes one of
them; a statement whose target is not plain to see, and any rollback, drop them all.

A session without ``watch`` reads as before: every call goes to the database.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import Session

T = TypeVar("T")
_KEY = "remembered"
# Where an "earliest moment up to a limit" read looks when it is remembered: one answer
# then serves every limit.
HORIZON = datetime(9999, 1, 1, tzinfo=UTC)
_READS = frozenset({"SELECT", "SAVEPOINT", "RELEASE", "BEGIN", "COMMIT", "PRAGMA"})


class Memory:
    """The answers kept for one session, and the tables each depends on."""

    def __init__(self, bind: Engine | Connection) -> None:
        self.bind = bind
        self.answers: dict[Hashable, Any] = {}
        self.tables: dict[str, set[Hashable]] = {}
        event.listen(bind, "after_cursor_execute", self._written)

    def close(self) -> None:
        event.remove(self.bind, "after_cursor_execute", self._written)
        self.forget()

    def forget(self) -> None:
        self.answers.clear()
        self.tables.clear()

    def keep(self, key: Hashable, tables: tuple[str, ...], value: Any) -> None:
        self.answers[key] = value
        for table in tables:
            self.tables.setdefault(table, set()).add(key)

    def _written(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not self.answers:
            return
        words = statement.split(None, 3)
        head = words[0].upper() if words else ""
        if head in _READS:
            return
        table = _target(head, words)
        if table is None:  # a rollback, DDL, or a statement not parsed here
            self.forget()
            return
        for key in self.tables.pop(table, ()):
            self.answers.pop(key, None)


def _target(head: str, words: list[str]) -> str | None:
    """The table an INSERT, UPDATE or DELETE writes, from its first words."""
    if head == "UPDATE" and len(words) > 1:
        return words[1].strip('"')
    if head in _INTO and len(words) > 2 and words[1].upper() == _INTO[head]:
        return words[2].strip('"').split("(", 1)[0]
    return None


_INTO = {"INSERT": "INTO", "DELETE": "FROM"}


def watch(session: Session) -> Memory:
    """Let ``session`` remember reads (see ``read``) until it is closed or ``unwatch``."""
    memory = Memory(session.get_bind())
    session.info[_KEY] = memory
    return memory


def unwatch(session: Session) -> None:
    memory = session.info.pop(_KEY, None)
    if memory is not None:
        memory.close()


def read(session: Session, key: Hashable, tables: tuple[str, ...], fetch: Callable[[], T]) -> T:
    """``fetch()``, or what it gave last time if ``session`` is watched and none of
    ``tables`` has been written since."""
    memory: Memory | None = session.info.get(_KEY)
    if memory is None:
        return fetch()
    if key in memory.answers:
        return memory.answers[key]  # type: ignore[no-any-return]
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
