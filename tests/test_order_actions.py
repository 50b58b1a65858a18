"""Order actions through the API: returns, exchanges, reships, cancels, address changes."""

from __future__ import annotations

from typing import Any

from httpx import Response

from deskdrill.accounts.enums import Role
from deskdrill.customers.masking import mask_address
from tests.support.assertions import refused
from tests.support.factories import Agent, Desk, Factory, unique

KINDS_AFTER_DELIVERY = ("return_authorisation", "exchange", "reship")


def new_order(desk: Desk, status: str = "paid", **fields: Any) -> str:
    number = unique("FD")
    body: dict[str, Any] = {
        "number": number,
        "kind": "goods",
        "status": status,
        "party": desk.refs["consumer"],
        "merchant": desk.refs["merchant"],
        "amount_paid": "50.00",
        "shipping_address": "1 Old Road, Hangzhou",
        "items": [
            {"sku": "MUG", "name": "Mug", "price": "30.00"},
            {"sku": "CAP", "name": "Cap", "price": "20.00"},
        ],
    }
    body.update(fields)
    desk.trainer.ok(f"/drills/{desk.drill_id}/orders", body, status=201)
    return number


def ride_order(desk: Desk, status: str) -> str:
    driver = unique("D-")
    desk.trainer.ok(
        f"/drills/{desk.drill_id}/parties",
        {"ref": driver, "kind": "driver", "name": "张师傅"},
        status=201,
    )
    return new_order(
        desk,
        status,
        kind="ride",
        driver=driver,
        merchant=None,
        items=[],
        shipping_address=None,
        amount_paid="35.00",
        route_from="West Lake",
        route_to="Airport",
    )


def ticket_for(desk: Desk, order: str | None, claimer: Agent | None = None) -> str:
    fields: dict[str, Any] = {"party": desk.refs["consumer"]}
    if order is not None:
        fields["order"] = order
    key: str = desk.receive(**fields)["key"]
    if claimer is not None:
        claimer.ok(f"/tickets/{key}/claim")
    return key


def act(agent: Agent, key: str, kind: str, **body: Any) -> Response:
    return agent.post(
        f"/tickets/{key}/order-actions", {"kind": kind, "reason": "customer asked", **body}
    )


