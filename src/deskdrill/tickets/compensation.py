"""Refunds, coupons, goodwill credit and counterfeit compensation, within policy and caps.

Caps apply per authority level: a trainee acts at their tier (L1, L2, supervisor,
incident_desk), trainers and admins at their role. Each kind has a cap per action and per
ticket; the drill may override the global settings. Within the cap a compensation is
approved at once; above it, it waits for someone whose cap covers it. A refund can never
exceed what was paid minus what is already refunded or waiting for approval.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from deskdrill.accounts.enums import Role
from deskdrill.accounts.models import User
from deskdrill.core.clock import Instant
from deskdrill.core.errors import Conflict, Forbidden, Invalid, NotFound
from deskdrill.customers.enums import OrderStatus
from deskdrill.customers.models import Order
from deskdrill.db.base import as_money
from deskdrill.db.savepoints import settle
from deskdrill.drills import service as drills
from deskdrill.drills.models import Drill
from deskdrill.settings import Cap
from deskdrill.tickets import schemas
from deskdrill.tickets.enums import CompensationKind, CompensationStatus, OrderActionKind
from deskdrill.tickets.ledger import Ledger
from deskdrill.tickets.models import Compensation, OrderAction, Ticket
from deskdrill.tickets.recording import authorize, check_version, record

Caps = Mapping[str, Mapping[str, Cap]]
COUNTERFEIT_MULTIPLE = 10
_LIVE = (CompensationStatus.requested, CompensationStatus.approved, CompensationStatus.paid)
_GRANTED = (CompensationStatus.approved, CompensationStatus.paid)


def effective_caps(global_caps: Caps, drill: Drill) -> dict[str, dict[str, Cap]]:
    caps = {level: dict(kinds) for level, kinds in global_caps.items()}
    for level, kinds in (drill.settings or {}).get("compensation_caps", {}).items():
        for kind, cap in kinds.items():
            caps.setdefault(level, {})[kind] = Cap.model_validate(cap)
    return caps


def caps_for(session: Session, drill_id: int, global_caps: Caps) -> dict[str, dict[str, Cap]]:
    """The caps that apply in a drill: the global ones with the drill's own on top."""
    return effective_caps(global_caps, session.get_one(Drill, drill_id))


AUTHORITY_RANK = {
    "L1": 1,
    "L2": 2,
    "supervisor": 3,
    "incident_desk": 3,
    "trainer": 4,
    "admin": 5,
}


def _rank(session: Session, drill_id: int, user: User) -> int:
    return AUTHORITY_RANK.get(authority(session, drill_id, user) or "", 0)


def _locked_order(session: Session, order_id: int | None) -> Order | None:
    """The order, read again and locked (PostgreSQL row lock; SQLite writers are serial), so
    two tickets cannot both spend what is left to refund on it."""
    if order_id is None:
        return None
    # NO KEY UPDATE: serial among those who spend from the order, while a row that only
    # refers to it (a compensation, an order action) goes in meanwhile.
    query = select(Order).where(Order.id == order_id).with_for_update(key_share=True)
    return session.scalars(query.execution_options(populate_existing=True)).one()


def authority(session: Session, drill_id: int, user: User) -> str | None:
    """The level whose caps apply: a trainee's tier in the drill, else the role."""
    if user.role == Role.trainee:
        return drills.tier_in(session=session, drill_id=drill_id, user=user)
    if user.role in (Role.trainer, Role.admin):
        return str(user.role)
    return None


def _cap(caps: Caps, session: Session, drill_id: int, user: User, kind: str) -> Cap:
    level = authority(session, drill_id, user)
    zero = Cap(per_action=Decimal(0), per_ticket=Decimal(0))
    return caps.get(level, {}).get(kind, zero) if level else zero


def _ticket_total(
    session: Session,
    ticket: Ticket,
    kind: str,
    *,
    exclude: int | None = None,
    statuses: tuple[CompensationStatus, ...] = _LIVE,
) -> Decimal:
    query = select(func.coalesce(func.sum(Compensation.amount), 0)).where(
        Compensation.ticket_id == ticket.id,
        Compensation.kind == kind,
        Compensation.status.in_(statuses),
    )
    if exclude is not None:
        query = query.where(Compensation.id != exclude)
    return Decimal(session.scalar(query) or 0)


