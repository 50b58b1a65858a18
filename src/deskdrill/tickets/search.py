"""Full-text search over subjects and messages that works for Chinese and English.

SQLite: an FTS5 table with the trigram tokenizer (substring matching needs no word
segmentation, which Chinese lacks); queries shorter than three characters fall back to
LIKE over the same table. PostgreSQL: pg_trgm GIN indexes on the subject and message
columns serve ILIKE. Both tables/indexes are created by the migrations.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, column, select, text
from sqlalchemy.orm import Session

from deskdrill.core.errors import Invalid
from deskdrill.db.deferred import Deferred
from deskdrill.tickets.models import Message, Ticket

_INSERT_SQLITE = text("INSERT INTO ticket_search (ticket_id, drill_id, body) VALUES (:t, :d, :b)")


def _is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def index_text(session: Session, *, ticket_id: int, drill_id: int, body: str) -> None:
    if _is_sqlite(session):
        # Nothing reads the index back in the same transaction: a headless run puts it off.
        Deferred.write(session, _INSERT_SQLITE, {"t": ticket_id, "d": drill_id, "b": body})


def _like_pattern(query: str) -> str:
    escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def matching_ticket_ids(session: Session, *, drill_ids: list[int] | None, query: str) -> Any:
    """A SELECT of ticket ids whose subject or messages contain ``query``."""
    query = query.strip()
    if not query or any(ord(ch) < 32 or ch == "\x7f" for ch in query):
        raise Invalid("the search text is empty or holds control characters", field="q")
    if _is_sqlite(session):
        if len(query) >= 3:
            phrase = '"' + query.replace('"', '""') + '"'
            sql = "SELECT ticket_id FROM ticket_search WHERE ticket_search MATCH :q"
            params = {"q": phrase}
        else:
            sql = "SELECT ticket_id FROM ticket_search WHERE body LIKE :q ESCAPE '\\'"
            params = {"q": _like_pattern(query)}
        if drill_ids is not None:
            sql += f" AND drill_id IN ({','.join(str(int(d)) for d in drill_ids) or 'NULL'})"
        return text(sql).bindparams(**params).columns(column("ticket_id", Integer))
    pattern = _like_pattern(query)
    by_subject = select(Ticket.id).where(Ticket.subject.ilike(pattern, escape="\\"))
    by_message = select(Message.ticket_id).where(Message.body.ilike(pattern, escape="\\"))
    if drill_ids is not None:
        by_subject = by_subject.where(Ticket.drill_id.in_(drill_ids))
    return by_subject.union(by_message)
