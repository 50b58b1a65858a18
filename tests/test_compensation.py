"""Compensations through the API: refunds, caps, approval, payment, coupons, 假一赔十."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from httpx import Response

from deskdrill.accounts.enums import Role, Tier
from deskdrill.customers.models import Order
from deskdrill.db.engine import unit_of_work
from tests.support.assertions import refused
from tests.support.factories import Agent, Desk, Factory

SMALL = {"compensation_caps": {"L1": {"refund": {"per_action": "10", "per_ticket": "15"}}}}


def open_ticket(desk: Desk, claimer: Agent | None = None, *, order: bool = True) -> str:
    fields: dict[str, Any] = {"party": desk.refs["consumer"]}
    if order:
        fields["order"] = desk.refs["order"]
    key: str = desk.receive(**fields)["key"]
    if claimer is not None:
        claimer.ok(f"/tickets/{key}/claim")
    return key


def setup(
    factory: Factory,
    settings: dict[str, Any] | None = None,
    *,
    claim: bool = True,
    order: bool = True,
) -> tuple[Desk, Agent, str]:
    desk = factory.desk(settings=settings)
    trainee = desk.trainees[0]
    return desk, trainee, open_ticket(desk, trainee if claim else None, order=order)


def compensate(agent: Agent, key: str, **body: Any) -> Response:
    body.setdefault("reason", "the parcel never arrived")
    return agent.post(f"/tickets/{key}/compensations", body)


def granted(agent: Agent, key: str, **body: Any) -> dict[str, Any]:
    response = compensate(agent, key, **body)
    assert response.status_code == 201, response.text
    return cast(dict[str, Any], response.json())


def status(agent: Agent, key: str, **body: Any) -> str:
    return cast(str, granted(agent, key, **body)["status"])


def decide(agent: Agent, key: str, verb: str, number: int = 1, **body: Any) -> Response:
    return agent.post(f"/tickets/{key}/compensations/{number}/{verb}", body)


def decided(agent: Agent, key: str, verb: str, number: int = 1, **body: Any) -> dict[str, Any]:
    response = decide(agent, key, verb, number, **body)
    assert response.status_code == 200, response.text
    return cast(dict[str, Any], response.json())


def order_of(desk: Desk) -> dict[str, Any]:
    response = desk.trainer.get(f"/drills/{desk.drill_id}/orders/{desk.refs['order']}")
    assert response.status_code == 200, response.text
    return cast(dict[str, Any], response.json())


def events(agent: Agent, key: str, kind: str) -> list[dict[str, Any]]:
    trail = agent.get(f"/tickets/{key}").json()["trail"]
    return [e for e in trail if e["type"] == kind]


def subset(actual: dict[str, Any], **expected: Any) -> None:
    assert {name: actual[name] for name in expected} == expected, actual


def assert_totals(desk: Desk, refunded: str, compensated: str = "0", waiting: bool = False) -> None:
    """Order totals; ``refundable`` while refunds wait is the business of its own test."""
    order = order_of(desk)
    assert Decimal(order["refunded_total"]) == Decimal(refunded)
    assert Decimal(order["compensated_total"]) == Decimal(compensated)
    if not waiting:
        assert Decimal(order["refundable"]) == Decimal("100.00") - Decimal(refunded)


class TestRefundWithinCap:
    def test_approved_at_once_and_recorded(self, factory: Factory) -> None:
        desk, trainee, key = setup(factory)
        comp = granted(trainee, key, kind="refund", amount="30.00")
        me = trainee.username
        subset(comp, status="approved", number=1, requested_by=me, decided_by=me, currency="CNY")
        assert Decimal(comp["amount"]) == Decimal("30.00")
        assert comp["decided_at"] is not None and comp["paid_at"] is None
        assert_totals(desk, refunded="30.00")
        [event] = events(trainee, key, "compensation_approved")
        assert event["actor"] == me
        order = desk.refs["order"]
        subset(event["payload"], amount="30.00", kind="refund", order=order, needs_approval=False)
        detail = trainee.get(f"/tickets/{key}").json()
        assert [c["status"] for c in detail["compensations"]] == ["approved"]
        assert trainee.get(f"/tickets/{key}/trail/verify").json()["ok"] is True

    def test_full_refund_when_amount_omitted(self, factory: Factory) -> None:
        desk, _, key = setup(factory)
        granted(desk.trainees[0], key, kind="refund", amount="30.00")
        rest = granted(desk.trainer, key, kind="refund")
        assert (Decimal(rest["amount"]), rest["status"]) == (Decimal("70.00"), "approved")
        assert_totals(desk, refunded="100.00")
        refused(compensate(desk.trainer, key, kind="refund"), 422, "amount", "already refunded")
        refused(compensate(desk.trainer, key, kind="refund", amount="0.01"), 422, "amount")
        assert_totals(desk, refunded="100.00")

    def test_partial_refunds_accumulate(self, factory: Factory) -> None:
        desk, trainee, key = setup(factory)
        for amount in ("10.10", "20.20", "33.33"):
            granted(trainee, key, kind="refund", amount=amount)
        assert_totals(desk, refunded="63.63")
        numbers = [c["number"] for c in trainee.get(f"/tickets/{key}").json()["compensations"]]
        assert numbers == [1, 2, 3]
        assert status(trainee, key, kind="refund", amount="36.37") == "approved"
        assert_totals(desk, refunded="100.00")


class TestRefundLimits:
    def test_above_what_is_left_names_paid_and_refunded(self, factory: Factory) -> None:
        desk, trainee, key = setup(factory)
        granted(trainee, key, kind="refund", amount="80.00")
        response = compensate(trainee, key, kind="refund", amount="30.00")
        refused(response, 422, "amount", "100.00 paid", "80.00 already refunded", "20.00")
        assert_totals(desk, refunded="80.00")
        assert len(events(trainee, key, "compensation_approved")) == 1

    def test_pending_request_reserves_its_amount(self, factory: Factory) -> None:
        desk, trainee, key = setup(factory, SMALL)
        assert status(trainee, key, kind="refund", amount="60.00") == "requested"
        response = compensate(desk.trainer, key, kind="refund", amount="50.00")
        refused(response, 422, "amount", "60.00 awaiting approval", "at most 40.00")
        rest = granted(desk.trainer, key, kind="refund")
        assert Decimal(rest["amount"]) == Decimal("40.00")
        refused(compensate(desk.trainer, key, kind="refund", amount="0.01"), 422, "amount")

    def test_reservation_holds_across_tickets_on_the_same_order(self, factory: Factory) -> None:
        desk = factory.desk(settings=SMALL)
        first = open_ticket(desk, desk.trainees[0])
        second = open_ticket(desk)
        assert status(desk.trainees[0], first, kind="refund", amount="90.00") == "requested"
        refused(compensate(desk.trainer, second, kind="refund", amount="20.00"), 422, "amount")
        assert Decimal(granted(desk.trainer, second, kind="refund")["amount"]) == Decimal("10.00")

    def test_order_refundable_leaves_out_pending_requests(self, factory: Factory) -> None:
        desk, _, key = setup(factory, SMALL)
        assert status(desk.trainees[0], key, kind="refund", amount="60.00") == "requested"
        order = order_of(desk)
        assert Decimal(order["refunded_total"]) == 0
        assert Decimal(order["refundable"]) == Decimal("40.00")

    def test_amount_must_be_positive_with_two_decimals(self, factory: Factory) -> None:
        desk, _, key = setup(factory, claim=False)
        for amount in ("0", "-5", "1.234"):
            refused(compensate(desk.trainer, key, kind="refund", amount=amount), 422, "amount")
        assert_totals(desk, refunded="0")


class TestCaps:
    def test_above_per_action_cap_waits_for_approval(self, factory: Factory) -> None:
        desk, trainee, key = setup(factory, SMALL)
        comp = granted(trainee, key, kind="refund", amount="10.01")
        subset(comp, status="requested", requested_by=trainee.username, decided_by=None)
        assert comp["decided_at"] is None
        assert_totals(desk, refunded="0", waiting=True)
        [event] = events(trainee, key, "compensation_requested")
        subset(event["payload"], needs_approval=True, amount="10.01")
        assert events(trainee, key, "compensation_approved") == []

    def test_per_ticket_cap_crossed_by_the_third_action(self, factory: Factory) -> None:
        desk, trainee, key = setup(factory, SMALL)
        statuses = [status(trainee, key, kind="refund", amount=a) for a in ("10", "5", "0.01")]
        assert statuses == ["approved", "approved", "requested"]
        assert_totals(desk, refunded="15.00", waiting=True)

    def test_default_l1_caps_apply(self, factory: Factory) -> None:
        _, trainee, key = setup(factory)
        assert status(trainee, key, kind="refund", amount="100.00") == "approved"
        assert status(trainee, key, kind="coupon", amount="20.00") == "approved"
        assert status(trainee, key, kind="coupon", amount="20.01") == "requested"
        assert status(trainee, key, kind="goodwill_credit", amount="10.01") == "requested"


class TestApproval:
    def requested(self, factory: Factory, amount: str = "60.00") -> tuple[Desk, str]:
        desk, _, key = setup(factory, SMALL)
        assert status(desk.trainees[0], key, kind="refund", amount=amount) == "requested"
        return desk, key

    def test_requester_cannot_approve_own(self, factory: Factory) -> None:
        desk, key = self.requested(factory)
        refused(decide(desk.trainees[0], key, "approve"), 403, None, "own")
        assert_totals(desk, refunded="0", waiting=True)

    def test_a_peer_can_neither_approve_nor_reject(self, factory: Factory) -> None:
        desk, key = self.requested(factory)
        refused(decide(desk.trainees[1], key, "approve"), 403, None, "higher role or tier")
        refused(decide(desk.trainees[1], key, "reject"), 403, None, "higher role or tier")
        assert_totals(desk, refunded="0", waiting=True)

    def test_higher_tier_within_cap_may_approve(self, factory: Factory) -> None:
        desk = factory.desk(tiers=[Tier.L1, Tier.L2], settings=SMALL)
        key = open_ticket(desk, desk.trainees[0])
        granted(desk.trainees[0], key, kind="refund", amount="60.00")
        comp = decided(desk.trainees[1], key, "approve")
        subset(comp, status="approved", decided_by=desk.trainees[1].username)
        assert_totals(desk, refunded="60.00")

    def test_trainer_approves(self, factory: Factory) -> None:
        desk, key = self.requested(factory)
        comp = decided(desk.trainer, key, "approve", note="fair")
        trainer, trainee = desk.trainer.username, desk.trainees[0].username
        subset(comp, status="approved", decided_by=trainer, requested_by=trainee)
        assert (comp["decision_note"], comp["decided_at"] is not None) == ("fair", True)
        assert_totals(desk, refunded="60.00")
        [event] = events(desk.trainer, key, "compensation_approved")
        assert event["actor"] == trainer
        subset(event["payload"], amount="60.00", note="fair", status="approved")

    def test_reject_leaves_totals_and_frees_the_reservation(self, factory: Factory) -> None:
        desk, key = self.requested(factory)
        comp = decided(desk.trainer, key, "reject", note="no proof")
        subset(comp, status="rejected", decided_by=desk.trainer.username)
        assert_totals(desk, refunded="0")
        assert len(events(desk.trainer, key, "compensation_rejected")) == 1
        assert Decimal(granted(desk.trainer, key, kind="refund")["amount"]) == Decimal("100.00")

    def test_deciding_twice_conflicts(self, factory: Factory) -> None:
        desk, key = self.requested(factory)
        decided(desk.trainer, key, "approve")
        again = decide(desk.trainer, key, "approve")
        refused(again, 409, None, "approved")
        refused(decide(desk.trainer, key, "reject"), 409, None)
        refused(decide(desk.trainer, key, "approve", 9), 404, None, "9")
        assert_totals(desk, refunded="60.00")

    def test_rest_refunded_meanwhile_keeps_the_reservation(self, factory: Factory) -> None:
        desk, key = self.requested(factory)
        granted(desk.trainer, key, kind="refund")
        assert_totals(desk, refunded="40.00", waiting=True)
        assert decided(desk.trainer, key, "approve")["status"] == "approved"
        assert_totals(desk, refunded="100.00")

    def test_approve_after_order_fully_refunded_is_invalid(self, factory: Factory) -> None:
        # The reservation makes this unreachable through the API, so the refund made
        # meanwhile is one outside deskdrill (e.g. by the payment provider).
        desk, key = self.requested(factory)
        with unit_of_work(factory.sessions) as session:
            order = session.query(Order).filter_by(number=desk.refs["order"]).one()
            order.refunded_total = Decimal("100.00")
        response = decide(desk.trainer, key, "approve")
        refused(response, 422, "amount", "exceeds what is left")
        detail = desk.trainer.get(f"/tickets/{key}").json()
        assert detail["compensations"][0]["status"] == "requested"
        assert Decimal(order_of(desk)["refunded_total"]) == Decimal("100.00")


class TestPay:
    def test_pay_approved(self, factory: Factory) -> None:
        desk, trainee, key = setup(factory)
        granted(trainee, key, kind="refund", amount="25.00")
        comp = decided(trainee, key, "pay")
        assert (comp["status"], comp["paid_at"] is not None) == ("paid", True)
        [event] = events(trainee, key, "compensation_paid")
        subset(event["payload"], amount="25.00", status="paid", number=1)
        assert_totals(desk, refunded="25.00")
        refused(decide(trainee, key, "pay"), 409, None, "paid")

    def test_only_approved_ones_can_be_paid(self, factory: Factory) -> None:
        desk, _, key = setup(factory, SMALL)
        granted(desk.trainees[0], key, kind="refund", amount="50.00")
        granted(desk.trainees[0], key, kind="refund", amount="40.00")
        refused(decide(desk.trainer, key, "pay"), 409, None, "requested")
        decided(desk.trainer, key, "reject", 2)
        refused(decide(desk.trainer, key, "pay", 2), 409, None, "rejected")
        assert events(desk.trainer, key, "compensation_paid") == []


class TestCouponAndGoodwill:
    def test_need_an_amount_and_count_as_compensation_not_refund(self, factory: Factory) -> None:
        desk, trainee, key = setup(factory)
        for kind in ("coupon", "goodwill_credit"):
            refused(compensate(trainee, key, kind=kind), 422, "amount", kind)
        coupon = granted(trainee, key, kind="coupon", amount="15.00")
        credit = granted(trainee, key, kind="goodwill_credit", amount="5.50")
        assert (coupon["status"], credit["status"]) == ("approved", "approved")
        assert_totals(desk, refunded="0", compensated="20.50")


class TestCounterfeit:
    def finding(self, agent: Agent, key: str, sku: str = "SHOE", kind: str = "counterfeit") -> None:
        agent.ok(f"/tickets/{key}/findings", {"kind": kind, "item_sku": sku, "evidence": "fake"})

    def test_refused_without_a_finding(self, factory: Factory) -> None:
        desk, _, key = setup(factory, claim=False)
        response = compensate(desk.trainer, key, kind="counterfeit_compensation", item_sku="SHOE")
        refused(response, 422, "kind", "counterfeit finding", "SHOE")
        self.finding(desk.trainer, key, sku="SOCK")
        self.finding(desk.trainer, key, kind="damaged")
        response = compensate(desk.trainer, key, kind="counterfeit_compensation", item_sku="SHOE")
        refused(response, 422, "kind", "SHOE")
        assert_totals(desk, refunded="0")

    def test_ten_times_the_price_by_the_trainer(self, factory: Factory) -> None:
        desk, _, key = setup(factory, claim=False)
        self.finding(desk.trainer, key)
        [finding] = desk.trainer.get(f"/tickets/{key}").json()["ticket"]["findings"]
        subset(finding, kind="counterfeit", item_sku="SHOE")
        comp = granted(desk.trainer, key, kind="counterfeit_compensation", item_sku="SHOE")
        assert Decimal(comp["amount"]) == Decimal("800.00")
        subset(comp, status="approved", multiple=10, item_sku="SHOE", funded_by="platform")
        assert_totals(desk, refunded="0", compensated="800.00")
        [event] = events(desk.trainer, key, "compensation_approved")
        assert event["payload"]["amount"] == "800.00"

    def test_l1_must_ask_for_approval(self, factory: Factory) -> None:
        desk, trainee, key = setup(factory)
        self.finding(trainee, key)
        comp = granted(trainee, key, kind="counterfeit_compensation", item_sku="SHOE")
        assert (comp["status"], Decimal(comp["amount"])) == ("requested", Decimal("800.00"))
        assert_totals(desk, refunded="0")
        assert decided(desk.trainer, key, "approve")["status"] == "approved"
        assert_totals(desk, refunded="0", compensated="800.00")

    def test_explicit_amount_and_multiple(self, factory: Factory) -> None:
        desk, _, key = setup(factory, claim=False)
        self.finding(desk.trainer, key)
        body = {"kind": "counterfeit_compensation", "item_sku": "SHOE"}
        refused(compensate(desk.trainer, key, **body, amount="500.00"), 422, "amount", "800.00")
        refused(compensate(desk.trainer, key, **body, amount="800", multiple=3), 422, "amount")
        assert Decimal(granted(desk.trainer, key, **body, amount="800")["amount"]) == 800
        # Owed once per item: a second claim for the same shoe is refused.
        refused(compensate(desk.trainer, key, **body), 409, None, "once per item")
        desk.trainer.ok(
            f"/tickets/{key}/findings",
            {"kind": "counterfeit", "item_sku": "SOCK", "evidence": "fake label"},
        )
        socks = {"kind": "counterfeit_compensation", "item_sku": "SOCK"}
        comp = granted(desk.trainer, key, **socks, multiple=3)
        assert (Decimal(comp["amount"]), comp["multiple"]) == (Decimal("60.00"), 3)
        for multiple in (0, 11):
            refused(compensate(desk.trainer, key, **body, multiple=multiple), 422, "multiple")

    def test_item_must_be_named_and_on_the_order(self, factory: Factory) -> None:
        desk, _, key = setup(factory, claim=False)
        response = desk.trainer.post(
            f"/tickets/{key}/findings", {"kind": "counterfeit", "item_sku": "HAT", "evidence": "x"}
        )
        refused(response, 422, "item_sku", "HAT")
        body = {"kind": "counterfeit_compensation"}
        refused(compensate(desk.trainer, key, **body, item_sku="HAT"), 422, "item_sku", "HAT")
        refused(compensate(desk.trainer, key, **body), 422, "item_sku")


class TestWhoMayCompensate:
    def test_qa_cannot_compensate_or_decide(self, factory: Factory) -> None:
        desk, trainee, key = setup(factory, SMALL)
        assert status(trainee, key, kind="refund", amount="50.00") == "requested"
        qa = factory.user(Role.qa)
        factory.member(desk, qa)
        refused(compensate(qa, key, kind="refund", amount="5.00"), 403, None, "QA")
        refused(decide(qa, key, "approve"), 403, None, "QA")
        refused(decide(qa, key, "reject"), 403, None, "QA")
        assert_totals(desk, refunded="0", waiting=True)

    def test_trainee_must_claim_and_hold_the_ticket(self, factory: Factory) -> None:
        desk, _, key = setup(factory, claim=False)
        response = compensate(desk.trainees[0], key, kind="refund", amount="5.00")
        refused(response, 403, None, "claim")
        desk.trainees[0].ok(f"/tickets/{key}/claim")
        response = compensate(desk.trainees[1], key, kind="refund", amount="5.00")
        refused(response, 403, None, "someone else")
        refused(decide(desk.trainees[1], key, "pay"), 403, None)
        assert_totals(desk, refunded="0")

    def test_outsider_sees_no_ticket(self, factory: Factory) -> None:
        desk, _, key = setup(factory)
        granted(desk.trainees[0], key, kind="refund", amount="5.00")
        outsider = factory.user(Role.trainer)
        refused(compensate(outsider, key, kind="refund", amount="5.00"), 404, None, key)
        refused(decide(outsider, key, "pay"), 404, None)
        assert_totals(desk, refunded="5.00")


class TestTicketState:
    def test_refund_needs_an_order_a_coupon_does_not(self, factory: Factory) -> None:
        desk, _, key = setup(factory, order=False)
        response = compensate(desk.trainees[0], key, kind="refund", amount="5.00")
        refused(response, 422, "order", key)
        response = compensate(desk.trainees[0], key, kind="counterfeit_compensation")
        refused(response, 422, "order")
        comp = granted(desk.trainees[0], key, kind="coupon", amount="8.00")
        assert (comp["status"], comp["currency"]) == ("approved", "CNY")

    def test_closed_ticket_conflicts(self, factory: Factory) -> None:
        desk, trainee, key = setup(factory)
        trainee.ok(f"/tickets/{key}/resolve", {"code": "solved", "summary": "arrived"})
        trainee.ok(f"/tickets/{key}/close")
        body = refused(compensate(trainee, key, kind="refund", amount="5.00"), 409, None, "closed")
        assert body["current_status"] == "closed"
        assert_totals(desk, refunded="0")
        assert desk.trainer.get(f"/tickets/{key}").json()["compensations"] == []
