"""What a session keeps in memory of its own writes, so as not to read them back.

For a session that is the only writer of what it keeps (the headless runner, whose drill
and database nobody else touches). Each kind of record is a subclass, kept under its own
key while a ``keeping`` block runs; writers reach it through ``of``, which gives None for
a session that keeps none, so the live server reads and writes as before.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import cache
from typing import Any, ClassVar, Generic, Self, TypeVar

from sqlalchemy import Column, Table, event, insert, inspect
from sqlalchemy.orm import Session, make_transient_to_detached


class Kept:
    key: ClassVar[str]

    def __init__(self, session: Session) -> None:
        self.session = session

    def close(self) -> None:
        """The block has ended: stop following the session."""

    @classmethod
    @contextmanager
    def keeping(cls, session: Session) -> Iterator[Self]:
        if cls.key in session.info:
            raise RuntimeError(f"this session already keeps {cls.key}")
        kept = session.info[cls.key] = cls(session)
        try:
            yield kept
        finally:
            del session.info[cls.key]
            kept.close()

    @classmethod
    def of(cls, session: Session) -> Self | None:
        kept: Self | None = session.info.get(cls.key)
        return kept


class PerDrill(Kept):
    """Something per drill, read from the database at the first question about a drill
    and again after any rollback (which may have undone writes noted since)."""

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.drills: dict[int, Any] = {}
        event.listen(session, "after_soft_rollback", self._forget)

    def close(self) -> None:
        event.remove(self.session, "after_soft_rollback", self._forget)

    def _forget(self, *_args: object) -> None:
        self.drills.clear()


K = TypeVar("K", int, str)
T = TypeVar("T")


class Earliest(Generic[K]):
    """A moment per key, and a heap of (moment, key) in which an entry that is no longer
    its key's moment leaves when it reaches the top: the earliest at hand while moments
    change."""

    def __init__(self, items: Iterable[tuple[K, datetime]]) -> None:
        self.at: dict[K, datetime] = dict(items)
        self.heap = [(when, key) for key, when in self.at.items()]
        heapq.heapify(self.heap)

    def set(self, key: K, when: datetime | None) -> None:
        if when is None:
            self.at.pop(key, None)
        elif self.at.get(key) != when:
            self.at[key] = when
            heapq.heappush(self.heap, (when, key))

    def first(self) -> tuple[datetime, K] | None:
        """The earliest moment and its key, or None."""
        while self.heap and self.at.get(self.heap[0][1]) != self.heap[0][0]:
            heapq.heappop(self.heap)
        return self.heap[0] if self.heap else None


def insert_now(session: Session, instance: T) -> T:
    """``instance`` (new) written at once with one plain INSERT and attached, as a flush
    for its id would write it, but without flushing every other pending change with it
    (which a session that puts its flushes off, see ``db.savepoints``, would otherwise pay
    at each new row). Columns left unset take their default, on the object too."""
    table, row, generated = row_of(instance)
    statement = insert(table)
    if generated is None:
        session.connection().execute(statement, row)
    else:
        new_id = session.connection().execute(statement.returning(generated[0]), row).scalar_one()
        setattr(instance, generated[1], new_id)
    return attach(session, instance)


def row_of(instance: object) -> tuple[Table, dict[str, Any], tuple[Column[Any], str] | None]:
    """The table, the row a new ``instance`` makes (unset columns take their default, on
    the object too) and, when the database hands out its id, that column and attribute."""
    mapper = inspect(type(instance))
    table = mapper.local_table
    row: dict[str, Any] = {}
    generated = None
    for column in table.columns:
        attr = mapper.get_property_by_column(column).key
        if attr not in instance.__dict__:
            if column.primary_key and column.autoincrement in (True, "auto"):
                generated = (column, attr)
                continue
            default = column.default
            if default is None:
                value = None
            elif default.is_callable:
                value = default.arg(None)  # type: ignore[attr-defined]
            else:
                value = default.arg  # type: ignore[attr-defined]
            setattr(instance, attr, value)
        row[column.key] = getattr(instance, attr)
    assert isinstance(table, Table)
    return table, row, generated


def held(session: Session, cls: type[T], ident: Any) -> T | None:
    """``session.get(cls, ident)``, first from the identity map by hand: the runner asks
    for rows it holds some hundred thousand times a shift, and the map is one dict lookup
    where ``get`` is a dozen calls. An expired object loads as it would from ``get``."""
    key = (_identity_class(cls), ident if isinstance(ident, tuple) else (ident,), None)
    found = session.identity_map.get(key)
    return found if found is not None else session.get(cls, ident)  # type: ignore[return-value]


def held_one(session: Session, cls: type[T], ident: Any) -> T:
    """``held``, or the error ``session.get_one`` raises for a row that does not exist."""
    found = held(session, cls, ident)
    return found if found is not None else session.get_one(cls, ident)


@cache
def _identity_class(cls: type) -> type:
    return inspect(cls).base_mapper.class_


def attach(session: Session, instance: T) -> T:
    """``instance``, a row just inserted with a plain statement, made a loaded persistent
    object of ``session`` without reading it back. A rolled back savepoint leaves what was
    attached in it in the identity map (the session never knew it as new), so an object
    held under the same identity is let go first."""
    key = inspect(type(instance)).identity_key_from_instance(instance)
    held = session.identity_map.get(key)
    if held is not None:
        session.expunge(held)
    make_transient_to_detached(instance)
    session.add(instance)
    return instance


# A session event for each way an object comes to be held: read, written, or written with
# a plain statement and then attached.
_HELD_EVENTS = ("loaded_as_persistent", "pending_to_persistent", "detached_to_persistent")


@contextmanager
def kept_loaded(session: Session, kinds: tuple[type, ...] = (object,)) -> Iterator[list[object]]:
    """Hold each object of ``kinds`` the session reads or writes while the block runs.
    The identity map holds objects weakly, so a row read again and again by a long piece
    of work (a run, a catch-up) would otherwise be loaded anew each time. Clear the list
    yielded to let go of them (after a rollback)."""
    kept: list[object] = []

    def keep(_session: Session, instance: object) -> None:
        if isinstance(instance, kinds):
            kept.append(instance)

    for name in _HELD_EVENTS:
        event.listen(session, name, keep)
    try:
        yield kept
    finally:
        for name in _HELD_EVENTS:
            event.remove(session, name, keep)
