"""Everything a session that is the only writer of a drill's rows may keep in memory of its
own writes (see ``db.kept`` and ``db.remembered``), entered and left together.

Two kinds of session are: the headless runner's, on a database of its own, and a catch-up
transaction on SQLite, which holds the database's write lock (BEGIN IMMEDIATE) from its
first statement to its commit. Another domain may register a record of its own in
``KEPT`` (the scenario engine's agenda).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from deskdrill.customers.service import OrderNumbers
from deskdrill.db import remembered
from deskdrill.db.deferred import Deferred, Ids
from deskdrill.db.kept import Kept
from deskdrill.tickets.conversation import Conversation
from deskdrill.tickets.desks import Desks
from deskdrill.tickets.ledger import Ledger
from deskdrill.tickets.next_checks import NextChecks
from deskdrill.tickets.recording import Trail

KEPT: list[type[Kept]] = [NextChecks, Deferred, Ids, Conversation, Desks, OrderNumbers, Ledger]


@contextmanager
def keeping(session: Session, bind: Connection | None = None) -> Iterator[Trail]:
    """Keep every record of ``KEPT``, the trail and remembered reads while the block runs
    (``bind``: the connection of the transaction that is the only writer, when the
    session's engine is shared); yields the trail."""
    with ExitStack() as stack:
        stack.enter_context(remembered.watching(session, bind))
        trail = stack.enter_context(Trail.keeping(session))
        for kind in KEPT:
            stack.enter_context(kind.keeping(session))
        yield trail
