"""The desks a headless run keeps in memory (who holds which open tickets, what waits in
each tier's queue, how many active tickets each person holds) answer as the tickets
table does, through arrivals, claims, an escalation, a resolution, a close and a rolled
back savepoint; and so do the order numbers and the ledger of compensations and order
actions it keeps; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from deskdrill.accounts.models import User
from deskdrill.core.clock import utc_now
from deskdrill.customers import service as customers
from deskdrill.customers.models import Order
from deskdrill.customers.schemas import OrderCreate
from deskdrill.customers.service import OrderNumbers
from deskdrill.drills import clock
from deskdrill.settings import default_caps
from deskdrill.simulation import assignment, bots
from deskdrill.tickets import compensation, intake, schemas, service, workflow
from deskdrill.tickets.desks import Desks
from deskdrill.tickets.ledger import Ledger
from deskdrill.tickets.models import Compensation, OrderAction, Ticket, parse_ticket_key
from tests.support.factories import Factory

T = datetime(2026, 5, 1, 9, tzinfo=UTC)


def test_kept_desks_answer_as_the_tickets_table_does(
    factory: Factory, session_factory: Any
) -> None:
    desk = factory.desk(trainees=2)
    drill_id = desk.drill_id
    before = desk.receive(subject="in before the session")  # read with the rest
    people = [t.user_id for t in desk.trainees]

    def both(session: Session, desks: Desks) -> None:
        session.flush()
        for user in people:
            params = {"drill": drill_id, "user": user}
            expected = list(session.connection().execute(bots._MINE, params).scalars())
            assert [t.id for t in desks.mine(drill_id, user)] == expected
        for tier in ("L1", "L2"):
            params = {"drill": drill_id, "tier": tier}
            first = session.scalar(bots._NEXT_IN_QUEUE, params)
            assert desks.next_in_queue(drill_id, tier) is first
        assert desks.load(drill_id) == dict(
            session.execute(assignment._LOAD, {"drill": drill_id}).all()
        )

    with session_factory() as session, session.begin(), Desks.keeping(session) as desks:
        trainer = session.get_one(User, desk.trainer.user_id)
        agent, other = (session.get_one(User, user) for user in people)
        at = clock.instant(session, drill_id, utc_now())
        both(session, desks)
        first = session.get_one(Ticket, parse_ticket_key(before["key"]))
        assert desks.next_in_queue(drill_id, "L1") is first

        def arrive(priority: str) -> Ticket:
            data = schemas.TicketReceive(
                drill=drill_id, channel="chat", category="order", subject="急", body="快",
                priority=priority,
            )  # fmt: skip
            return intake.open_ticket(session=session, data=data, actor=trainer, at=at)

        urgent = arrive("P1")
        both(session, desks)
        assert desks.next_in_queue(drill_id, "L1") is urgent  # more urgent than the first
        service.claim(session=session, ticket=urgent, actor=agent, at=at)
        service.claim(session=session, ticket=first, actor=other, at=at)
        later = arrive("P3")
        service.claim(session=session, ticket=later, actor=agent, at=at)
        both(session, desks)
        assert desks.mine(drill_id, agent.id) == [urgent, later]
        assert desks.load(drill_id) == {agent.id: 2, other.id: 1}
        escalate = schemas.EscalateIn(tier="L2", reason="需要主管", complaint=bots._COMPLAINT)
        workflow.escalate(session=session, ticket=later, actor=agent, at=at, data=escalate)
        both(session, desks)
        resolved = schemas.ResolveIn(code="solved", summary="已送达")
        workflow.resolve(session=session, ticket=first, actor=other, at=at, data=resolved)
        both(session, desks)
        assert desks.mine(drill_id, other.id) == [first]  # resolved, not closed yet
        assert other.id not in desks.load(drill_id)  # but no longer active
        workflow.close(session=session, ticket=first, actor=other, at=at)
        both(session, desks)
        assert desks.mine(drill_id, other.id) == []
        with pytest.raises(ZeroDivisionError), session.begin_nested():
            service.claim(session=session, ticket=arrive("P2"), actor=other, at=at)
            both(session, desks)
            1 / 0  # noqa: B018
        both(session, desks)  # read again: the rolled back ticket is gone
        assert desks.mine(drill_id, other.id) == []


def test_kept_order_numbers_find_what_the_table_holds(
    factory: Factory, session_factory: Any
) -> None:
    """A run looks orders up by number from the numbers it keeps: one made before the
    session, one it makes, none for an unknown number or one a rollback took back."""
    desk = factory.desk(trainees=1)
    drill_id, refs = desk.drill_id, desk.refs
    with session_factory() as session, session.begin(), OrderNumbers.keeping(session):

        def find(number: str) -> Order | None:
            return customers.find_order(session=session, drill_id=drill_id, number=number)

        def make(number: str) -> Order:
            data = OrderCreate(
                number=number, kind="goods", status="delivered", party=refs["consumer"],
                amount_paid="9.90", items=[{"sku": "TEA", "name": "奶茶", "price": "9.90"}],
            )  # fmt: skip
            return customers.create_order(session=session, drill_id=drill_id, data=data, now=T)

        before = find(refs["order"])
        assert before is not None and before.number == refs["order"]
        made = make("KEPT-1")
        assert find("KEPT-1") is made
        assert find("NO-SUCH") is None
        with pytest.raises(ZeroDivisionError), session.begin_nested():
            make("UNDONE-1")
            1 / 0  # noqa: B018
        assert find("UNDONE-1") is None
        assert find("KEPT-1") is made


def test_the_kept_ledger_holds_a_tickets_compensations_and_order_actions(
    factory: Factory, session_factory: Any
) -> None:
    """For a ticket the session opened, the ledger gives the compensations and order
    actions the tables hold (decisions seen as they stand, amounts as stored, what a
    rollback took back gone); for a ticket opened before, it gives None (read the tables)."""
    desk = factory.desk(trainees=1)
    drill_id, order = desk.drill_id, desk.refs["order"]
    before = desk.receive(order=order)
    with session_factory() as session, session.begin(), Ledger.keeping(session):
        trainer = session.get_one(User, desk.trainer.user_id)
        at = clock.instant(session, drill_id, utc_now())
        data = schemas.TicketReceive(
            drill=drill_id, channel="chat", category="refund_return", subject="退款", body="坏了",
            order=order,
        )  # fmt: skip
        ticket = intake.open_ticket(session=session, data=data, actor=trainer, at=at)
        old = session.get_one(Ticket, parse_ticket_key(before["key"]))
        assert Ledger.compensations(session, old.id) is None
        assert Ledger.order_actions(session, old.id) is None
        assert Ledger.compensations(session, ticket.id) == []

        def table(model: type[Compensation] | type[OrderAction]) -> list[Any]:
            session.flush()
            rows = select(model).where(model.ticket_id == ticket.id).order_by(model.id)
            return list(session.scalars(rows))

        def give(kind: str, amount: str) -> Compensation:
            asked = schemas.CompensateIn(kind=kind, amount=amount, reason="补偿")
            return compensation.compensate(
                session=session, ticket=ticket, actor=trainer, at=at, caps=default_caps(),
                data=asked,
            )  # fmt: skip

        give("refund", "30")
        give("coupon", "5.5")
        action = schemas.OrderActionIn(kind="return_authorisation", reason="七天无理由")
        compensation.order_action(session=session, ticket=ticket, actor=trainer, at=at, data=action)
        with pytest.raises(ZeroDivisionError), session.begin_nested():
            give("coupon", "8")
            1 / 0  # noqa: B018
        kept = Ledger.compensations(session, ticket.id)
        assert kept == table(Compensation) and len(kept) == 2
        held = {c.kind: str(c.amount) for c in kept}
        session.expire_all()  # read back from the table
        assert held == {c.kind: str(c.amount) for c in table(Compensation)} == {
            "refund": "30.00", "coupon": "5.50"
        }  # fmt: skip
        assert [c.status for c in kept] == [c.status for c in table(Compensation)]
        assert Ledger.order_actions(session, ticket.id) == table(OrderAction)
        assert [a.kind for a in table(OrderAction)] == ["return_authorisation"]
