"""Savepoints and flushes a session may skip, when it can work its transaction again
instead.

A bot's action and a scenario event each run in a savepoint, so that one refused undoes
only itself, and each action flushes its changes as it ends (``settle``), so that a
conflict is reported by the action that caused it. In a headless run a refusal is rare
(the shipped scenarios have none), while a SAVEPOINT and its RELEASE were a sixth of the
statements the run sent and a flush per action more than a quarter of its time. So the
runner lets its session work *optimistically*: an ``undoable`` block then takes no
savepoint, ``settle`` does not flush, and the changes go in before the next read (the
session autoflushes meanwhile; plain reads on the connection and ``db.remembered`` flush
first), or when the optimistic block ends: several actions' changes to a row in one
UPDATE. A block that fails, or a flush that fails,
raises ``Redo``: the runner rolls back to its last commit and works that stretch again
with real savepoints and a flush per action, which gives the same result as if it had
used them all along. (One thing differs: a ticket's ``version`` counts the UPDATEs that
wrote it, so an optimistic stretch counts fewer. Nothing in the run reads it, and the
trail does not hold it.)

A session that is not ``optimistic`` always takes the savepoint and flushes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

_KEY = "deskdrill.optimistic"


class Redo(BaseException):
    """An optimistic block failed, or a stretch lost a tie with another writer
    (``db.ties``): roll back to the last commit and work that stretch again with
    savepoints. A BaseException, so that handlers which catch Exception (one
    bad event must not stop a drill) let it through."""


@contextmanager
def optimistic(session: Session) -> Iterator[None]:
    """Skip the savepoints of ``undoable`` blocks, and ``settle``'s flushes, while this
    block runs; flush when it ends. A statement that fails in the block, where a flush
    may send any action's changes, becomes ``Redo``."""
    if _KEY in session.info:
        raise RuntimeError("this session already works optimistically")
    session.info[_KEY] = True
    # The project's sessions flush as each action ends, not before a read; one that puts
    # its flushes off must flush before a read instead.
    autoflush, session.autoflush = session.autoflush, True
    try:
        yield
        session.flush()
    except SQLAlchemyError as error:
        raise Redo from error
    finally:
        del session.info[_KEY]
        session.autoflush = autoflush


def settle(session: Session) -> None:
    """An action is done: flush its changes, unless the session works optimistically."""
    if _KEY not in session.info:
        session.flush()


def flush_before_reading(session: Session, tables: tuple[str, ...]) -> None:
    """Flush if the session holds changes to one of ``tables`` (a read of them from
    memory or on the connection, which the autoflush does not reach, is about to be
    made). In a session that flushes each action as it ends there are none to flush."""
    if _KEY not in session.info:
        return
    for instance in (*session.new, *session.dirty, *session.deleted):
        if getattr(instance, "__tablename__", None) in tables:
            session.flush()
            return


@contextmanager
def undoable(session: Session) -> Iterator[None]:
    """A savepoint: if the block raises, what it did is undone and the error goes on.
    In an ``optimistic`` session the error becomes ``Redo`` instead."""
    if _KEY not in session.info:
        with session.begin_nested():
            yield
        return
    try:
        yield
    except Exception as error:
        raise Redo from error
