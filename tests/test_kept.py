"""``db.kept.insert_now`` writes a new row as a flush would, without flushing the rest,
``held`` finds a row as ``Session.get`` does, and ``db.deferred.insert_later`` puts a new
row off with an id of its own; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, inspect, select, text, update
from sqlalchemy.exc import NoResultFound
from sqlalchemy.orm import Session

from deskdrill.customers.models import Order, Party
from deskdrill.db.deferred import Deferred, Ids, insert_later
from deskdrill.db.kept import held, held_one, insert_now
from deskdrill.drills.models import Drill, DrillMember
from tests.support.factories import Desk, Factory

T = datetime(2026, 5, 1, 9, tzinfo=UTC)


def orders_of(session: Session, desk: Desk) -> Callable[[str], Order]:
    """A maker of new orders of the desk's consumer, by number."""
    party = session.scalars(
        select(Party).where(Party.drill_id == desk.drill_id, Party.ref == desk.refs["consumer"])
    ).one()

    def order(number: str) -> Order:
        return Order(
            drill_id=desk.drill_id, number=number, kind="goods", status="paid",
            party_id=party.id, amount_paid=Decimal("12.50"), created_at=T,
        )  # fmt: skip

    return order


def test_insert_now_writes_the_row_a_flush_would_and_leaves_the_rest_pending(
    factory: Factory, session_factory: Any
) -> None:
    desk = factory.desk(trainees=1)
    with session_factory() as session, session.begin():
        order = orders_of(session, desk)

        flushed = order("BY-FLUSH")
        session.add(flushed)
        session.flush()
        pending = order("STILL-PENDING")
        session.add(pending)
        now = insert_now(session, order("AT-ONCE"))
        assert isinstance(now.id, int) and now.id > flushed.id
        assert (now.currency, now.refunded_total, now.items) == ("CNY", Decimal("0"), [])
        assert inspect(now).persistent and now not in session.dirty
        assert pending in session.new  # not flushed with it
        assert session.get(Order, now.id) is now
        ids = (flushed.id, now.id)
    with session_factory() as session:
        rows = session.scalars(select(Order).where(Order.id.in_(ids)).order_by(Order.id)).all()
        columns = [c.key for c in Order.__table__.columns if c.key not in ("id", "number")]
        by_flush, at_once = ({c: getattr(row, c) for c in columns} for row in rows)
        assert at_once == by_flush
        numbers = session.scalars(select(Order.number).where(Order.drill_id == desk.drill_id))
        assert {"BY-FLUSH", "STILL-PENDING", "AT-ONCE"} <= set(numbers)


def test_held_gives_what_get_gives(factory: Factory, session_factory: Any) -> None:
    """From the identity map when the session holds the row, else as ``get`` loads it;
    None (or get_one's error) for a row that does not exist."""
    desk = factory.desk(trainees=1)
    with session_factory() as session:
        drill = held(session, Drill, desk.drill_id)  # not held yet: loaded
        assert drill is not None and drill is session.get(Drill, desk.drill_id)
        assert held(session, Drill, desk.drill_id) is drill
        session.expire(drill)
        assert held_one(session, Drill, desk.drill_id).id == desk.drill_id
        user = desk.trainees[0].user_id
        member = held(session, DrillMember, (desk.drill_id, user))  # a two-column key
        assert member is session.get(DrillMember, (desk.drill_id, user))
        assert held(session, Drill, 10**9) is None
        with pytest.raises(NoResultFound):
            held_one(session, Drill, 10**9)


def test_rows_put_off_early_take_the_next_ids_and_go_before_any_statement(
    factory: Factory, session_factory: Any
) -> None:
    """``insert_later`` in a session keeping ``Deferred`` and ``Ids``: each new row takes
    the id SQLite would give it and is sent before the next statement of the session, an
    ORM flush or a plain one; a savepoint rolled back takes its rows and their ids back.
    PostgreSQL's sequences would not know of such ids, so there ``Ids`` is refused."""
    desk = factory.desk(trainees=1)
    with session_factory() as session, session.begin():
        if session.get_bind().dialect.name != "sqlite":
            with pytest.raises(RuntimeError, match="only on SQLite"), Ids.keeping(session):
                pass
            return
        order = orders_of(session, desk)

        last = session.scalar(select(func.max(Order.id))) or 0
        with Deferred.keeping(session), Ids.keeping(session):
            first, second = insert_later(session, order("E-1")), insert_later(session, order("E-2"))
            assert (first.id, second.id) == (last + 1, last + 2)
            assert inspect(first).persistent and held(session, Order, first.id) is first
            refund = update(Order).where(Order.id == first.id).values(status="refunded")
            assert session.connection().execute(refund).rowcount == 1  # sent before it
            second.status = "cancelled"
            session.flush()  # the ORM's update finds its row
            with pytest.raises(ZeroDivisionError), session.begin_nested():
                insert_later(session, order("E-GONE"))
                raise ZeroDivisionError
            third = insert_later(session, order("E-3"))
            assert third.id == last + 3  # the id of the row rolled back, handed out again
            # Put off before a savepoint, sent before it is taken: its rollback keeps them.
            fourth = insert_later(session, order("E-4"))
            with pytest.raises(ZeroDivisionError), session.begin_nested():
                session.connection().execute(select(1))
                raise ZeroDivisionError
            assert insert_later(session, order("E-5")).id == fourth.id + 1
    with session_factory() as session:
        rows = session.execute(
            select(Order.id, Order.number, Order.status, Order.currency)
            .where(Order.id > last)
            .order_by(Order.id)
        ).all()
        assert [tuple(r) for r in rows] == [
            (last + 1, "E-1", "refunded", "CNY"),
            (last + 2, "E-2", "cancelled", "CNY"),
            (last + 3, "E-3", "paid", "CNY"),
            (last + 4, "E-4", "paid", "CNY"),
            (last + 5, "E-5", "paid", "CNY"),
        ]


def test_what_is_put_off_goes_with_the_commit(factory: Factory, session_factory: Any) -> None:
    desk = factory.desk(trainees=1)
    with session_factory() as session, session.begin():
        number = insert_now(session, orders_of(session, desk)("TO-SHIP")).number
    refund = text("UPDATE orders SET status = 'refunded' WHERE number = :n AND drill_id = :d")
    with session_factory() as session, Deferred.keeping(session):
        session.execute(select(1))
        Deferred.write(session, refund, {"n": number, "d": desk.drill_id})
        session.commit()  # with no flush of what was put off before it
        with session_factory() as other:
            mine = (Order.number == number) & (Order.drill_id == desk.drill_id)
            status = other.scalar(select(Order.status).where(mine))
            assert status == "refunded"
