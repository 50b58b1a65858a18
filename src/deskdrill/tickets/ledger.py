"""The compensations and order actions of each ticket a session opened, kept by that
session (the headless runner's), so that the simulated customers and bots ask them of
memory and not of the tables.

Writers note each ticket opened and each record added; the records are the session's own
loaded objects, so a decision or a payment made since is seen as it stands. A rollback
takes back what it undid (a journal). A ticket the session did not open, or a session
that keeps no ledger, gets None: the caller reads the tables.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from deskdrill.db.journal import Indexed
from deskdrill.tickets.models import Compensation, OrderAction

Entry = tuple[int, Compensation | OrderAction | None]  # None: the ticket was opened


class Ledger(Indexed):
    key = "deskdrill.ledger"

    @staticmethod
    def key_of(entry: Entry) -> int:
        return entry[0]

    @classmethod
    def opened(cls, session: Session, ticket_id: int) -> None:
        cls.note(session, ((ticket_id, None),))

    @classmethod
    def added(cls, session: Session, record: Compensation | OrderAction) -> None:
        cls.note(session, ((record.ticket_id, record),))

    @classmethod
    def compensations(cls, session: Session, ticket_id: int) -> list[Compensation] | None:
        held = cls._held(session, ticket_id)
        return None if held is None else [r for r in held if isinstance(r, Compensation)]

    @classmethod
    def order_actions(cls, session: Session, ticket_id: int) -> list[OrderAction] | None:
        held = cls._held(session, ticket_id)
        return None if held is None else [r for r in held if isinstance(r, OrderAction)]

    @classmethod
    def _held(cls, session: Session, ticket_id: int) -> list[Any] | None:
        kept = cls.of(session)
        entries = kept.by.get(ticket_id) if kept is not None else None
        if not entries or entries[0][1] is not None:  # it did not open the ticket
            return None
        return [record for _, record in entries[1:]]