def pending_refunds(session: Session, order: Order, *, exclude: int | None = None) -> Decimal:
    query = select(func.coalesce(func.sum(Compensation.amount), 0)).where(
        Compensation.order_id == order.id,
        Compensation.kind == CompensationKind.refund,
        Compensation.status == CompensationStatus.requested,
    )
    if exclude is not None:
        query = query.where(Compensation.id != exclude)
    return Decimal(session.scalar(query) or 0)


def refundable(session: Session, order: Order, *, exclude: int | None = None) -> Decimal:
    return (
        order.amount_paid - order.refunded_total - pending_refunds(session, order, exclude=exclude)
    )


def _within(cap: Cap, amount: Decimal, ticket_total: Decimal) -> bool:
    return amount <= cap.per_action and ticket_total + amount <= cap.per_ticket


def _order(session: Session, ticket: Ticket, what: str) -> Order:
    order = _locked_order(session, ticket.order_id)
    if order is None:
        raise Invalid(
            f"{what} needs an order on the ticket; ticket {ticket.key} has none", field="order"
        )
    return order


def _grant(order: Order | None, comp: Compensation) -> None:
    if order is None:
        return
    if comp.kind == CompensationKind.refund:
        order.refunded_total += comp.amount
    else:
        order.compensated_total += comp.amount


def _describe(comp: Compensation) -> dict[str, Any]:
    return {
        "number": comp.number,
        "kind": comp.kind,
        "amount": comp.amount,
        "currency": comp.currency,
        "reason": comp.reason,
        "status": comp.status,
        "item_sku": comp.item_sku,
        "multiple": comp.multiple,
        "funded_by": comp.funded_by,
    }


def compensate(
    *,
    session: Session,
    ticket: Ticket,
    actor: User,
    at: Instant,
    caps: Caps,
    data: schemas.CompensateIn,
    expected_version: int | None = None,
) -> Compensation:
    check_version(ticket, expected_version)
    authorize(ticket, actor, "compensate")
    order = _locked_order(session, ticket.order_id)
    amount, multiple, funded_by = data.amount, None, "merchant"
    if data.kind == CompensationKind.refund:
        order = _order(session, ticket, "a refund")
        left = refundable(session, order)
        amount = amount if amount is not None else left
        if amount <= 0 or amount > left:
            raise Invalid(
                f"refund of {amount} exceeds what is left to refund on order {order.number}: "
                f"{order.amount_paid} paid, {order.refunded_total} already refunded, "
                f"{order.amount_paid - order.refunded_total - left} awaiting approval "
                f"(at most {left} more)",
                field="amount",
            )
    elif data.kind == CompensationKind.counterfeit_compensation:
        order = _order(session, ticket, "counterfeit compensation")
        amount, multiple = _counterfeit_amount(session, ticket, order, data)
        funded_by = "platform"
    elif amount is None:
        raise Invalid(f"a {data.kind} needs an amount", field="amount")
    else:
        funded_by = "platform"
    assert amount is not None
    amount = as_money(amount)
    number = (
        len(
            session.scalars(
                select(Compensation.id).where(Compensation.ticket_id == ticket.id)
            ).all()
        )
        + 1
    )
    granted = _within(
        _cap(caps, session, ticket.drill_id, actor, data.kind),
        amount,
        _ticket_total(session, ticket, data.kind),
    )
    comp = Compensation(
        ticket_id=ticket.id,
        number=number,
        order_id=order.id if order else None,
        kind=data.kind,
        amount=amount,
        currency=order.currency if order else "CNY",
        reason=data.reason,
        item_sku=data.item_sku,
        multiple=multiple,
        funded_by=funded_by,
        status=CompensationStatus.approved if granted else CompensationStatus.requested,
        requested_by_id=actor.id,
        decided_by_id=actor.id if granted else None,
        created_at=at.sim,
        decided_at=at.sim if granted else None,
    )
    session.add(comp)
    Ledger.added(session, comp)
    if granted:
        _grant(order, comp)
    record(
        session,
        ticket,
        action="compensate",
        actor=actor,
        at=at,
        event_type="compensation_approved" if granted else "compensation_requested",
        payload={**_describe(comp), "order": order, "needs_approval": not granted},
    )
    settle(session)
    return comp


