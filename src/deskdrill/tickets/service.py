"""Ticket operations: receive, assignment, conversation, pending, escalation, resolution.

Every function loads nothing it was not given, checks who may act, and records one event
per change through ``recording.record``. Services flush as each action ends (``settle``);
the caller owns the transaction.
"""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from deskdrill.accounts.enums import Role
from deskdrill.accounts.models import User
from deskdrill.core.clock import Instant
from deskdrill.core.errors import Conflict, Invalid, NotFound
from deskdrill.customers import service as customers
from deskdrill.customers.models import Order, Party
from deskdrill.db import remembered
from deskdrill.db.savepoints import settle
from deskdrill.drills import service as drills
from deskdrill.drills.models import DrillMember
from deskdrill.tickets import conversation, schemas, search
from deskdrill.tickets.enums import MessageKind, Status
from deskdrill.tickets.models import Ticket, parse_ticket_key
from deskdrill.tickets.recording import authorize, check_tier, check_version, record

# Fields a reopened ticket forgets.
REOPEN_CLEARS: dict[str, object] = {
    "resolution_code": None,
    "resolution_summary": None,
    "resolved_at": None,
    "closed_at": None,
}


def get_ticket(*, session: Session, key: str, user: User) -> Ticket:
    """A ticket the user may see; tickets of other drills answer 404 as if absent."""
    ticket_id = parse_ticket_key(key)
    ticket = session.get(Ticket, ticket_id) if ticket_id is not None else None
    if ticket is None or not drills.can_see(session=session, drill_id=ticket.drill_id, user=user):
        raise NotFound(f"no ticket {key}")
    return ticket


_MEMBER = (
    select(User)
    .join(DrillMember, DrillMember.user_id == User.id)
    .where(User.username == bindparam("username"), DrillMember.drill_id == bindparam("drill"))
)


def _member(session: Session, ticket: Ticket, username: str, field: str) -> User:
    params = {"username": username, "drill": ticket.drill_id}
    user = remembered.read(
        session,
        ("member", ticket.drill_id, username),
        (User.__tablename__, DrillMember.__tablename__),
        lambda: session.scalar(_MEMBER, params),
    )
    if user is None:
        raise Invalid(f"{username!r} is not a member of this ticket's drill", field=field)
    if user.role not in (Role.trainee, Role.trainer, Role.admin):
        raise Invalid(f"{username!r} is a {user.role} and cannot be assigned tickets", field=field)
    return user


def _add_message(
    session: Session,
    ticket: Ticket,
    *,
    kind: MessageKind,
    author: str,
    body: str,
    at: Instant,
    seq: int,
    party: Party | None = None,
) -> None:
    conversation.write(
        session,
        ticket_id=ticket.id,
        kind=kind.value,
        author=author,
        body=body,
        at=at,
        seq=seq,
        party_id=party.id if party else None,
    )
    search.index_text(session, ticket_id=ticket.id, drill_id=ticket.drill_id, body=body)


# --- assignment -------------------------------------------------------------------------


def claim(
    *,
    session: Session,
    ticket: Ticket,
    actor: User,
    at: Instant,
    expected_version: int | None = None,
) -> Ticket:
    check_version(ticket, expected_version)
    authorize(ticket, actor, "claim")
    check_tier(session, ticket, actor)
    if ticket.assignee_id == actor.id:
        raise Conflict(f"you already hold ticket {ticket.key}")
    if ticket.assignee_id is not None:
        holder = session.get(User, ticket.assignee_id)
        raise Conflict(
            f"ticket {ticket.key} was already claimed by "
            f"{holder.username if holder else 'someone else'}"
        )
    _member(session, ticket, actor.username, "assignee")
    record(session, ticket, action="claim", actor=actor, at=at, changes={"assignee": actor})
    settle(session)
    return ticket


def assign(
    *,
    session: Session,
    ticket: Ticket,
    actor: User,
    at: Instant,
    data: schemas.AssignIn,
    expected_version: int | None = None,
) -> Ticket:
    check_version(ticket, expected_version)
    authorize(ticket, actor, "assign")
    user = _member(session, ticket, data.assignee, "assignee")
    record(
        session,
        ticket,
        action="assign",
        actor=actor,
        at=at,
        payload={"reason": data.reason},
        changes={"assignee": user},
    )
    settle(session)
    return ticket


def unassign(
    *,
    session: Session,
    ticket: Ticket,
    actor: User,
    at: Instant,
    data: schemas.OptionalReasonIn,
    expected_version: int | None = None,
) -> Ticket:
    check_version(ticket, expected_version)
    authorize(ticket, actor, "unassign")
    if ticket.assignee_id is None:
        raise Conflict(f"ticket {ticket.key} is not assigned to anyone")
    record(
        session,
        ticket,
        action="unassign",
        actor=actor,
        at=at,
        payload={"reason": data.reason},
        changes={"assignee": None},
    )
    settle(session)
    return ticket


def transfer(
    *,
    session: Session,
    ticket: Ticket,
    actor: User,
    at: Instant,
    data: schemas.TransferIn,
    expected_version: int | None = None,
) -> Ticket:
    check_version(ticket, expected_version)
    authorize(ticket, actor, "transfer")
    user = _member(session, ticket, data.assignee, "assignee")
    if user.id == ticket.assignee_id:
        raise Invalid(f"ticket {ticket.key} is already with {user.username}", field="assignee")
    record(
        session,
        ticket,
        action="transfer",
        actor=actor,
        at=at,
        payload={"reason": data.reason},
        changes={"assignee": user},
    )
    settle(session)
    return ticket


