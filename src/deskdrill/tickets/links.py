"""Links between tickets and merging duplicates; both write on both tickets' trails."""

from __future__ import annotations

from sqlalchemy.orm import Session

from deskdrill.accounts.models import User
from deskdrill.core.clock import Instant
from deskdrill.core.errors import Conflict, Invalid, NotFound
from deskdrill.db.savepoints import settle
from deskdrill.tickets import schemas
from deskdrill.tickets.enums import Status
from deskdrill.tickets.models import Ticket, TicketLink
from deskdrill.tickets.recording import authorize, check_version, record
from deskdrill.tickets.service import get_ticket


def link(
    *, session: Session, ticket: Ticket, actor: User, at: Instant, data: schemas.LinkIn
) -> Ticket:
    authorize(ticket, actor, "link")
    other = _other_ticket(session, ticket, data.other, actor)
    if session.get(TicketLink, (ticket.id, other.id)) is not None:
        raise Conflict(f"{ticket.key} is already linked to {other.key}")
    session.add_all(
        [
            TicketLink(ticket_id=ticket.id, other_id=other.id, kind="related"),
            TicketLink(ticket_id=other.id, other_id=ticket.id, kind="related"),
        ]
    )
    record(session, ticket, action="link", actor=actor, at=at, payload={"other": other})
    record(session, other, action="link", actor=actor, at=at, payload={"other": ticket})
    settle(session)
    return ticket


def _other_ticket(session: Session, ticket: Ticket, key: str, actor: User) -> Ticket:
    try:
        other = get_ticket(session=session, key=key, user=actor)
    except NotFound:
        raise Invalid(f"no ticket {key}", field="other") from None
    if other.id == ticket.id:
        raise Invalid("a ticket cannot be linked or merged with itself", field="other")
    if other.drill_id != ticket.drill_id:
        raise Invalid(f"{key} belongs to another drill", field="other")
    # Linking and merging write on the other ticket's trail too: same rights needed there.
    authorize(other, actor, "link")
    return other


def merge(
    *,
    session: Session,
    ticket: Ticket,
    actor: User,
    at: Instant,
    data: schemas.MergeIn,
    expected_version: int | None = None,
) -> Ticket:
    """Close ``ticket`` as a duplicate of ``data.into``; the survivor records where it came from."""
    check_version(ticket, expected_version)
    authorize(ticket, actor, "merge")
    try:
        primary = _other_ticket(session, ticket, data.into, actor)
    except Invalid as exc:
        raise Invalid(exc.message, field="into") from None
    if primary.status == Status.closed:
        raise Conflict(f"cannot merge into {primary.key}: it is closed")
    if primary.merged_into_id is not None:
        raise Invalid(
            f"{primary.key} was itself merged; merge into the ticket it went to", field="into"
        )
    record(
        session,
        ticket,
        action="merge",
        actor=actor,
        at=at,
        event_type="merged_into",
        payload={"into": primary, "reason": data.reason},
        changes={
            "merged_into": primary,
            "resolution_code": "duplicate",
            "resolution_summary": f"duplicate of {primary.key}",
            "closed_at": at.sim,
            "resolved_at": ticket.resolved_at or at.sim,
        },
    )
    record(
        session,
        primary,
        action="merged_from",
        actor=actor,
        at=at,
        payload={"from": ticket, "reason": data.reason},
    )
    if session.get(TicketLink, (ticket.id, primary.id)) is None:
        session.add_all(
            [
                TicketLink(ticket_id=ticket.id, other_id=primary.id, kind="duplicate_of"),
                TicketLink(ticket_id=primary.id, other_id=ticket.id, kind="duplicate"),
            ]
        )
    settle(session)
    return ticket
