"""Waiting, escalation between tiers, resolution, closing, reopening, tags, and revealing
masked contact data."""

from __future__ import annotations

from sqlalchemy.orm import Session

from deskdrill.accounts.enums import Tier
from deskdrill.accounts.models import User
from deskdrill.core.clock import Instant, iso_ms
from deskdrill.core.errors import Conflict, Invalid
from deskdrill.customers import service as customers
from deskdrill.customers.models import Party
from deskdrill.customers.schemas import PartyRead
from deskdrill.db.savepoints import settle
from deskdrill.drills import service as drills
from deskdrill.tickets import schemas
from deskdrill.tickets.models import Ticket, ticket_key
from deskdrill.tickets.recording import TIER_RANK, authorize, check_tier, check_version, record
from deskdrill.tickets.service import REOPEN_CLEARS, _member


def escalate(
    *,
    session: Session,
    ticket: Ticket,
    actor: User,
    at: Instant,
    data: schemas.EscalateIn,
    expected_version: int | None = None,
) -> Ticket:
    """Move a ticket up to a higher tier with a complaint record for whoever takes it next.

    The incident desk sits above every tier, so safety incidents can go there from anywhere.
    The ticket leaves the current assignee unless an assignee at the new tier is named.
    """
    check_version(ticket, expected_version)
    authorize(ticket, actor, "escalate")
    current = Tier(ticket.tier)
    if TIER_RANK[data.tier] <= TIER_RANK[current]:
        raise Invalid(
            f"cannot escalate from {current} to {data.tier}: escalation goes up "
            "(L1 → L2 → supervisor → incident_desk); use de-escalate to go down",
            field="tier",
        )
    assignee = _member(session, ticket, data.assignee, "assignee") if data.assignee else None
    works_at = (
        drills.tier_in(session=session, drill_id=ticket.drill_id, user=assignee)
        if assignee is not None
        else None
    )
    if (
        assignee is not None
        and works_at is not None
        and assignee.role == "trainee"
        and (TIER_RANK[works_at] < TIER_RANK[data.tier])
    ):
        raise Invalid(
            f"{assignee.username} works at {works_at} and cannot take a {data.tier} ticket",
            field="assignee",
        )
    changes: dict[str, object] = {"tier": data.tier, "assignee": assignee}
    if ticket.escalated_at is None:
        changes["escalated_at"] = at.sim
    record(
        session,
        ticket,
        action="escalate",
        actor=actor,
        at=at,
        payload={
            "from": current,
            "to": data.tier,
            "reason": data.reason,
            "complaint": data.complaint.model_dump(),
        },
        changes=changes,
    )
    settle(session)
    return ticket


def de_escalate(
    *,
    session: Session,
    ticket: Ticket,
    actor: User,
    at: Instant,
    data: schemas.DeEscalateIn,
    expected_version: int | None = None,
) -> Ticket:
    check_version(ticket, expected_version)
    authorize(ticket, actor, "de_escalate")
    check_tier(session, ticket, actor)
    current = Tier(ticket.tier)
    if TIER_RANK[data.tier] >= TIER_RANK[current]:
        raise Invalid(
            f"cannot de-escalate from {current} to {data.tier}: choose a lower tier", field="tier"
        )
    record(
        session,
        ticket,
        action="de_escalate",
        actor=actor,
        at=at,
        payload={"from": current, "to": data.tier, "reason": data.reason},
        changes={"tier": data.tier, "assignee": None},
    )
    settle(session)
    return ticket


def resolve(
    *,
    session: Session,
    ticket: Ticket,
    actor: User,
    at: Instant,
    data: schemas.ResolveIn,
    expected_version: int | None = None,
) -> Ticket:
    check_version(ticket, expected_version)
    authorize(ticket, actor, "resolve")
    record(
        session,
        ticket,
        action="resolve",
        actor=actor,
        at=at,
        changes={
            "resolution_code": data.code,
            "resolution_summary": data.summary,
            "resolved_at": at.sim,
        },
    )
    settle(session)
    return ticket


def incident_report(
    *,
    session: Session,
    ticket: Ticket,
    actor: User,
    at: Instant,
    data: schemas.IncidentReportIn,
    expected_version: int | None = None,
) -> Ticket:
    """Put the incident report on the trail: what happened, who is at risk, what was done,
    and who it was handed to, when."""
    check_version(ticket, expected_version)
    authorize(ticket, actor, "incident_report")
    record(
        session,
        ticket,
        action="incident_report",
        actor=actor,
        at=at,
        payload={
            "what_happened": data.what_happened,
            "who_is_at_risk": data.who_is_at_risk,
            "actions_taken": data.actions_taken,
            "handed_to": data.handed_to,
            "handed_at": iso_ms(data.handed_at or at.sim),
        },
    )
    settle(session)
    return ticket


