"""Read side: queues, search, and the detail view of one ticket."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from deskdrill.accounts.models import User
from deskdrill.core.clock import iso_ms
from deskdrill.core.errors import Invalid
from deskdrill.customers import service as customers
from deskdrill.customers.models import Order, Party
from deskdrill.customers.schemas import OrderRead
from deskdrill.drills import service as drills
from deskdrill.tickets import compensation, search
from deskdrill.tickets.lifecycle import allowed_from
from deskdrill.tickets.models import (
    Compensation,
    Message,
    Ticket,
    TicketEvent,
    TicketLink,
    ticket_key,
)
from deskdrill.tickets.recording import key_of
from deskdrill.tickets.schemas import (
    CompensationRead,
    EventRead,
    MessageRead,
    QueuePage,
    TicketDetail,
    TicketRead,
    TicketSummary,
)
from deskdrill.tickets.trail import (
    PROJECTED_FIELDS,
    TIME_FIELDS,
    Verification,
    replay,
    verify_chain,
)

MAX_PAGE = 200


def ticket_read(session: Session, ticket: Ticket) -> TicketRead:
    names = _usernames(session, [ticket.assignee_id])
    party = session.get(Party, ticket.party_id) if ticket.party_id else None
    order = session.get(Order, ticket.order_id) if ticket.order_id else None
    return TicketRead(
        key=ticket.key,
        drill=ticket.drill_id,
        channel=ticket.channel,
        category=ticket.category,
        severity=ticket.severity,
        subject=ticket.subject,
        priority=ticket.priority,
        status=ticket.status,
        tier=ticket.tier,
        assignee=names.get(ticket.assignee_id),
        tags=ticket.tags,
        findings=ticket.findings,
        party=party.ref if party else None,
        order=order.number if order else None,
        merged_into=key_of(ticket.merged_into_id),
        resolution_code=ticket.resolution_code,
        resolution_summary=ticket.resolution_summary,
        received_at=ticket.received_at,
        first_response_at=ticket.first_response_at,
        escalated_at=ticket.escalated_at,
        resolved_at=ticket.resolved_at,
        closed_at=ticket.closed_at,
        updated_at=ticket.updated_at,
        version=ticket.version,
        event_count=ticket.event_count,
    )


def _usernames(session: Session, ids: list[int | None]) -> dict[int | None, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(session.execute(select(User.id, User.username).where(User.id.in_(wanted))).all())


def projected_state(session: Session, ticket: Ticket) -> dict[str, object]:
    """The row's projected fields in the trail's encoding, to compare with ``trail.replay``."""
    read = ticket_read(session, ticket).model_dump(mode="json")

    state: dict[str, object] = {}
    for field in PROJECTED_FIELDS:
        if field in TIME_FIELDS:
            value: datetime | None = getattr(ticket, field)
            state[field] = iso_ms(value) if value is not None else None
        else:
            state[field] = read[field]
    return state


def _encode_cursor(ticket: Ticket) -> str:
    raw = f"{ticket.priority}|{ticket.received_at.isoformat()}|{ticket.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_cursor(cursor: str) -> tuple[str, datetime, int]:
    try:
        priority, received, ticket_id = (
            base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        )
        return priority, datetime.fromisoformat(received), int(ticket_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise Invalid("the cursor is not one this server handed out", field="cursor") from None


def queue(
    *,
    session: Session,
    user: User,
    drill_id: int,
    view: str = "all",
    tier: str | None = None,
    status: str | None = None,
    category: str | None = None,
    priority: str | None = None,
    q: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> QueuePage:
    """Tickets of one drill, most urgent first then oldest, paginated by keyset cursor.

    ``view``: ``unassigned`` and ``mine`` list active tickets only; ``all`` lists every
    ticket that matches the filters.
    """
    drills.get_drill(session=session, drill_id=drill_id, user=user)
    if not 1 <= limit <= MAX_PAGE:
        raise Invalid(f"limit must be between 1 and {MAX_PAGE}", field="limit")
    query = select(Ticket).where(Ticket.drill_id == drill_id)
    if view == "unassigned":
        query = query.where(Ticket.active.is_(True), Ticket.assignee_id.is_(None))
    elif view == "mine":
        query = query.where(Ticket.active.is_(True), Ticket.assignee_id == user.id)
    elif view == "active":
        query = query.where(Ticket.active.is_(True))
    elif view != "all":
        raise Invalid("view is one of: all, active, unassigned, mine", field="view")
    for column, value in (
        (Ticket.tier, tier),
        (Ticket.status, status),
        (Ticket.category, category),
        (Ticket.priority, priority),
    ):
        if value is not None:
            query = query.where(column == value)
    if q:
        query = query.where(
            Ticket.id.in_(search.matching_ticket_ids(session, drill_ids=[drill_id], query=q))
        )
    if cursor:
        # A row-value comparison lets both databases seek straight into the index.
        query = query.where(
            tuple_(Ticket.priority, Ticket.received_at, Ticket.id) > tuple_(*_decode_cursor(cursor))
        )
    query = query.order_by(Ticket.priority, Ticket.received_at, Ticket.id).limit(limit + 1)
    rows = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return QueuePage(
        items=summaries(session, rows),
        next_cursor=_encode_cursor(rows[-1]) if more and rows else None,
    )


def summaries(session: Session, tickets: list[Ticket]) -> list[TicketSummary]:
    names = _usernames(session, [t.assignee_id for t in tickets])
    party_ids = {t.party_id for t in tickets if t.party_id}
    parties = (
        dict(session.execute(select(Party.id, Party.name).where(Party.id.in_(party_ids))).all())
        if party_ids
        else {}
    )
    return [
        TicketSummary(
            key=t.key,
            subject=t.subject,
            category=t.category,
            priority=t.priority,
            status=t.status,
            tier=t.tier,
            channel=t.channel,
            assignee=names.get(t.assignee_id),
            customer=parties.get(t.party_id),
            received_at=t.received_at,
        )
        for t in tickets
    ]


def search_tickets(*, session: Session, user: User, q: str, limit: int = 50) -> list[TicketSummary]:
    """Search every drill the user may see; other drills' tickets never appear."""
    if len(q.strip()) < 1:
        raise Invalid("the search text is empty", field="q")
    drill_ids = drills.visible_drill_ids(session=session, user=user)
    query = select(Ticket).where(
        Ticket.id.in_(search.matching_ticket_ids(session, drill_ids=drill_ids, query=q))
    )
    if drill_ids is not None:
        query = query.where(Ticket.drill_id.in_(drill_ids))
    query = query.order_by(Ticket.priority, Ticket.received_at, Ticket.id).limit(limit)
    return summaries(session, list(session.scalars(query)))


