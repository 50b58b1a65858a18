"""A ticket's conversation: every message is written here, and the scenario's customers
and the drill score read it back through ``messages_of``.

A session that keeps ``Conversation`` (the headless runner) puts the inserts off with
its other deferred writes and answers from what it noted, for each ticket whose whole
conversation it wrote; any other ticket, or any other session, is read from the table.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from deskdrill.core.clock import Instant
from deskdrill.db.deferred import Deferred
from deskdrill.db.journal import Indexed
from deskdrill.tickets.models import Message

INSERT_MESSAGE = Message.__table__.insert()
_MESSAGES = (
    select(
        Message.ticket_id, Message.kind, Message.body, Message.event_seq, Message.party_id,
        Message.sim_at,
    )
    .where(Message.ticket_id == bindparam("ticket"))
    .order_by(Message.id)
)  # fmt: skip


class Said(NamedTuple):
    ticket_id: int
    kind: str
    body: str
    event_seq: int
    party_id: int | None
    sim_at: datetime


class Conversation(Indexed):
    """The messages a session wrote, in order, and by ticket."""

    key = "deskdrill.conversation"

    @staticmethod
    def key_of(entry: Said) -> int:
        return entry.ticket_id


def write(
    session: Session,
    *,
    ticket_id: int,
    kind: str,
    author: str,
    body: str,
    at: Instant,
    seq: int,
    party_id: int | None = None,
) -> None:
    """One message, carried by the trail event ``seq`` of its ticket."""
    row = {
        "ticket_id": ticket_id,
        "kind": kind,
        "author": author,
        "body": body,
        "event_seq": seq,
        "sim_at": at.sim,
        "wall_at": at.wall,
        "party_id": party_id,
    }
    Deferred.write(session, INSERT_MESSAGE, row)
    Conversation.note(session, (Said(ticket_id, kind, body, seq, party_id, at.sim),))


def messages_of(session: Session, ticket_id: int) -> list[Said]:
    """The ticket's messages, oldest first."""
    kept = Conversation.of(session)
    held = kept.by.get(ticket_id) if kept is not None else None
    if held and held[0].event_seq == 1:  # it wrote the first: the whole conversation
        return list(held)
    Deferred.flush(session)
    return [Said(*row) for row in session.execute(_MESSAGES, {"ticket": ticket_id})]
