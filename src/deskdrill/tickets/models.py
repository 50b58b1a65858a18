from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from deskdrill.db.base import Base, JSONType

KEY_PREFIX = "DD-"
# The predicate of the unassigned-queue index, written as each backend renders the query's
# own filter (Ticket.active.is_(True), Ticket.assignee_id.is_(None)) so the planner sees
# that the query implies it.
UNASSIGNED_SQLITE = "active IS 1 AND assignee_id IS NULL"
UNASSIGNED_POSTGRESQL = "active IS true AND assignee_id IS NULL"
# Someone's tickets not yet closed (resolved ones wait for their close): the predicate of
# their index; the query writes the same value into its SQL (not as a parameter).
NOT_CLOSED = "status <> 'closed'"


class Ticket(Base):
    """The current state of a case: a projection of its event trail, kept for indexed queries."""

    __tablename__ = "tickets"
    __table_args__ = (
        # Queues: unassigned / mine of a drill, active only, by priority then age.
        Index(
            "ix_tickets_queue", "drill_id", "active", "assignee_id", "priority", "received_at", "id"
        ),
        Index(
            "ix_tickets_tier_queue", "drill_id", "active", "tier", "priority", "received_at", "id"
        ),
        # The unassigned queue: "assignee_id IS NULL" is no equality to PostgreSQL, so the
        # index above cannot give it its order; this partial index can, on both backends.
        Index(
            "ix_tickets_unassigned",
            "drill_id",
            "priority",
            "received_at",
            "id",
            sqlite_where=text(UNASSIGNED_SQLITE),
            postgresql_where=text(UNASSIGNED_POSTGRESQL),
        ),
        # Someone's tickets not yet closed, by priority then age (a bot's or an agent's
        # worklist): the closed ones, which pile up over a shift, are not in it.
        Index(
            "ix_tickets_not_closed",
            "drill_id",
            "assignee_id",
            "priority",
            "received_at",
            "id",
            sqlite_where=text(NOT_CLOSED),
            postgresql_where=text(NOT_CLOSED),
        ),
        Index("ix_tickets_party_id", "party_id", "received_at"),
        Index("ix_tickets_sla_next_check", "drill_id", "sla_next_check"),
        Index("ix_tickets_order_id", "order_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    drill_id: Mapped[int] = mapped_column(ForeignKey("drills.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str | None] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(String(512))
    priority: Mapped[str] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(32))
    active: Mapped[bool]
    tier: Mapped[str] = mapped_column(String(16))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    party_id: Mapped[int | None] = mapped_column(ForeignKey("parties.id", ondelete="SET NULL"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL")
    )
    resolution_code: Mapped[str | None] = mapped_column(String(32))
    resolution_summary: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime]
    first_response_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
    # SLA deadlines in simulated time, kept by deskdrill.sla after every change.
    first_response_due: Mapped[datetime | None]
    next_response_due: Mapped[datetime | None]
    resolution_due: Mapped[datetime | None]
    escalation_due: Mapped[datetime | None]
    update_due: Mapped[datetime | None]
    awaiting_reply_since: Mapped[datetime | None]
    paused_since: Mapped[datetime | None]
    paused_ms: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # The next moment an SLA warning or breach falls due: what the engine scans, by index.
    sla_next_check: Mapped[datetime | None]
    event_count: Mapped[int] = mapped_column(default=0)
    head_hash: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": version}

    @property
    def key(self) -> str:
        return ticket_key(self.id)


def ticket_key(ticket_id: int) -> str:
    return f"{KEY_PREFIX}{ticket_id:06d}"


def parse_ticket_key(key: str) -> int | None:
    if not key.upper().startswith(KEY_PREFIX):
        return None
    digits = key[len(KEY_PREFIX) :]
    return int(digits) if digits.isascii() and digits.isdigit() and len(digits) <= 12 else None


class TicketEvent(Base):
    """One entry of a ticket's append-only, hash-chained trail (triggers refuse UPDATE/DELETE)."""

    __tablename__ = "ticket_events"
    __table_args__ = (UniqueConstraint("ticket_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    seq: Mapped[int]
    type: Mapped[str] = mapped_column(String(48))
    actor: Mapped[str] = mapped_column(String(64))
    sim_at: Mapped[datetime]
    wall_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_ticket_id", "ticket_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    author: Mapped[str] = mapped_column(String(128))
    party_id: Mapped[int | None] = mapped_column(ForeignKey("parties.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    event_seq: Mapped[int]
    sim_at: Mapped[datetime]
    wall_at: Mapped[datetime]


class Compensation(Base):
    __tablename__ = "compensations"
    __table_args__ = (
        UniqueConstraint("ticket_id", "number"),
        Index("ix_compensations_order_id", "order_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    number: Mapped[int]
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(32))
    amount: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    item_sku: Mapped[str | None] = mapped_column(String(64))
    multiple: Mapped[int | None]
    funded_by: Mapped[str] = mapped_column(String(16), default="platform")
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decision_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    paid_at: Mapped[datetime | None]


class OrderAction(Base):
    __tablename__ = "order_actions"
    __table_args__ = (Index("ix_order_actions_ticket_id", "ticket_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    details: Mapped[dict[str, Any]] = mapped_column(JSONType)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    sim_at: Mapped[datetime]


class TicketLink(Base):
    __tablename__ = "ticket_links"

    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    other_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(16))