def _counterfeit_amount(
    session: Session, ticket: Ticket, order: Order, data: schemas.CompensateIn
) -> tuple[Decimal, int]:
    """假一赔十: a multiple of the item's price, only after a counterfeit finding on that item."""
    if not data.item_sku:
        raise Invalid("counterfeit compensation names the item", field="item_sku")
    item = next((i for i in order.items if i["sku"] == data.item_sku), None)
    if item is None:
        raise Invalid(f"order {order.number} has no item {data.item_sku!r}", field="item_sku")
    if not any(
        f["kind"] == "counterfeit" and f.get("item_sku") == data.item_sku for f in ticket.findings
    ):
        raise Invalid(
            "counterfeit compensation needs a counterfeit finding for item "
            f"{data.item_sku!r} on this ticket first",
            field="kind",
        )
    already = session.scalar(
        select(Compensation.number).where(
            Compensation.order_id == order.id,
            Compensation.kind == CompensationKind.counterfeit_compensation,
            Compensation.item_sku == data.item_sku,
            Compensation.status.in_(_LIVE),
        )
    )
    if already is not None:
        raise Conflict(
            f"item {data.item_sku!r} of order {order.number} already has counterfeit "
            "compensation; it is owed once per item"
        )
    multiple = data.multiple or COUNTERFEIT_MULTIPLE
    amount = Decimal(str(item["price"])) * item.get("quantity", 1) * multiple
    if data.amount is not None and data.amount != amount:
        raise Invalid(
            f"counterfeit compensation is {multiple} × the item price = {amount}, "
            f"not {data.amount}",
            field="amount",
        )
    return amount, multiple


def get_compensation(session: Session, ticket: Ticket, number: int) -> Compensation:
    comp = session.scalar(
        select(Compensation).where(
            Compensation.ticket_id == ticket.id, Compensation.number == number
        )
    )
    if comp is None:
        raise NotFound(f"ticket {ticket.key} has no compensation number {number}")
    return comp


def decide(
    *,
    session: Session,
    ticket: Ticket,
    actor: User,
    at: Instant,
    caps: Caps,
    number: int,
    approve: bool,
    data: schemas.DecisionIn,
) -> Compensation:
    """Approve or reject a compensation waiting for approval."""
    if actor.role == Role.qa:
        raise Forbidden("QA reviewers have read-only access to tickets")
    record_action = "decide_compensation"
    comp = get_compensation(session, ticket, number)
    if comp.status != CompensationStatus.requested:
        raise Conflict(
            f"compensation {number} is {comp.status}; only requested ones can be "
            "approved or rejected"
        )
    if comp.requested_by_id == actor.id:
        raise Forbidden("you cannot approve or reject your own request")
    requester = session.get(User, comp.requested_by_id) if comp.requested_by_id else None
    if _rank(session, ticket.drill_id, actor) <= (
        _rank(session, ticket.drill_id, requester) if requester else 0
    ):
        raise Forbidden(
            f"a request by {requester.username if requester else 'someone'} is decided by a "
            "higher role or tier (L1 < L2 < supervisor / incident desk < trainer < admin)"
        )
    order = _locked_order(session, comp.order_id)
    if approve:
        total = _ticket_total(session, ticket, comp.kind, exclude=comp.id, statuses=_GRANTED)
        if not _within(_cap(caps, session, ticket.drill_id, actor, comp.kind), comp.amount, total):
            raise Forbidden(
                f"{comp.kind} of {comp.amount} is above your approval limit; it "
                "needs someone with a higher limit"
            )
        if (
            order is not None
            and comp.kind == CompensationKind.refund
            and comp.amount > refundable(session, order, exclude=comp.id)
        ):
            raise Invalid(
                f"refund of {comp.amount} now exceeds what is left to refund on "
                f"order {order.number}",
                field="amount",
            )
        comp.status = CompensationStatus.approved
        _grant(order, comp)
    else:
        comp.status = CompensationStatus.rejected
    comp.decided_by_id, comp.decided_at, comp.decision_note = actor.id, at.sim, data.note
    record(
        session,
        ticket,
        action=record_action,
        actor=actor,
        at=at,
        event_type="compensation_approved" if approve else "compensation_rejected",
        payload={**_describe(comp), "note": data.note},
    )
    settle(session)
    return comp


