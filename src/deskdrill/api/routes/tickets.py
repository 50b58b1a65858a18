"""Ticket reads and actions. Thin: parse, call a service, shape the answer."""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from deskdrill.api.deps import (
    CaughtUpTicket,
    CurrentUser,
    ExpectedVersion,
    Now,
    SessionDep,
    SettingsDep,
)
from deskdrill.api.errors import ERROR_RESPONSES
from deskdrill.core.clock import Instant
from deskdrill.customers.schemas import PartyRead
from deskdrill.drills import clock
from deskdrill.tickets import compensation, links, queries, schemas, service, workflow
from deskdrill.tickets.models import Ticket
from deskdrill.tickets.schemas import (
    CompensationRead,
    TicketDetail,
    TicketRead,
    TicketSummary,
    VerifyResult,
)

router = APIRouter(prefix="/tickets", tags=["tickets"], responses=ERROR_RESPONSES)


@router.get("/search", response_model=list[TicketSummary])
def search(
    user: CurrentUser,
    session: SessionDep,
    q: Annotated[str, Query(min_length=1, max_length=200)],
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[TicketSummary]:
    """Search subjects and messages (Chinese or English) across the drills you belong to."""
    return queries.search_tickets(session=session, user=user, q=q, limit=limit)


@router.get("/{key}", response_model=TicketDetail)
def get_ticket(
    key: str, _fresh: CaughtUpTicket, user: CurrentUser, session: SessionDep, response: Response
) -> TicketDetail:
    """The ticket with its conversation, trail, order, compensations and the party's history."""
    ticket = service.get_ticket(session=session, key=key, user=user)
    response.headers["ETag"] = f'"{ticket.version}"'
    return queries.detail(session=session, ticket=ticket, user=user)


@router.get("/{key}/trail/verify", response_model=VerifyResult)
def verify_trail(key: str, user: CurrentUser, session: SessionDep) -> VerifyResult:
    """Recompute the hash chain; names the first event that does not hold."""
    ticket = service.get_ticket(session=session, key=key, user=user)
    result = queries.verify(session, ticket)
    return VerifyResult(
        key=ticket.key,
        ok=result.ok,
        events_checked=result.events_checked,
        first_broken_seq=result.first_broken_seq,
        reason=result.reason,
    )


def _in_drill(session: SessionDep, ticket: Ticket, at: Instant) -> Instant:
    """The request's moment on the ticket's drill clock."""
    return clock.instant(session, ticket.drill_id, at.wall, acting=True)


def _act(
    session: SessionDep,
    user: CurrentUser,
    key: str,
    response: Response,
    operation: Callable[..., Any],
    **kwargs: Any,
) -> TicketRead:
    ticket = service.get_ticket(session=session, key=key, user=user)
    if "at" in kwargs:
        kwargs["at"] = _in_drill(session, ticket, kwargs["at"])
    operation(session=session, ticket=ticket, actor=user, **kwargs)
    session.flush()
    response.headers["ETag"] = f'"{ticket.version}"'
    return queries.ticket_read(session, ticket)


def _simple(
    path: str, operation: Callable[..., Any], summary: str, body: type[schemas.Strict] | None = None
) -> None:
    """Register POST /tickets/{key}/<path> for an operation that takes an optional body."""
    if body is None:

        def endpoint(
            key: str,
            user: CurrentUser,
            session: SessionDep,
            at: Now,
            version: ExpectedVersion,
            response: Response,
        ) -> TicketRead:
            return _act(session, user, key, response, operation, at=at, expected_version=version)
    else:

        def endpoint(
            key: str,
            data: body,
            user: CurrentUser,  # type: ignore[valid-type]
            session: SessionDep,
            at: Now,
            version: ExpectedVersion,
            response: Response,
        ) -> TicketRead:
            return _act(
                session, user, key, response, operation, at=at, data=data, expected_version=version
            )

    endpoint.__name__ = path.replace("-", "_")
    router.add_api_route(
        f"/{{key}}/{path}", endpoint, methods=["POST"], response_model=TicketRead, summary=summary
    )


_simple("claim", service.claim, "Claim an unassigned ticket (exactly one of many claimers wins)")
_simple("assign", service.assign, "Assign to a member (trainers)", schemas.AssignIn)
_simple("unassign", service.unassign, "Release the ticket to the queue", schemas.OptionalReasonIn)
_simple("transfer", service.transfer, "Hand over to another member", schemas.TransferIn)
_simple("priority", service.change_priority, "Change priority with a reason", schemas.PriorityIn)
_simple("reply", service.reply, "Reply to the customer", schemas.MessageIn)
_simple("notes", service.note, "Add an internal note", schemas.MessageIn)
_simple(
    "third-party-contact",
    service.contact_third_party,
    "Message the merchant, courier or driver; the ticket waits on them",
    schemas.ThirdPartyContactIn,
)
_simple(
    "customer-messages",
    service.customer_message,
    "Inject a customer message (trainers; the simulator later)",
    schemas.MessageIn,
)
_simple(
    "third-party-messages",
    service.third_party_message,
    "Inject a third party's answer (trainers; the simulator later)",
    schemas.ThirdPartyMessageIn,
)
_simple("pending", workflow.set_pending, "Wait on the customer or a third party", schemas.PendingIn)
_simple("resume", workflow.resume, "Stop waiting", schemas.OptionalReasonIn)
_simple(
    "escalate",
    workflow.escalate,
    "Escalate to a higher tier with a complaint record",
    schemas.EscalateIn,
)
_simple("de-escalate", workflow.de_escalate, "Return to a lower tier", schemas.DeEscalateIn)
_simple(
    "findings",
    compensation.record_finding,
    "Record a finding (e.g. counterfeit) that policies depend on",
    schemas.FindingIn,
)
_simple("resolve", workflow.resolve, "Resolve with a resolution code", schemas.ResolveIn)
_simple("close", workflow.close, "Close a resolved ticket")
_simple(
    "incident-report",
    workflow.incident_report,
    "File the incident report (what happened, who is at risk, actions, hand-over)",
    schemas.IncidentReportIn,
)
_simple("reopen", workflow.reopen, "Reopen a resolved or closed ticket", schemas.ReasonIn)
_simple("tags", workflow.tag, "Add or remove tags", schemas.TagIn)
_simple("merge", links.merge, "Close as a duplicate of another ticket", schemas.MergeIn)


@router.post("/{key}/links", response_model=TicketRead)
def link(
    key: str,
    data: schemas.LinkIn,
    user: CurrentUser,
    session: SessionDep,
    at: Now,
    response: Response,
) -> TicketRead:
    """Link two related tickets (recorded on both trails)."""
    return _act(session, user, key, response, links.link, at=at, data=data)


@router.post("/{key}/contact/reveal", response_model=PartyRead)
def reveal_contact(
    key: str, data: schemas.ReasonIn, user: CurrentUser, session: SessionDep, at: Now
) -> PartyRead:
    """Show the customer's unmasked phone and email; the reason goes on the trail."""
    ticket = service.get_ticket(session=session, key=key, user=user)
    at = _in_drill(session, ticket, at)
    return workflow.reveal_contact(session=session, ticket=ticket, actor=user, at=at, data=data)


def _comp_read(
    session: SessionDep, ticket_key: str, user: CurrentUser, number: int
) -> CompensationRead:
    ticket = service.get_ticket(session=session, key=ticket_key, user=user)
    detail = queries.detail(session=session, ticket=ticket, user=user)
    return next(c for c in detail.compensations if c.number == number)


@router.post("/{key}/compensations", status_code=201, response_model=CompensationRead)
def compensate(
    key: str,
    data: schemas.CompensateIn,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    at: Now,
    version: ExpectedVersion,
) -> CompensationRead:
    """Refund, coupon, goodwill credit or counterfeit compensation.

    Within your limit it is approved at once; above it, it is ``requested`` and waits for
    approval by someone whose limit covers it.
    """
    ticket = service.get_ticket(session=session, key=key, user=user)
    at = _in_drill(session, ticket, at)
    caps = compensation.caps_for(session, ticket.drill_id, settings.compensation_caps)
    comp = compensation.compensate(
        session=session,
        ticket=ticket,
        actor=user,
        at=at,
        caps=caps,
        data=data,
        expected_version=version,
    )
    return _comp_read(session, key, user, comp.number)


def _decide(
    key: str,
    number: int,
    data: schemas.DecisionIn,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    at: Now,
    approve: bool,
) -> CompensationRead:
    ticket = service.get_ticket(session=session, key=key, user=user)
    at = _in_drill(session, ticket, at)
    caps = compensation.caps_for(session, ticket.drill_id, settings.compensation_caps)
    compensation.decide(
        session=session,
        ticket=ticket,
        actor=user,
        at=at,
        caps=caps,
        number=number,
        approve=approve,
        data=data,
    )
    return _comp_read(session, key, user, number)


@router.post("/{key}/compensations/{number}/approve", response_model=CompensationRead)
def approve(
    key: str,
    number: int,
    data: schemas.DecisionIn,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    at: Now,
) -> CompensationRead:
    return _decide(key, number, data, user, session, settings, at, approve=True)


@router.post("/{key}/compensations/{number}/reject", response_model=CompensationRead)
def reject(
    key: str,
    number: int,
    data: schemas.DecisionIn,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    at: Now,
) -> CompensationRead:
    return _decide(key, number, data, user, session, settings, at, approve=False)


@router.post("/{key}/compensations/{number}/pay", response_model=CompensationRead)
def pay(key: str, number: int, user: CurrentUser, session: SessionDep, at: Now) -> CompensationRead:
    ticket = service.get_ticket(session=session, key=key, user=user)
    at = _in_drill(session, ticket, at)
    compensation.pay(session=session, ticket=ticket, actor=user, at=at, number=number)
    return _comp_read(session, key, user, number)


@router.post("/{key}/order-actions", status_code=201, response_model=TicketRead)
def order_action(
    key: str,
    data: schemas.OrderActionIn,
    user: CurrentUser,
    session: SessionDep,
    at: Now,
    version: ExpectedVersion,
    response: Response,
) -> TicketRead:
    """Return authorisation, exchange, reship, cancel or change of address on the order."""
    return _act(
        session,
        user,
        key,
        response,
        compensation.order_action,
        at=at,
        data=data,
        expected_version=version,
    )
