"""Every ticket operation through the HTTP API, with its error cases."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from deskdrill.accounts.enums import Tier
from deskdrill.core.errors import InvalidTransition
from deskdrill.tickets.lifecycle import next_status
from tests.support.factories import Agent, Desk, Factory


def claimed(desk: Desk, agent: Agent | None = None, **fields: Any) -> tuple[Agent, str]:
    agent = agent or desk.trainees[0]
    key = desk.receive(**fields)["key"]
    agent.ok(f"/tickets/{key}/claim")
    return agent, key


def detail(agent: Agent, key: str) -> dict[str, Any]:
    response = agent.get(f"/tickets/{key}")
    assert response.status_code == 200, response.text
    return response.json()


class TestReceive:
    def test_new_ticket_has_defaults_key_and_first_event(self, factory: Factory) -> None:
        desk = factory.desk()
        ticket = desk.receive(
            party=desk.refs["consumer"], order=desk.refs["order"], tags=["vip", "vip", "超时"]
        )
        assert ticket["key"].startswith("DD-") and len(ticket["key"]) >= 9
        assert (ticket["status"], ticket["priority"], ticket["tier"]) == ("new", "P3", "L1")
        assert ticket["tags"] == ["vip", "超时"]
        assert ticket["assignee"] is None and ticket["event_count"] == 1
        body = detail(desk.trainer, ticket["key"])
        assert body["trail"][0]["type"] == "receive"
        assert body["messages"][0] == {
            **body["messages"][0],
            "kind": "customer",
            "author": desk.refs["consumer"],
        }
        assert body["order"]["number"] == desk.refs["order"]

    def test_safety_incident_defaults_to_p1_and_a_severity(self, factory: Factory) -> None:
        desk = factory.desk()
        ticket = desk.receive(category="safety_incident", subject="司机危险驾驶")
        assert (ticket["priority"], ticket["severity"]) == ("P1", "sev2")

    def test_new_party_is_created_inline(self, factory: Factory) -> None:
        desk = factory.desk()
        party = {"ref": "C-NEW-1", "kind": "passenger", "name": "Ann", "phone": "13900001111"}
        ticket = desk.receive(party=party)
        assert ticket["party"] == "C-NEW-1"
        assert desk.receive(party=party)["party"] == "C-NEW-1"  # found, not duplicated

    def test_unknown_order_and_party_name_the_field(self, factory: Factory) -> None:
        desk = factory.desk()
        base = {
            "drill": desk.drill_id,
            "channel": "chat",
            "category": "order",
            "subject": "s",
            "body": "b",
        }
        response = desk.trainer.post("/tickets", {**base, "order": "NOPE"})
        assert response.status_code == 422 and response.json()["field"] == "order"
        response = desk.trainer.post("/tickets", {**base, "party": "NOBODY"})
        assert response.status_code == 422 and response.json()["field"] == "party"
        response = desk.trainer.post("/tickets", {**base, "channel": "fax"})
        assert response.status_code == 422 and response.json()["field"] == "channel"
        response = desk.trainer.post("/tickets", {**base, "extra": 1})
        assert response.status_code == 422 and response.json()["field"] == "extra"

    def test_unknown_drill_is_404(self, factory: Factory) -> None:
        desk = factory.desk()
        response = desk.trainer.post(
            "/tickets",
            {"drill": 999999, "channel": "chat", "category": "order", "subject": "s", "body": "b"},
        )
        assert response.status_code == 404


class TestAssignment:
    def test_claim_then_claim_again_conflicts(self, factory: Factory) -> None:
        desk = factory.desk()
        first, second = desk.trainees
        key = desk.receive()["key"]
        assert first.ok(f"/tickets/{key}/claim")["assignee"] == first.username
        response = second.post(f"/tickets/{key}/claim")
        assert response.status_code == 409
        assert first.username in response.json()["detail"]
        assert first.post(f"/tickets/{key}/claim").status_code == 409

    def test_assign_unassign_transfer(self, factory: Factory) -> None:
        desk = factory.desk()
        first, second = desk.trainees
        key = desk.receive()["key"]
        assert (
            first.post(f"/tickets/{key}/assign", {"assignee": first.username}).status_code == 403
        )  # trainees claim; trainers assign
        assert (
            desk.trainer.ok(f"/tickets/{key}/assign", {"assignee": first.username})["assignee"]
            == first.username
        )
        moved = first.ok(
            f"/tickets/{key}/transfer",
            {"assignee": second.username, "reason": "Chinese speaker needed"},
        )
        assert moved["assignee"] == second.username
        assert second.ok(f"/tickets/{key}/unassign", {})["assignee"] is None
        assert second.post(f"/tickets/{key}/unassign", {}).status_code == 403
        assert desk.trainer.post(f"/tickets/{key}/unassign", {}).status_code == 409
        types = [e["type"] for e in detail(desk.trainer, key)["trail"]]
        assert types == ["receive", "assign", "transfer", "unassign"]

    def test_assignee_must_be_a_member(self, factory: Factory) -> None:
        desk = factory.desk()
        outsider = factory.user()
        key = desk.receive()["key"]
        response = desk.trainer.post(f"/tickets/{key}/assign", {"assignee": outsider.username})
        assert response.status_code == 422 and response.json()["field"] == "assignee"


class TestConversation:
    def test_first_reply_opens_and_stamps_first_response(self, factory: Factory) -> None:
        desk = factory.desk()
        agent, key = claimed(desk)
        ticket = agent.ok(f"/tickets/{key}/reply", {"body": "您好，我来帮您查询。"})
        assert ticket["status"] == "open" and ticket["first_response_at"] is not None
        again = agent.ok(f"/tickets/{key}/reply", {"body": "还在吗？"})
        assert again["first_response_at"] == ticket["first_response_at"]
        agent.ok(f"/tickets/{key}/notes", {"body": "customer sounds upset"})
        kinds = [m["kind"] for m in detail(agent, key)["messages"]]
        assert kinds == ["customer", "reply", "reply", "note"]

    def test_empty_reply_is_rejected_naming_the_field(self, factory: Factory) -> None:
        desk = factory.desk()
        agent, key = claimed(desk)
        response = agent.post(f"/tickets/{key}/reply", {"body": ""})
        assert response.status_code == 422 and response.json()["field"] == "body"

    def test_third_party_contact_waits_and_their_answer_reopens(self, factory: Factory) -> None:
        desk = factory.desk()
        agent, key = claimed(desk, party=desk.refs["consumer"], order=desk.refs["order"])
        waiting = agent.ok(
            f"/tickets/{key}/third-party-contact", {"party": "courier", "body": "为什么超时？"}
        )
        assert waiting["status"] == "pending_third_party"
        answered = desk.trainer.ok(
            f"/tickets/{key}/third-party-messages", {"party": "courier", "body": "暴雨导致配送延误"}
        )
        assert answered["status"] == "open"
        messages = detail(agent, key)["messages"]
        assert [m["kind"] for m in messages][-2:] == ["to_third_party", "third_party"]
        assert messages[-1]["author"] == desk.refs["courier"]

    def test_third_party_needs_an_order_with_that_role(self, factory: Factory) -> None:
        desk = factory.desk()
        agent, key = claimed(desk)
        response = agent.post(
            f"/tickets/{key}/third-party-contact", {"party": "driver", "body": "hello"}
        )
        assert response.status_code == 422 and response.json()["field"] == "party"

    def test_pending_customer_and_customer_reply(self, factory: Factory) -> None:
        desk = factory.desk()
        agent, key = claimed(desk, party=desk.refs["consumer"])
        agent.ok(f"/tickets/{key}/reply", {"body": "请提供订单截图"})
        pending = agent.ok(f"/tickets/{key}/pending", {"waiting_on": "customer"})
        assert pending["status"] == "pending_customer"
        assert agent.post(f"/tickets/{key}/customer-messages", {"body": "x"}).status_code == 403
        reopened = desk.trainer.ok(f"/tickets/{key}/customer-messages", {"body": "截图如下"})
        assert reopened["status"] == "open"
        assert agent.post(f"/tickets/{key}/resume", {}).status_code == 409
        agent.ok(f"/tickets/{key}/pending", {"waiting_on": "third_party"})
        assert agent.ok(f"/tickets/{key}/resume", {})["status"] == "open"


class TestPriorityAndTags:
    def test_priority_needs_a_reason_and_a_change(self, factory: Factory) -> None:
        desk = factory.desk()
        agent, key = claimed(desk)
        assert agent.post(f"/tickets/{key}/priority", {"priority": "P1"}).status_code == 422
        ticket = agent.ok(f"/tickets/{key}/priority", {"priority": "P1", "reason": "VIP"})
        assert ticket["priority"] == "P1"
        same = agent.post(f"/tickets/{key}/priority", {"priority": "P1", "reason": "again"})
        assert same.status_code == 422 and same.json()["field"] == "priority"
        event = detail(agent, key)["trail"][-1]
        assert event["payload"]["from"] == "P3" and event["payload"]["reason"] == "VIP"

    def test_tags_add_and_remove(self, factory: Factory) -> None:
        desk = factory.desk()
        agent, key = claimed(desk, tags=["a"])
        assert agent.ok(f"/tickets/{key}/tags", {"add": ["b", "退款"], "remove": ["a"]})[
            "tags"
        ] == ["b", "退款"]
        bad = agent.post(f"/tickets/{key}/tags", {"add": ["two words"]})
        assert bad.status_code == 422 and bad.json()["field"].startswith("add")


class TestEscalation:
    complaint: ClassVar[dict[str, str]] = {
        "customer_asks": "full refund",
        "actions_taken": "checked tracking",
        "proposed_outcome": "refund and coupon",
    }

    def test_escalate_up_with_complaint_record(self, factory: Factory) -> None:
        desk = factory.desk(tiers=[Tier.L1, Tier.L2])
        agent, key = claimed(desk)
        up = agent.ok(
            f"/tickets/{key}/escalate",
            {"tier": "L2", "reason": "over my limit", "complaint": self.complaint},
        )
        assert (up["tier"], up["assignee"]) == ("L2", None) and up["escalated_at"]
        event = detail(desk.trainer, key)["trail"][-1]
        assert event["type"] == "escalate"
        assert event["payload"]["complaint"] == self.complaint
        assert event["payload"]["from"] == "L1" and event["payload"]["to"] == "L2"
        l2 = desk.trainees[1]
        l2.ok(f"/tickets/{key}/claim")
        down = l2.ok(f"/tickets/{key}/de-escalate", {"tier": "L1", "reason": "simple case"})
        assert down["tier"] == "L1" and down["escalated_at"] == up["escalated_at"]

    def test_escalation_goes_up_only(self, factory: Factory) -> None:
        desk = factory.desk()
        agent, key = claimed(desk)
        same = agent.post(
            f"/tickets/{key}/escalate", {"tier": "L1", "reason": "r", "complaint": self.complaint}
        )
        assert same.status_code == 422 and same.json()["field"] == "tier"
        missing = agent.post(f"/tickets/{key}/escalate", {"tier": "L2", "reason": "r"})
        assert missing.status_code == 422 and missing.json()["field"] == "complaint"
        down = agent.post(f"/tickets/{key}/de-escalate", {"tier": "L2", "reason": "r"})
        assert down.status_code == 422

    def test_incident_desk_with_named_assignee(self, factory: Factory) -> None:
        desk = factory.desk(tiers=[Tier.L1, Tier.incident_desk])
        agent, key = claimed(desk, category="safety_incident")
        up = agent.ok(
            f"/tickets/{key}/escalate",
            {
                "tier": "incident_desk",
                "reason": "passenger at risk",
                "complaint": self.complaint,
                "assignee": desk.trainees[1].username,
            },
        )
        assert (up["tier"], up["assignee"]) == ("incident_desk", desk.trainees[1].username)


class TestResolution:
    def test_resolve_close_reopen(self, factory: Factory) -> None:
        desk = factory.desk()
        agent, key = claimed(desk)
        refused = agent.post(f"/tickets/{key}/close")
        assert refused.status_code == 409
        assert "new" in refused.json()["detail"] and "resolve" in refused.json()["detail"]
        assert refused.json()["current_status"] == "new"
        done = agent.ok(f"/tickets/{key}/resolve", {"code": "solved", "summary": "explained"})
        assert (done["status"], done["resolution_code"]) == ("resolved", "solved")
        assert agent.post(f"/tickets/{key}/reply", {"body": "x"}).status_code == 409
        closed = agent.ok(f"/tickets/{key}/close")
        assert closed["status"] == "closed" and closed["closed_at"]
        assert (
            agent.post(f"/tickets/{key}/resolve", {"code": "solved", "summary": "x"}).status_code
            == 409
        )
        again = agent.ok(f"/tickets/{key}/reopen", {"reason": "customer says still broken"})
        assert (again["status"], again["resolution_code"], again["closed_at"]) == (
            "open",
            None,
            None,
        )

    def test_customer_message_reopens_a_resolved_ticket(self, factory: Factory) -> None:
        desk = factory.desk()
        agent, key = claimed(desk)
        agent.ok(f"/tickets/{key}/resolve", {"code": "solved", "summary": "done"})
        assert (
            desk.trainer.ok(f"/tickets/{key}/customer-messages", {"body": "没解决"})["status"]
            == "open"
        )

    def test_unknown_resolution_code(self, factory: Factory) -> None:
        desk = factory.desk()
        agent, key = claimed(desk)
        response = agent.post(f"/tickets/{key}/resolve", {"code": "whatever", "summary": "x"})
        assert response.status_code == 422 and response.json()["field"] == "code"


class TestLinksAndMerge:
    def test_link_records_on_both(self, factory: Factory) -> None:
        desk = factory.desk()
        agent, first = claimed(desk)
        _, second = claimed(desk)  # the same agent holds both
        agent.ok(f"/tickets/{first}/links", {"other": second})
        assert agent.post(f"/tickets/{first}/links", {"other": second}).status_code == 409
        assert {"ticket": second, "kind": "related"} in detail(agent, first)["links"]
        assert detail(agent, second)["trail"][-1]["payload"]["other"] == first
        itself = agent.post(f"/tickets/{first}/links", {"other": first})
        assert itself.status_code == 422 and itself.json()["field"] == "other"

    def test_merge_closes_the_duplicate(self, factory: Factory) -> None:
        desk = factory.desk()
        agent, dup = claimed(desk, party=desk.refs["consumer"])
        _, primary = claimed(desk, party=desk.refs["consumer"])
        merged = agent.ok(f"/tickets/{dup}/merge", {"into": primary})
        assert (merged["status"], merged["merged_into"], merged["resolution_code"]) == (
            "closed",
            primary,
            "duplicate",
        )
        survivor = detail(desk.trainer, primary)
        assert survivor["trail"][-1]["type"] == "merged_from"
        assert survivor["ticket"]["status"] == "new"
        assert {"ticket": dup, "kind": "duplicate"} in survivor["links"]
        assert desk.trainer.post(f"/tickets/{primary}/merge", {"into": dup}).status_code == 409
        reopen = desk.trainer.post(f"/tickets/{dup}/reopen", {"reason": "not a duplicate"})
        assert reopen.status_code == 409 and primary in reopen.json()["detail"]

    def test_no_writing_onto_someone_elses_ticket(self, factory: Factory) -> None:
        desk = factory.desk()
        mine_agent, other_agent = desk.trainees
        _, mine = claimed(desk, mine_agent)
        _, theirs = claimed(desk, other_agent)
        before = detail(desk.trainer, theirs)["ticket"]["version"]
        for path, body in (("links", {"other": theirs}), ("merge", {"into": theirs})):
            response = mine_agent.post(f"/tickets/{mine}/{path}", body)
            assert response.status_code == 403, path
        assert detail(desk.trainer, theirs)["ticket"]["version"] == before

    def test_other_drill_ticket_cannot_be_linked(self, factory: Factory) -> None:
        desk, other = factory.desk(), factory.desk()
        factory.member(other, desk.trainer)
        key = desk.receive()["key"]
        foreign = other.receive()["key"]
        response = desk.trainer.post(f"/tickets/{key}/links", {"other": foreign})
        assert response.status_code == 422 and "another drill" in response.json()["detail"]


class TestVersionsAndDetail:
    def test_stale_if_match_answers_409(self, factory: Factory) -> None:
        desk = factory.desk()
        agent, key = claimed(desk)
        etag = agent.get(f"/tickets/{key}").headers["ETag"]
        agent.ok(f"/tickets/{key}/reply", {"body": "one"}, headers={"If-Match": etag})
        stale = agent.post(f"/tickets/{key}/reply", {"body": "two"}, headers={"If-Match": etag})
        assert stale.status_code == 409 and stale.json()["error"] == "stale_version"
        bad = agent.post(f"/tickets/{key}/reply", {"body": "x"}, headers={"If-Match": "abc"})
        assert bad.status_code == 422 and bad.json()["field"] == "If-Match"

    def test_detail_lists_the_partys_earlier_tickets(self, factory: Factory) -> None:
        desk = factory.desk()
        first = desk.receive(party=desk.refs["consumer"])["key"]
        second = desk.receive(party=desk.refs["consumer"])["key"]
        earlier = detail(desk.trainer, second)["earlier_tickets"]
        assert [t["key"] for t in earlier] == [first]

    def test_unknown_ticket_is_404(self, factory: Factory) -> None:
        desk = factory.desk()
        for key in ("DD-999999999", "nonsense", "DD-abc"):
            assert desk.trainer.get(f"/tickets/{key}").status_code == 404


def test_a_step_that_is_not_allowed_says_why() -> None:
    for action, current, hint in (
        ("close", "open", "resolve it first"),
        ("close", "closed", "it is closed already"),
        ("reply", "closed", "reopen it first"),
    ):
        with pytest.raises(InvalidTransition) as refused:
            next_status(action, current)
        assert f"a ticket that is {current}; {hint}. From {current} the next steps are" in str(
            refused.value.message
        )
