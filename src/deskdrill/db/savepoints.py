"""Savepoints a session may skip, when it can work its transaction again instead.

A bot's action and a scenario event each run in a savepoint, so that one refused undoes
only itself. In a headless run a refusal is rare (the shipped scenarios have none), while
a SAVEPOINT and its RELEASE are a sixth of the statements the run sends. So the runner
lets its session work *optimistically*: an ``undoable`` block then only flushes, before
and after, as a savepoint would, and a block that fails raises ``Redo``. The runner rolls
back to its last commit and works that stretch again with real savepoints, which gives
the same result as if it had used them all along.

A session that is not ``optimistic`` always takes the savepoint.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

_KEY = "deskdrill.optimistic"


class Redo(BaseException):
    """An optimistic block failed: roll back to the last commit and work that stretch
    again with savepoints. A BaseException, so that handlers which catch Exception (one
    bad event must not stop a drill) let it through."""


@contextmanager
def optimistic(session: Session) -> Iterator[None]:
    """Skip the savepoints of ``undoable`` blocks while this block runs."""
    if _KEY in session.info:
        raise RuntimeError("this session already works optimistically")
    session.info[_KEY] = True
    try:
        yield
    finally:
        del session.info[_KEY]


@contextmanager
def undoable(session: Session) -> Iterator[None]:
    """A savepoint: if the block raises, what it did is undone and the error goes on.
    In an ``optimistic`` session the error becomes ``Redo`` instead."""
    if _KEY not in session.info:
        with session.begin_nested():
            yield
        return
    session.flush()  # as a savepoint flushes when it begins
    try:
        yield
        session.flush()  # and when it is released
    except Exception as error:
        raise Redo from error
