"""Writes a session may put off until it commits, for rows nothing reads back before then.

The headless runner writes rows that its steps seldom or never read again: the trail's
events, the search index of each message, the done mark of each scheduled event. One
statement each cost more than the run's own work on them. A session that keeps
``Deferred`` collects them, and sends each statement's rows as one executemany when it
flushes them: before it commits, and before a read of what they change (or of what must
follow them in id order, as other writers of trail events do). Rows put off in a
transaction that is rolled back go with it (a journal). A session that defers nothing
writes at once, as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Self

from sqlalchemy import Executable, TextClause
from sqlalchemy.orm import Session

from deskdrill.db.journal import Journal


class Deferred(Journal):
    key = "deskdrill.deferred"

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
            kept.entries.append((statement, params))

    @classmethod
    def flush(cls, session: Session) -> None:
        """Send what was put off: each statement's rows together, in the order written,
        inserts first (an update put off may be of a row inserted since the last flush).
        Otherwise only rows that no other statement put off depends on belong here, so the
        order between statements is free; rows of one statement keep theirs (and so their
        ids)."""
        kept = cls.of(session)
        if kept is None or not kept.entries:
            return
        batches: dict[int, tuple[Executable, list[dict[str, Any]]]] = {}
        for statement, params in kept.drain():
            batches.setdefault(id(statement), (statement, []))[1].append(params)
        connection = session.connection()
        for statement, rows in sorted(batches.values(), key=lambda b: not _inserts(b[0])):
            connection.execute(statement, rows)


def _inserts(statement: Executable) -> bool:
    if isinstance(statement, TextClause):
        return statement.text.lstrip()[:6].upper() == "INSERT"
    return bool(getattr(statement, "is_insert", False))
