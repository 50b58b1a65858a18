"""What happened to a scenario ticket, judged on records, not words: refunds and coupons
paid, escalations, order actions, replies with macros, phrases used. Shared by the
simulated customers (who reopen a wrong answer and rate the service) and the score."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from deskdrill.customers.models import Order
from deskdrill.scenarios.model import Entitlement, Expectation, Scenario
from deskdrill.simulation.models import ScenarioTicket
from deskdrill.tickets import conversation
from deskdrill.tickets.enums import CompensationKind, CompensationStatus, MessageKind
from deskdrill.tickets.ledger import Ledger
from deskdrill.tickets.models import Compensation, Message, OrderAction, Ticket

_GRANTED = (CompensationStatus.approved, CompensationStatus.paid)


@dataclass
class Outcome:
    refunded: Decimal = Decimal(0)
    coupons: Decimal = Decimal(0)
    counterfeit: bool = False
    order_actions: list[str] = field(default_factory=list)
    escalated_to: str | None = None
    replies: list[str] = field(default_factory=list)


# Built once: a customer's rating and the score ask for every ticket they judge.
_GRANTED_AMOUNTS = select(Compensation.kind, Compensation.amount).where(
    Compensation.ticket_id == bindparam("ticket"), Compensation.status.in_(_GRANTED)
)
_ORDER_ACTIONS = select(OrderAction.kind).where(OrderAction.ticket_id == bindparam("ticket"))


@dataclass
class DrillRecords:
    """What ``outcome`` reads, for every ticket of a drill at once: the score judges them
    all, and three reads per ticket cost a large drill's debrief more than a second."""

    granted: dict[int, list[tuple[str, Decimal]]] = field(default_factory=dict)
    order_actions: dict[int, list[str]] = field(default_factory=dict)
    replies: dict[int, list[str]] = field(default_factory=dict)


_DRILL_GRANTED = (
    select(Compensation.ticket_id, Compensation.kind, Compensation.amount)
    .join(Ticket, Ticket.id == Compensation.ticket_id)
    .where(Ticket.drill_id == bindparam("drill"), Compensation.status.in_(_GRANTED))
    .order_by(Compensation.id)
)
_DRILL_ORDER_ACTIONS = (
    select(OrderAction.ticket_id, OrderAction.kind)
    .join(Ticket, Ticket.id == OrderAction.ticket_id)
    .where(Ticket.drill_id == bindparam("drill"))
    .order_by(OrderAction.id)
)
_DRILL_REPLIES = (
    select(Message.ticket_id, Message.body)
    .join(Ticket, Ticket.id == Message.ticket_id)
    .where(Ticket.drill_id == bindparam("drill"), Message.kind == MessageKind.reply)
    .order_by(Message.id)
)


def records_of(session: Session, drill_id: int) -> DrillRecords:
    """The drill's granted compensations, order actions and replies, in the order each
    ticket's own reads give them."""
    which = {"drill": drill_id}
    found = DrillRecords()
    for ticket_id, kind, amount in session.execute(_DRILL_GRANTED, which):
        found.granted.setdefault(ticket_id, []).append((kind, amount))
    for ticket_id, kind in session.execute(_DRILL_ORDER_ACTIONS, which):
        found.order_actions.setdefault(ticket_id, []).append(kind)
    for ticket_id, body in session.execute(_DRILL_REPLIES, which):
        found.replies.setdefault(ticket_id, []).append(body)
    return found


def outcome(session: Session, ticket: Ticket, records: DrillRecords | None = None) -> Outcome:
    """What the ticket's customer got; from ``records`` when given (read for the drill)."""
    found = Outcome(escalated_to=ticket.tier if ticket.escalated_at is not None else None)
    if records is not None:
        _add(found, records.granted.get(ticket.id, []))
        found.order_actions = list(records.order_actions.get(ticket.id, []))
        found.replies = list(records.replies.get(ticket.id, []))
        return found
    which = {"ticket": ticket.id}
    _add(found, _granted(session, ticket.id))
    actions = Ledger.order_actions(session, ticket.id)
    if actions is None:
        found.order_actions = list(session.scalars(_ORDER_ACTIONS, which))
    else:
        found.order_actions = [a.kind for a in actions]
    found.replies = [
        m.body for m in conversation.messages_of(session, ticket.id) if m.kind == MessageKind.reply
    ]
    return found


def _add(found: Outcome, granted: list[tuple[str, Decimal]]) -> None:
    for kind, amount in granted:
        if kind == CompensationKind.refund:
            found.refunded += amount
        elif kind == CompensationKind.coupon:
            found.coupons += amount
        elif kind == CompensationKind.counterfeit_compensation:
            found.counterfeit = True


def _granted(session: Session, ticket_id: int) -> list[tuple[str, Decimal]]:
    """Kind and amount of each compensation approved or paid on the ticket."""
    kept = Ledger.compensations(session, ticket_id)
    if kept is None:
        return [(k, a) for k, a in session.execute(_GRANTED_AMOUNTS, {"ticket": ticket_id})]
    return [(c.kind, c.amount) for c in kept if c.status in _GRANTED]


def expectations_for(scenario: Scenario, link: ScenarioTicket, category: str) -> list[Expectation]:
    ref = link.ref.removeprefix("timeline:")
    return [
        e
        for e in scenario.expectations
        if (e.ticket is not None and e.ticket == ref and link.ref.startswith("timeline:"))
        or (e.category is not None and e.category == category)
    ]


def entitlement(expectations: list[Expectation]) -> Entitlement | None:
    return next((e.entitled for e in expectations if e.entitled is not None), None)


def entitled_refund(entitled: Entitlement, session: Session, ticket: Ticket) -> Decimal | None:
    if entitled.refund is None:
        return None
    if entitled.refund == "full":
        order = session.get(Order, ticket.order_id) if ticket.order_id else None
        return order.amount_paid if order is not None else None
    return Decimal(entitled.refund)


def shortfalls(entitled: Entitlement, got: Outcome, session: Session, ticket: Ticket) -> list[str]:
    """What the customer was entitled to and did not get (empty: they got it all)."""
    missing = []
    refund = entitled_refund(entitled, session, ticket)
    if refund is not None and got.refunded < refund:
        missing.append(f"refund {got.refunded} of {refund}")
    if entitled.coupon is not None and got.coupons < entitled.coupon:
        missing.append(f"coupon {got.coupons} of {entitled.coupon}")
    if entitled.counterfeit_compensation and not got.counterfeit:
        missing.append("counterfeit compensation")
    if entitled.order_action is not None and entitled.order_action not in got.order_actions:
        missing.append(f"order action {entitled.order_action}")
    if entitled.resolution and ticket.resolution_code not in entitled.resolution:
        missing.append(f"resolution {' or '.join(entitled.resolution)}")
    return missing