def change_priority(
    *,
    session: Session,
    ticket: Ticket,
    actor: User,
    at: Instant,
    data: schemas.PriorityIn,
    expected_version: int | None = None,
) -> Ticket:
    check_version(ticket, expected_version)
    authorize(ticket, actor, "change_priority")
    if data.priority == ticket.priority:
        raise Invalid(f"ticket {ticket.key} is already {data.priority}", field="priority")
    record(
        session,
        ticket,
        action="change_priority",
        actor=actor,
        at=at,
        payload={"from": ticket.priority, "reason": data.reason},
        changes={"priority": data.priority},
    )
    settle(session)
    return ticket


# --- conversation -----------------------------------------------------------------------


def _converse(
    session: Session,
    ticket: Ticket,
    *,
    action: str,
    actor: User,
    at: Instant,
    expected_version: int | None,
    kind: MessageKind,
    author: str,
    body: str,
    payload: dict[str, object],
    party: Party | None = None,
    changes: dict[str, object] | None = None,
) -> Ticket:
    """One message on the conversation and its event on the trail (which carries the text,
    so the conversation is as tamper-evident as the rest)."""
    check_version(ticket, expected_version)
    authorize(ticket, actor, action)
    seq = record(
        session,
        ticket,
        action=action,
        actor=actor,
        at=at,
        payload={**payload, "body": body},
        changes=changes,
    )
    _add_message(session, ticket, kind=kind, author=author, body=body, at=at, seq=seq, party=party)
    settle(session)
    return ticket


def reply(
    *,
    session: Session,
    ticket: Ticket,
    actor: User,
    at: Instant,
    data: schemas.MessageIn,
    expected_version: int | None = None,
) -> Ticket:
    """Answer the customer; the first answer is the first response."""
    first = {"first_response_at": at.sim} if ticket.first_response_at is None else {}
    return _converse(
        session,
        ticket,
        action="reply",
        actor=actor,
        at=at,
        expected_version=expected_version,
        kind=MessageKind.reply,
        author=actor.username,
        body=data.body,
        payload={},
        changes=first,
    )


def note(
    *,
    session: Session,
    ticket: Ticket,
    actor: User,
    at: Instant,
    data: schemas.MessageIn,
    expected_version: int | None = None,
) -> Ticket:
    """An internal note: seen by agents and QA, never by the customer."""
    return _converse(
        session,
        ticket,
        action="note",
        actor=actor,
        at=at,
        expected_version=expected_version,
        kind=MessageKind.note,
        author=actor.username,
        body=data.body,
        payload={},
    )


def _third_party(session: Session, ticket: Ticket, who: str) -> Party:
    """'merchant' / 'courier' / 'driver' of the ticket's order, or any party by ref."""
    if who in ("merchant", "courier", "driver"):
        order = session.get(Order, ticket.order_id) if ticket.order_id else None
        party_id = getattr(order, f"{who}_id") if order else None
        if party_id is None:
            raise Invalid(f"ticket {ticket.key} has no order with a {who}", field="party")
        party = session.get(Party, party_id)
        assert party is not None
        return party
    party = customers.get_party(session=session, drill_id=ticket.drill_id, ref=who)
    if party.kind not in ("merchant", "courier", "driver"):
        raise Invalid(
            f"party {who!r} is a {party.kind}; third parties are merchants, couriers and drivers",
            field="party",
        )
    return party


def contact_third_party(
    *,
    session: Session,
    ticket: Ticket,
    actor: User,
    at: Instant,
    data: schemas.ThirdPartyContactIn,
    expected_version: int | None = None,
) -> Ticket:
    """Ask the merchant, courier or driver; the ticket then waits on them."""
    party = _third_party(session, ticket, data.party)
    return _converse(
        session,
        ticket,
        action="contact_third_party",
        actor=actor,
        at=at,
        expected_version=expected_version,
        kind=MessageKind.to_third_party,
        author=actor.username,
        body=data.body,
        party=party,
        payload={"to": party, "to_kind": party.kind},
    )


def customer_message(
    *,
    session: Session,
    ticket: Ticket,
    actor: User,
    at: Instant,
    data: schemas.MessageIn,
    expected_version: int | None = None,
) -> Ticket:
    """A message from the ticket's customer (injected by a trainer or, later, the simulator).
    Writing back to a resolved ticket reopens it: the resolution no longer holds."""
    party = session.get(Party, ticket.party_id) if ticket.party_id else None
    author = party.ref if party else "customer"
    reopened = REOPEN_CLEARS if ticket.status == Status.resolved else {}
    return _converse(
        session,
        ticket,
        action="customer_message",
        actor=actor,
        at=at,
        expected_version=expected_version,
        kind=MessageKind.customer,
        author=author,
        body=data.body,
        party=party,
        payload={"from": author},
        changes=reopened,
    )


def third_party_message(
    *,
    session: Session,
    ticket: Ticket,
    actor: User,
    at: Instant,
    data: schemas.ThirdPartyMessageIn,
    expected_version: int | None = None,
) -> Ticket:
    """A merchant's, courier's or driver's answer (injected by a trainer or the simulator)."""
    party = _third_party(session, ticket, data.party)
    return _converse(
        session,
        ticket,
        action="third_party_message",
        actor=actor,
        at=at,
        expected_version=expected_version,
        kind=MessageKind.third_party,
        author=party.ref,
        body=data.body,
        party=party,
        payload={"from": party, "from_kind": party.kind},
    )
