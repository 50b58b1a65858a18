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

from typing import Any

from sqlalchemy import Executable
from sqlalchemy.orm import Session

from deskdrill.db.journal import Journal


class Deferred(Journal):
    key = "deskdrill.deferred"

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
        """Send what was put off: each statement's rows together, in the order written.
        Only rows that no other statement put off depends on belong here, so the order
        between statements is free; rows of one statement keep theirs (and so their ids)."""
        kept = cls.of(session)
        if kept is None or not kept.entries:
            return
        batches: dict[int, tuple[Executable, list[dict[str, Any]]]] = {}
        for statement, params in kept.drain():
            batches.setdefault(id(statement), (statement, []))[1].append(params)
        connection = session.connection()
        for statement, rows in batches.values():
            connection.execute(statement, rows)