def done(agent: Agent, key: str, kind: str, **body: Any) -> dict[str, Any]:
    response = act(agent, key, kind, **body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    assert result["key"] == key
    return result


def order_of(desk: Desk, number: str) -> dict[str, Any]:
    response = desk.trainer.get(f"/drills/{desk.drill_id}/orders/{number}")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def actions(agent: Agent, key: str) -> list[dict[str, Any]]:
    trail = agent.get(f"/tickets/{key}").json()["trail"]
    return [e for e in trail if e["type"] == "order_action"]


class TestCancel:
    def test_cancel_before_shipping(self, factory: Factory) -> None:
        desk = factory.desk()
        trainee = desk.trainees[0]
        for status in ("placed", "paid"):
            number = new_order(desk, status)
            key = ticket_for(desk, number, trainee)
            done(trainee, key, "cancel")
            assert order_of(desk, number)["status"] == "cancelled"
            [event] = actions(trainee, key)
            assert event["actor"] == trainee.username
            assert event["payload"]["kind"] == "cancel"
            assert event["payload"]["order"] == number
            assert event["payload"]["reason"] == "customer asked"

    def test_no_cancel_once_shipped(self, factory: Factory) -> None:
        desk = factory.desk()
        for status in ("shipped", "delivered", "completed"):
            number = new_order(desk, status)
            key = ticket_for(desk, number)
            refused(act(desk.trainer, key, "cancel"), 422, "kind", status, "before it ships")
            assert order_of(desk, number)["status"] == status
            assert actions(desk.trainer, key) == []

    def test_cancel_twice_names_the_cancelled_status(self, factory: Factory) -> None:
        desk = factory.desk()
        key = ticket_for(desk, new_order(desk))
        done(desk.trainer, key, "cancel")
        refused(act(desk.trainer, key, "cancel"), 422, "kind", "cancelled")
        assert len(actions(desk.trainer, key)) == 1


class TestChangeAddress:
    def test_updates_the_shipping_address(self, factory: Factory) -> None:
        desk = factory.desk()
        trainee = desk.trainees[0]
        number = new_order(desk)
        key = ticket_for(desk, number, trainee)
        done(trainee, key, "change_address", new_address="88 New Street, Shanghai")
        order = order_of(desk, number)
        assert order["shipping_address"] == mask_address("88 New Street, Shanghai")
        assert order["status"] == "paid"
        [event] = actions(trainee, key)
        payload = event["payload"]
        assert (payload["kind"], payload["order"]) == ("change_address", number)
        assert payload["old_address"] == "1 Old Road, Hangzhou"
        assert payload["new_address"] == "88 New Street, Shanghai"

    def test_needs_the_new_address(self, factory: Factory) -> None:
        desk = factory.desk()
        number = new_order(desk)
        key = ticket_for(desk, number)
        refused(act(desk.trainer, key, "change_address"), 422, "new_address", "new address")
        refused(act(desk.trainer, key, "change_address", new_address=""), 422, "new_address")
        assert order_of(desk, number)["shipping_address"] == mask_address("1 Old Road, Hangzhou")
        assert actions(desk.trainer, key) == []

    def test_only_before_shipping(self, factory: Factory) -> None:
        desk = factory.desk()
        number = new_order(desk, "shipped")
        key = ticket_for(desk, number)
        response = act(desk.trainer, key, "change_address", new_address="88 New Street")
        refused(response, 422, "kind", "shipped")
        assert order_of(desk, number)["shipping_address"] == mask_address("1 Old Road, Hangzhou")


class TestReturnExchangeReship:
    def test_after_delivery(self, factory: Factory) -> None:
        desk = factory.desk()
        trainee = desk.trainees[0]
        number = desk.refs["order"]
        key = ticket_for(desk, number, trainee)
        for kind in KINDS_AFTER_DELIVERY:
            done(trainee, key, kind, items=["SHOE"])
        trail = actions(trainee, key)
        assert [e["payload"]["kind"] for e in trail] == list(KINDS_AFTER_DELIVERY)
        assert {e["payload"]["order"] for e in trail} == {number}
        assert all(e["payload"]["items"] == ["SHOE"] for e in trail)
        assert order_of(desk, number)["status"] == "delivered"

    def test_completed_order_counts_as_delivered(self, factory: Factory) -> None:
        desk = factory.desk()
        key = ticket_for(desk, new_order(desk, "completed"))
        done(desk.trainer, key, "return_authorisation", items=["MUG"])
        done(desk.trainer, key, "exchange", items=["CAP"])
        assert len(actions(desk.trainer, key)) == 2

    def test_return_and_exchange_need_a_delivered_order(self, factory: Factory) -> None:
        desk = factory.desk()
        for status in ("paid", "shipped"):
            key = ticket_for(desk, new_order(desk, status))
            for kind in ("return_authorisation", "exchange"):
                refused(act(desk.trainer, key, kind), 422, "kind", status, "delivered order")
            assert actions(desk.trainer, key) == []

    def test_reship_of_a_shipped_order(self, factory: Factory) -> None:
        desk = factory.desk()
        number = new_order(desk, "shipped")
        key = ticket_for(desk, number)
        done(desk.trainer, key, "reship", items=["MUG", "CAP"])
        [event] = actions(desk.trainer, key)
        assert event["payload"]["items"] == ["MUG", "CAP"]
        assert order_of(desk, number)["status"] == "shipped"


class TestRide:
    def test_a_ride_can_be_cancelled(self, factory: Factory) -> None:
        desk = factory.desk()
        number = ride_order(desk, "paid")
        key = ticket_for(desk, number)
        done(desk.trainer, key, "cancel")
        assert order_of(desk, number)["status"] == "cancelled"
        [event] = actions(desk.trainer, key)
        assert (event["payload"]["kind"], event["payload"]["order"]) == ("cancel", number)

    def test_only_cancel_applies_to_a_ride(self, factory: Factory) -> None:
        desk = factory.desk()
        completed = ticket_for(desk, ride_order(desk, "completed"))
        for kind in KINDS_AFTER_DELIVERY:
            refused(act(desk.trainer, completed, kind), 422, "kind", "ride", "only cancel")
        paid = ticket_for(desk, ride_order(desk, "paid"))
        response = act(desk.trainer, paid, "change_address", new_address="Airport T2")
        refused(response, 422, "kind", "ride")
        assert actions(desk.trainer, completed) == actions(desk.trainer, paid) == []


class TestItems:
    def test_unknown_skus_are_named(self, factory: Factory) -> None:
        desk = factory.desk()
        key = ticket_for(desk, desk.refs["order"])
        response = act(desk.trainer, key, "return_authorisation", items=["SHOE", "HAT", "BAG"])
        body = refused(response, 422, "items", "HAT", "BAG", desk.refs["order"])
        assert "SHOE" not in body["detail"]
        assert actions(desk.trainer, key) == []

    def test_unknown_sku_refused_for_cancel_too(self, factory: Factory) -> None:
        desk = factory.desk()
        number = new_order(desk)
        key = ticket_for(desk, number)
        refused(act(desk.trainer, key, "cancel", items=["SHOE"]), 422, "items", "SHOE")
        assert order_of(desk, number)["status"] == "paid"

    def test_shape_is_checked(self, factory: Factory) -> None:
        desk = factory.desk()
        key = ticket_for(desk, desk.refs["order"])
        refused(act(desk.trainer, key, "refund"), 422, "kind")
        response = desk.trainer.post(f"/tickets/{key}/order-actions", {"kind": "reship"})
        refused(response, 422, "reason")
        refused(act(desk.trainer, key, "reship", colour="red"), 422, "colour")


class TestTrail:
    def test_detail_trail_shows_each_action(self, factory: Factory) -> None:
        desk = factory.desk()
        trainee = desk.trainees[0]
        number = new_order(desk)
        key = ticket_for(desk, number, trainee)
        done(trainee, key, "change_address", new_address="2 Park Lane")
        done(trainee, key, "reship", items=["MUG"])
        done(trainee, key, "cancel")
        detail = trainee.get(f"/tickets/{key}").json()
        events = [e for e in detail["trail"] if e["type"] == "order_action"]
        assert [e["payload"]["kind"] for e in events] == ["change_address", "reship", "cancel"]
        assert all(e["payload"]["order"] == number for e in events)
        assert all(e["actor"] == trainee.username for e in events)
        assert [e["seq"] for e in detail["trail"]] == list(range(1, len(detail["trail"]) + 1))
        assert detail["ticket"]["event_count"] == len(detail["trail"])
        assert detail["order"]["status"] == "cancelled"
        assert detail["order"]["shipping_address"] == mask_address("2 Park Lane")
        assert trainee.get(f"/tickets/{key}/trail/verify").json()["ok"] is True


class TestWhoMayAct:
    def test_trainee_must_claim_first(self, factory: Factory) -> None:
        desk = factory.desk()
        key = ticket_for(desk, desk.refs["order"])
        refused(act(desk.trainees[0], key, "reship"), 403, None, "claim")

    def test_not_on_another_trainees_ticket(self, factory: Factory) -> None:
        desk = factory.desk()
        key = ticket_for(desk, desk.refs["order"], desk.trainees[0])
        refused(act(desk.trainees[1], key, "reship"), 403, None, "someone else")
        assert actions(desk.trainer, key) == []

    def test_qa_cannot(self, factory: Factory) -> None:
        desk = factory.desk()
        qa = factory.user(Role.qa)
        factory.member(desk, qa)
        number = new_order(desk)
        key = ticket_for(desk, number)
        refused(act(qa, key, "cancel"), 403, None, "QA")
        assert order_of(desk, number)["status"] == "paid"

    def test_outsider_gets_not_found(self, factory: Factory) -> None:
        desk = factory.desk()
        key = ticket_for(desk, desk.refs["order"])
        refused(act(factory.user(Role.trainer), key, "reship"), 404, None, key)

    def test_ticket_without_order(self, factory: Factory) -> None:
        desk = factory.desk()
        key = ticket_for(desk, None, desk.trainees[0])
        refused(act(desk.trainees[0], key, "reship"), 422, "order", key)

    def test_closed_ticket_conflicts(self, factory: Factory) -> None:
        desk = factory.desk()
        trainee = desk.trainees[0]
        number = new_order(desk)
        key = ticket_for(desk, number, trainee)
        trainee.ok(f"/tickets/{key}/resolve", {"code": "solved", "summary": "done"})
        trainee.ok(f"/tickets/{key}/close")
        body = refused(act(trainee, key, "cancel"), 409, None, "closed")
        assert body["current_status"] == "closed"
        assert order_of(desk, number)["status"] == "paid"
