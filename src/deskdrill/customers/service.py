"""Parties and orders of a drill."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import bindparam, inspect, select
from sqlalchemy.orm import Session

from deskdrill.core.errors import Conflict, Invalid, NotFound
from deskdrill.customers.enums import PartyKind
from deskdrill.customers.masking import mask_address, mask_email, mask_phone
from deskdrill.customers.models import Order, Party
from deskdrill.customers.schemas import OrderCreate, OrderRead, PartyCreate, PartyRead
from deskdrill.db.deferred import insert_later
from deskdrill.db.kept import PerDrill
from deskdrill.db.savepoints import flush_before_reading


def create_party(*, session: Session, drill_id: int, data: PartyCreate, now: datetime) -> Party:
    if find_party(session=session, drill_id=drill_id, ref=data.ref) is not None:
        raise Conflict(f"this drill already has a party with ref {data.ref!r}", field="ref")
    party = Party(drill_id=drill_id, created_at=now, **data.model_dump())
    session.add(party)
    session.flush()
    return party


# Built once: the headless runner looks parties and orders up thousands of times a run.
_PARTY = select(Party).where(Party.drill_id == bindparam("drill"), Party.ref == bindparam("ref"))
_ORDER = select(Order).where(
    Order.drill_id == bindparam("drill"), Order.number == bindparam("number")
)
_NUMBERS = select(Order.number, Order.id).where(Order.drill_id == bindparam("drill"))


class OrderNumbers(PerDrill):
    """A drill's order numbers and ids, kept by a session that is the only writer of its
    drill's orders (the headless runner's, which looks one up at every arrival): read once
    per drill, and again after any rollback; ``create_order`` notes each new one."""

    key = "deskdrill.order-numbers"

    def id_of(self, drill_id: int, number: str) -> int | None:
        numbers: dict[str, int] | None = self.drills.get(drill_id)
        if numbers is None:
            flush_before_reading(self.session, ("orders",))
            rows = self.session.connection().execute(_NUMBERS, {"drill": drill_id})
            numbers = self.drills[drill_id] = {row.number: row.id for row in rows}
        return numbers.get(number)

    @classmethod
    def noted(cls, session: Session, order: Order) -> None:
        """The order was made (its number is the drill's from now on)."""
        kept = cls.of(session)
        numbers = kept.drills.get(order.drill_id) if kept is not None else None
        if numbers is not None:
            numbers[order.number] = order.id


def find_party(*, session: Session, drill_id: int, ref: str) -> Party | None:
    # Remembered for the session: a party's ref never changes and parties are never
    # deleted on their own, so a session that lives on (the headless runner's) asks once
    # per party. One whose insert was rolled back is no longer persistent: asked again.
    known: dict[tuple[int, str], Party] = session.info.setdefault("parties_by_ref", {})
    party = known.get((drill_id, ref))
    if party is not None and inspect(party).persistent:
        return party
    party = session.scalar(_PARTY, {"drill": drill_id, "ref": ref})
    if party is not None:
        known[(drill_id, ref)] = party
    return party


def get_party(*, session: Session, drill_id: int, ref: str, field: str = "party") -> Party:
    party = find_party(session=session, drill_id=drill_id, ref=ref)
    if party is None:
        raise Invalid(f"no party with ref {ref!r} in this drill", field=field)
    return party


def _role_party(
    session: Session, drill_id: int, ref: str | None, kind: PartyKind, field: str
) -> int | None:
    if ref is None:
        return None
    party = get_party(session=session, drill_id=drill_id, ref=ref, field=field)
    if party.kind != kind:
        raise Invalid(f"party {ref!r} is a {party.kind}, not a {kind}", field=field)
    return party.id


def create_order(*, session: Session, drill_id: int, data: OrderCreate, now: datetime) -> Order:
    if find_order(session=session, drill_id=drill_id, number=data.number) is not None:
        raise Conflict(f"this drill already has an order numbered {data.number!r}", field="number")
    owner = get_party(session=session, drill_id=drill_id, ref=data.party)
    fields = data.model_dump(exclude={"party", "merchant", "courier", "driver", "items"})
    order = Order(
        drill_id=drill_id,
        party_id=owner.id,
        merchant_id=_role_party(session, drill_id, data.merchant, PartyKind.merchant, "merchant"),
        courier_id=_role_party(session, drill_id, data.courier, PartyKind.courier, "courier"),
        driver_id=_role_party(session, drill_id, data.driver, PartyKind.driver, "driver"),
        items=[item.model_dump(mode="json") for item in data.items],
        created_at=now,
        **fields,
    )
    insert_later(session, order)
    OrderNumbers.noted(session, order)
    return order


def find_order(*, session: Session, drill_id: int, number: str) -> Order | None:
    kept = OrderNumbers.of(session)
    if kept is not None:
        order_id = kept.id_of(drill_id, number)
        return session.get(Order, order_id) if order_id is not None else None
    return session.scalar(_ORDER, {"drill": drill_id, "number": number})


def get_order(*, session: Session, drill_id: int, number: str) -> Order:
    order = find_order(session=session, drill_id=drill_id, number=number)
    if order is None:
        raise NotFound(f"no order numbered {number!r} in this drill")
    return order


def party_read(party: Party, *, reveal: bool) -> PartyRead:
    return PartyRead(
        ref=party.ref,
        kind=party.kind,
        name=party.name,
        phone=party.phone if reveal else mask_phone(party.phone),
        email=party.email if reveal else mask_email(party.email),
        language=party.language,
        tier=party.tier,
        masked=not reveal,
    )


def order_read(
    *, session: Session, order: Order, reserved: Decimal = Decimal(0), reveal: bool = False
) -> OrderRead:
    """``reserved``: refunds requested and awaiting approval, which hold part of the amount."""
    ids = [i for i in (order.party_id, order.merchant_id, order.courier_id, order.driver_id) if i]
    refs = dict(session.execute(select(Party.id, Party.ref).where(Party.id.in_(ids))).all())
    return OrderRead(
        number=order.number,
        kind=order.kind,
        status=order.status,
        party=refs[order.party_id],
        merchant=refs.get(order.merchant_id) if order.merchant_id else None,
        courier=refs.get(order.courier_id) if order.courier_id else None,
        driver=refs.get(order.driver_id) if order.driver_id else None,
        items=order.items,
        currency=order.currency,
        amount_paid=order.amount_paid,
        refunded_total=order.refunded_total,
        compensated_total=order.compensated_total,
        refunds_awaiting_approval=reserved,
        refundable=order.amount_paid - order.refunded_total - reserved,
        tracking_status=order.tracking_status,
        shipping_address=order.shipping_address if reveal else mask_address(order.shipping_address),
        paid_at=order.paid_at,
        shipped_at=order.shipped_at,
        delivered_at=order.delivered_at,
        route_from=order.route_from,
        route_to=order.route_to,
        distance_km=order.distance_km,
        trip_started_at=order.trip_started_at,
        trip_ended_at=order.trip_ended_at,
    )