def events_of(session: Session, ticket: Ticket) -> list[TicketEvent]:
    return list(
        session.scalars(
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket.id)
            .order_by(TicketEvent.seq, TicketEvent.id)
        )
    )


def verify(session: Session, ticket: Ticket) -> Verification:
    """The chain must hold, and the ticket row must be what replaying the chain gives."""
    events = events_of(session, ticket)
    result = verify_chain(events, head_hash=ticket.head_hash, event_count=ticket.event_count)
    if not result.ok:
        return result
    expected, actual = replay(events), projected_state(session, ticket)
    changed = sorted(field for field in expected if expected[field] != actual.get(field))
    if changed:
        return Verification(
            False,
            len(events),
            None,
            f"the ticket row no longer matches its trail: {', '.join(changed)} "
            "changed outside the trail",
        )
    return result


def has_revealed(events: list[TicketEvent], user: User) -> bool:
    return any(e.type == "contact_revealed" and e.actor == user.username for e in events)


def order_view(session: Session, order: Order, *, reveal: bool = False) -> OrderRead:
    """The order with what is still refundable, net of refunds awaiting approval; the
    shipping address masked unless revealed."""
    return customers.order_read(
        session=session,
        order=order,
        reserved=compensation.pending_refunds(session, order),
        reveal=reveal,
    )


def detail(*, session: Session, ticket: Ticket, user: User) -> TicketDetail:
    events = events_of(session, ticket)
    revealed = has_revealed(events, user)
    party = session.get(Party, ticket.party_id) if ticket.party_id else None
    order = session.get(Order, ticket.order_id) if ticket.order_id else None
    messages = session.scalars(
        select(Message).where(Message.ticket_id == ticket.id).order_by(Message.id)
    )
    comps = list(
        session.scalars(
            select(Compensation)
            .where(Compensation.ticket_id == ticket.id)
            .order_by(Compensation.number)
        )
    )
    names = _usernames(
        session, [c.requested_by_id for c in comps] + [c.decided_by_id for c in comps]
    )
    links = session.execute(
        select(TicketLink.other_id, TicketLink.kind).where(TicketLink.ticket_id == ticket.id)
    ).all()
    earlier: list[Ticket] = []
    if party is not None:
        earlier = list(
            session.scalars(
                select(Ticket)
                .where(
                    Ticket.party_id == party.id,
                    Ticket.id != ticket.id,
                    Ticket.drill_id == ticket.drill_id,
                )
                .order_by(Ticket.received_at.desc())
                .limit(20)
            )
        )
    return TicketDetail(
        ticket=ticket_read(session, ticket),
        party=customers.party_read(party, reveal=revealed) if party else None,
        order=order_view(session, order, reveal=revealed) if order else None,
        messages=[
            MessageRead(
                kind=m.kind, author=m.author, body=m.body, sim_at=m.sim_at, event_seq=m.event_seq
            )
            for m in messages
        ],
        trail=[
            EventRead(
                seq=e.seq,
                type=e.type,
                actor=e.actor,
                sim_at=e.sim_at,
                wall_at=e.wall_at,
                payload=e.payload,
                prev_hash=e.prev_hash,
                hash=e.hash,
            )
            for e in events
        ],
        compensations=[
            CompensationRead(
                number=c.number,
                kind=c.kind,
                amount=c.amount,
                currency=c.currency,
                reason=c.reason,
                status=c.status,
                item_sku=c.item_sku,
                multiple=c.multiple,
                funded_by=c.funded_by,
                requested_by=names.get(c.requested_by_id),
                decided_by=names.get(c.decided_by_id),
                decision_note=c.decision_note,
                created_at=c.created_at,
                decided_at=c.decided_at,
                paid_at=c.paid_at,
            )
            for c in comps
        ],
        links=[{"ticket": ticket_key(other), "kind": kind} for other, kind in links],
        earlier_tickets=summaries(session, earlier),
        allowed_actions=allowed_from(ticket.status),
    )