def pay(*, session: Session, ticket: Ticket, actor: User, at: Instant, number: int) -> Compensation:
    authorize(ticket, actor, "pay_compensation")
    comp = get_compensation(session, ticket, number)
    if comp.status != CompensationStatus.approved:
        raise Conflict(f"compensation {number} is {comp.status}; only approved ones can be paid")
    comp.status, comp.paid_at = CompensationStatus.paid, at.sim
    record(
        session,
        ticket,
        action="pay_compensation",
        actor=actor,
        at=at,
        event_type="compensation_paid",
        payload=_describe(comp),
    )
    settle(session)
    return comp


def record_finding(
    *,
    session: Session,
    ticket: Ticket,
    actor: User,
    at: Instant,
    data: schemas.FindingIn,
    expected_version: int | None = None,
) -> Ticket:
    check_version(ticket, expected_version)
    authorize(ticket, actor, "record_finding")
    if data.item_sku is not None:
        order = _order(session, ticket, "a finding about an item")
        if not any(i["sku"] == data.item_sku for i in order.items):
            raise Invalid(f"order {order.number} has no item {data.item_sku!r}", field="item_sku")
    finding = {"kind": data.kind, "item_sku": data.item_sku, "evidence": data.evidence}
    record(
        session,
        ticket,
        action="record_finding",
        actor=actor,
        at=at,
        changes={"findings": [*ticket.findings, finding]},
    )
    settle(session)
    return ticket


_BEFORE_SHIPPING = (OrderStatus.placed, OrderStatus.paid)
_AFTER_DELIVERY = (OrderStatus.delivered, OrderStatus.completed)


def order_action(
    *,
    session: Session,
    ticket: Ticket,
    actor: User,
    at: Instant,
    data: schemas.OrderActionIn,
    expected_version: int | None = None,
) -> OrderAction:
    check_version(ticket, expected_version)
    authorize(ticket, actor, "order_action")
    order = _order(session, ticket, f"a {data.kind}")
    kind = data.kind
    if (
        kind in (OrderActionKind.cancel, OrderActionKind.change_address)
        and order.status not in _BEFORE_SHIPPING
    ):
        raise Invalid(
            f"order {order.number} is {order.status}; {kind} is only possible before "
            "it ships (use a return authorisation or reship instead)",
            field="kind",
        )
    if (
        kind in (OrderActionKind.return_authorisation, OrderActionKind.exchange)
        and order.status not in _AFTER_DELIVERY
    ):
        raise Invalid(
            f"order {order.number} is {order.status}; {kind} needs a delivered order", field="kind"
        )
    if order.kind == "ride" and kind != OrderActionKind.cancel:
        raise Invalid(f"order {order.number} is a ride; only cancel applies", field="kind")
    if kind == OrderActionKind.change_address and not data.new_address:
        raise Invalid("a change of address needs the new address", field="new_address")
    unknown = [s for s in data.items if s not in {i["sku"] for i in order.items}]
    if unknown:
        raise Invalid(f"order {order.number} has no item(s) {', '.join(unknown)}", field="items")
    details: dict[str, Any] = {"reason": data.reason, "items": data.items}
    if kind == OrderActionKind.cancel:
        order.status = OrderStatus.cancelled
    elif kind == OrderActionKind.change_address:
        details["old_address"], details["new_address"] = order.shipping_address, data.new_address
        order.shipping_address = data.new_address
    action = OrderAction(
        ticket_id=ticket.id,
        order_id=order.id,
        kind=kind,
        details=details,
        actor_id=actor.id,
        sim_at=at.sim,
    )
    session.add(action)
    Ledger.added(session, action)
    record(
        session,
        ticket,
        action="order_action",
        actor=actor,
        at=at,
        payload={"kind": kind, "order": order, **details},
    )
    settle(session)
    return action
