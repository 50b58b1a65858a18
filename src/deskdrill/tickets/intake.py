"""Receiving a new case: the hottest write path, so it inserts with four plain statements.

The first event's hash covers no database id, so it is computed before anything is
written and the ticket row is inserted complete (head hash, event count); no UPDATE and
no second flush follow.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from deskdrill.accounts.enums import Role, Tier
from deskdrill.accounts.models import User
from deskdrill.core.clock import Instant
from deskdrill.core.errors import Forbidden, Invalid, NotFound
from deskdrill.customers import service as customers
from deskdrill.customers.models import Order, Party
from deskdrill.db.deferred import Deferred
from deskdrill.db.kept import attach
from deskdrill.drills import clock
from deskdrill.drills import service as drills
from deskdrill.tickets import conversation, schemas, search
from deskdrill.tickets.desks import Desks
from deskdrill.tickets.enums import Category, MessageKind, Priority, Severity, Status
from deskdrill.tickets.ledger import Ledger
from deskdrill.tickets.models import Ticket
from deskdrill.tickets.next_checks import NextChecks
from deskdrill.tickets.recording import AFTER_CHANGE, INSERT_EVENT, Change, Trail, encode
from deskdrill.tickets.trail import GENESIS, event_hash

# Built once: statements with bound parameters are compiled once and cached.
_TICKETS = Ticket.__table__
SLA_FIELDS = (
    "first_response_due",
    "next_response_due",
    "resolution_due",
    "escalation_due",
    "update_due",
    "awaiting_reply_since",
    "paused_since",
    "sla_next_check",
)
_INSERT_TICKET = _TICKETS.insert().returning(_TICKETS.c.id)


def _party(
    session: Session, drill_id: int, party: str | schemas.PartyCreate | None, at: Instant
) -> Party | None:
    """An existing party by ref, or one created from the details sent with the case."""
    if party is None:
        return None
    if isinstance(party, str):
        return customers.get_party(session=session, drill_id=drill_id, ref=party)
    existing = customers.find_party(session=session, drill_id=drill_id, ref=party.ref)
    if existing is not None:
        return existing
    return customers.create_party(session=session, drill_id=drill_id, data=party, now=at.sim)


def _order_and_party(
    session: Session, data: schemas.TicketReceive, at: Instant
) -> tuple[Order | None, Party | None]:
    party = _party(session, data.drill, data.party, at)
    if data.order is None:
        return None, party
    order = customers.find_order(session=session, drill_id=data.drill, number=data.order)
    if order is None:
        raise Invalid(f"no order numbered {data.order!r} in this drill", field="order")
    if party is None:
        party = session.get(Party, order.party_id)
    elif order.party_id != party.id:
        raise Invalid(f"order {data.order} belongs to another customer", field="order")
    return order, party


def receive(*, session: Session, data: schemas.TicketReceive, actor: User, at: Instant) -> Ticket:
    """Open a ticket with its first customer message and the first event of its trail."""
    if actor.role not in (Role.trainer, Role.admin):
        # Cases come from customers: trainers (and later the simulator) bring them in.
        # Trainees opening their own would also reset the per-ticket compensation caps.
        raise Forbidden("new tickets come from customers; trainers and admins inject them")
    if not drills.can_see(session=session, drill_id=data.drill, user=actor):
        raise NotFound(f"no drill with id {data.drill}")
    at = clock.instant(session, data.drill, at.wall, acting=True)  # the drill's simulated time
    return open_ticket(session=session, data=data, actor=actor, at=at)


def open_ticket(
    *, session: Session, data: schemas.TicketReceive, actor: User, at: Instant
) -> Ticket:
    """Open the ticket at the simulated moment ``at`` (the scenario engine schedules
    arrivals at their own moments); the caller has checked who may."""
    order, party = _order_and_party(session, data, at)
    safety = data.category == Category.safety_incident
    fields: dict[str, Any] = {
        "channel": data.channel.value,
        "category": data.category.value,
        "severity": encode(data.severity or (Severity.sev2 if safety else None)),
        "subject": data.subject,
        "priority": encode(data.priority or (Priority.P1 if safety else Priority.P3)),
        "status": Status.new.value,
        "tier": Tier.L1.value,
        "tags": data.tags,
    }
    author = party.ref if party else "customer"
    changes = {
        **fields,
        "party": encode(party),
        "order": encode(order),
        "received_at": encode(at.sim),
    }
    payload = {"body": data.body, "from": author, "changes": changes}
    digest = event_hash(
        seq=1,
        type="receive",
        actor=actor.username,
        sim_at=at.sim,
        payload=payload,
        prev_hash=GENESIS,
    )
    row = {
        **fields,
        "drill_id": data.drill,
        "active": True,
        "findings": [],
        "party_id": party.id if party else None,
        "order_id": order.id if order else None,
        "merged_into_id": None,
        "assignee_id": None,
        "resolution_code": None,
        "resolution_summary": None,
        "received_at": at.sim,
        "first_response_at": None,
        "escalated_at": None,
        "resolved_at": None,
        "closed_at": None,
        "updated_at": at.sim,
        "event_count": 1,
        "head_hash": digest,
        "version": 1,
        **dict.fromkeys(SLA_FIELDS),
        "paused_ms": 0,
    }
    # Followers (the SLA timers) set their fields on the new row before it is written.
    draft = Ticket(**row)
    for hook in AFTER_CHANGE:
        hook(session, draft, Change(action="receive", before=None, at=at))
    row.update({field: getattr(draft, field) for field in SLA_FIELDS})
    if Deferred.insert_row(session, _TICKETS, row):
        ticket_id = row["id"]
    else:
        ticket_id = session.connection().execute(_INSERT_TICKET, row).scalar_one()
    Deferred.write(
        session,
        INSERT_EVENT,
        {
            "ticket_id": ticket_id,
            "seq": 1,
            "type": "receive",
            "actor": actor.username,
            "sim_at": at.sim,
            "wall_at": at.wall,
            "payload": payload,
            "prev_hash": GENESIS,
            "hash": digest,
        },
    )
    Trail.note(session, ((ticket_id, "receive"),))
    Ledger.opened(session, ticket_id)
    NextChecks.noted(session, data.drill, ((ticket_id, row["sla_next_check"]),))
    conversation.write(
        session,
        ticket_id=ticket_id,
        kind=MessageKind.customer.value,
        author=author,
        body=data.body,
        at=at,
        seq=1,
        party_id=party.id if party else None,
    )
    search.index_text(
        session, ticket_id=ticket_id, drill_id=data.drill, body=f"{data.subject}\n{data.body}"
    )
    # Hand back the row as a persistent object without reading it again.
    draft.id = ticket_id
    ticket = attach(session, draft)
    Desks.noted(session, (ticket,))
    return ticket