def customer_rating(
    *, session: Session, ticket: Ticket, actor: User, at: Instant, rating: int, reasons: list[str]
) -> Ticket:
    """The customer's satisfaction (1 to 5) after the ticket was resolved, with the reasons
    of the rule that gave it."""
    authorize(ticket, actor, "customer_rating")
    record(
        session,
        ticket,
        action="customer_rating",
        actor=actor,
        at=at,
        payload={"rating": rating, "reasons": reasons},
    )
    settle(session)
    return ticket


def close(
    *,
    session: Session,
    ticket: Ticket,
    actor: User,
    at: Instant,
    expected_version: int | None = None,
) -> Ticket:
    check_version(ticket, expected_version)
    authorize(ticket, actor, "close")
    record(session, ticket, action="close", actor=actor, at=at, changes={"closed_at": at.sim})
    settle(session)
    return ticket


def reopen(
    *,
    session: Session,
    ticket: Ticket,
    actor: User,
    at: Instant,
    data: schemas.ReasonIn,
    expected_version: int | None = None,
) -> Ticket:
    check_version(ticket, expected_version)
    authorize(ticket, actor, "reopen")
    if ticket.merged_into_id is not None:
        raise Conflict(
            f"ticket {ticket.key} was merged into {ticket_key(ticket.merged_into_id)}; "
            "reopen that ticket instead"
        )
    record(
        session,
        ticket,
        action="reopen",
        actor=actor,
        at=at,
        payload={"reason": data.reason},
        changes=REOPEN_CLEARS,
    )
    settle(session)
    return ticket


def tag(
    *,
    session: Session,
    ticket: Ticket,
    actor: User,
    at: Instant,
    data: schemas.TagIn,
    expected_version: int | None = None,
) -> Ticket:
    check_version(ticket, expected_version)
    authorize(ticket, actor, "tag")
    if not data.add and not data.remove:
        raise Invalid("name tags to add or remove", field="add")
    tags = [t for t in ticket.tags if t not in data.remove]
    tags += [t for t in data.add if t not in tags]
    if len(tags) > 32:
        raise Invalid("a ticket carries at most 32 tags", field="add")
    record(
        session,
        ticket,
        action="tag",
        actor=actor,
        at=at,
        payload={"added": data.add, "removed": data.remove},
        changes={"tags": tags},
    )
    settle(session)
    return ticket


def set_pending(
    *,
    session: Session,
    ticket: Ticket,
    actor: User,
    at: Instant,
    data: schemas.PendingIn,
    expected_version: int | None = None,
) -> Ticket:
    check_version(ticket, expected_version)
    action = "pend_customer" if data.waiting_on == "customer" else "pend_third_party"
    authorize(ticket, actor, action)
    record(
        session,
        ticket,
        action=action,
        actor=actor,
        at=at,
        event_type="set_pending",
        payload={"waiting_on": data.waiting_on, "reason": data.reason},
    )
    settle(session)
    return ticket


def resume(
    *,
    session: Session,
    ticket: Ticket,
    actor: User,
    at: Instant,
    data: schemas.OptionalReasonIn,
    expected_version: int | None = None,
) -> Ticket:
    check_version(ticket, expected_version)
    authorize(ticket, actor, "resume")
    record(session, ticket, action="resume", actor=actor, at=at, payload={"reason": data.reason})
    settle(session)
    return ticket


def reveal_contact(
    *, session: Session, ticket: Ticket, actor: User, at: Instant, data: schemas.ReasonIn
) -> PartyRead:
    """Show the unmasked contact data and record who saw it and why."""
    authorize(ticket, actor, "reveal_contact")
    if ticket.party_id is None:
        raise Invalid(f"ticket {ticket.key} has no customer to reveal", field="party")
    party = session.get(Party, ticket.party_id)
    assert party is not None
    record(
        session,
        ticket,
        action="reveal_contact",
        actor=actor,
        at=at,
        event_type="contact_revealed",
        payload={"party": party, "reason": data.reason},
    )
    settle(session)
    return customers.party_read(party, reveal=True)
