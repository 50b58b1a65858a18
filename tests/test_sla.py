"""SLA timers meet and breach at the exact simulated second, with pauses and changes."""

from __future__ import annotations

from typing import Any

from deskdrill.accounts.enums import Role
from tests.support.factories import Agent, Desk, Factory, unique

COMPLAINT = {"customer_asks": "safety", "actions_taken": "calmed", "proposed_outcome": "review"}


class Drill:
    """A desk whose clock is started and paused, so time moves only by jumps."""

    def __init__(self, factory: Factory, settings: dict[str, Any] | None = None) -> None:
        self.desk: Desk = factory.desk(settings=settings)
        self.trainer = self.desk.trainer
        self.agent: Agent = self.desk.trainees[0]
        self.clock = f"/drills/{self.desk.drill_id}/clock"
        self.trainer.ok(f"{self.clock}/start", {"at": "2026-03-02T09:00:00Z"})
        self.trainer.ok(f"{self.clock}/pause")

    def jump(self, seconds: int) -> None:
        self.trainer.ok(f"{self.clock}/jump", {"seconds": seconds})

    def ticket(self, **fields: Any) -> str:
        key = self.desk.receive(**fields)["key"]
        self.agent.ok(f"/tickets/{key}/claim")
        return key

    def timers(self, key: str) -> dict[str, dict[str, Any]]:
        response = self.agent.get(f"/tickets/{key}/sla")
        assert response.status_code == 200, response.text
        return {t["name"]: t for t in response.json()["timers"]}

    def state(self, key: str, timer: str) -> str:
        return self.timers(key)[timer]["state"]


class TestFirstResponse:
    def test_chat_p3_warns_then_breaches_after_three_minutes(self, factory: Factory) -> None:
        drill = Drill(factory)
        key = drill.ticket()
        first = drill.timers(key)["first_response"]
        assert (first["target_seconds"], first["seconds_left"], first["state"]) == (180, 180, "ok")
        drill.jump(134)
        assert drill.state(key, "first_response") == "ok"
        drill.jump(1)  # 135 s: 75% of the target
        assert drill.state(key, "first_response") == "warning"
        drill.jump(45)  # exactly 180 s: still in time
        assert drill.timers(key)["first_response"]["seconds_left"] == 0
        assert drill.state(key, "first_response") == "warning"
        drill.jump(1)
        assert drill.state(key, "first_response") == "breached"
        drill.agent.ok(f"/tickets/{key}/reply", {"body": "您好"})
        assert drill.state(key, "first_response") == "breached"  # late stays late

    def test_reply_on_the_last_second_meets_it(self, factory: Factory) -> None:
        drill = Drill(factory)
        key = drill.ticket()
        drill.jump(180)
        drill.agent.ok(f"/tickets/{key}/reply", {"body": "您好"})
        assert drill.state(key, "first_response") == "met"

    def test_email_and_priority_targets(self, factory: Factory) -> None:
        drill = Drill(factory)
        email = drill.ticket(channel="email")
        assert drill.timers(email)["first_response"]["target_seconds"] == 4 * 3600
        chat = drill.ticket()
        drill.jump(30)
        drill.agent.ok(f"/tickets/{chat}/priority", {"priority": "P1", "reason": "VIP"})
        timer = drill.timers(chat)["first_response"]
        assert (timer["target_seconds"], timer["seconds_left"]) == (60, 30)
        drill.jump(31)
        assert drill.state(chat, "first_response") == "breached"


class TestResolutionAndPauses:
    def test_waiting_on_the_customer_stops_the_resolution_timer(self, factory: Factory) -> None:
        drill = Drill(factory)
        key = drill.ticket(priority="P1")  # resolution within 60 minutes
        drill.agent.ok(f"/tickets/{key}/reply", {"body": "请提供截图"})
        drill.jump(600)
        drill.agent.ok(f"/tickets/{key}/pending", {"waiting_on": "customer"})
        drill.jump(7200)
        resolution = drill.timers(key)["resolution"]
        assert (resolution["state"], resolution["seconds_left"]) == ("paused", 3000)
        drill.trainer.ok(f"/tickets/{key}/customer-messages", {"body": "截图如下"})
        resolution = drill.timers(key)["resolution"]
        assert (resolution["state"], resolution["seconds_left"]) == ("ok", 3000)
        drill.jump(3001)
        assert drill.state(key, "resolution") == "breached"

    def test_resolving_in_time_meets_it_and_reopening_starts_afresh(self, factory: Factory) -> None:
        drill = Drill(factory)
        key = drill.ticket(priority="P1")
        drill.agent.ok(f"/tickets/{key}/reply", {"body": "已处理"})
        drill.jump(3000)
        drill.agent.ok(f"/tickets/{key}/resolve", {"code": "solved", "summary": "done"})
        assert drill.state(key, "resolution") == "met"
        drill.jump(3600)
        drill.trainer.ok(f"/tickets/{key}/customer-messages", {"body": "还是不行"})
        resolution = drill.timers(key)["resolution"]
        assert (resolution["state"], resolution["seconds_left"]) == ("ok", 3600)

    def test_reopening_a_closed_ticket_days_later_starts_afresh(self, factory: Factory) -> None:
        """The days a ticket stayed closed count for no timer: the resolution window is a
        fresh one from the reopen, and no warning or breach is recorded for a moment
        before it."""
        drill = Drill(factory)
        key = drill.ticket(priority="P1")  # resolution within 60 minutes
        drill.agent.ok(f"/tickets/{key}/reply", {"body": "已处理"})
        drill.jump(600)
        drill.agent.ok(f"/tickets/{key}/resolve", {"code": "solved", "summary": "done"})
        drill.agent.ok(f"/tickets/{key}/close")
        drill.jump(3 * 24 * 3600)
        drill.agent.ok(f"/tickets/{key}/reopen", {"reason": "the customer wrote again"})
        resolution = drill.timers(key)["resolution"]
        assert (resolution["state"], resolution["seconds_left"]) == ("ok", 3600)
        drill.jump(3601)
        assert drill.state(key, "resolution") == "breached"
        trail = drill.agent.get(f"/tickets/{key}").json()["trail"]
        times = [e["sim_at"] for e in trail]
        assert times == sorted(times), [(e["type"], e["sim_at"]) for e in trail]
        reopened = next(e["sim_at"] for e in trail if e["type"] == "reopen")
        assert [e["type"] for e in trail if e["sim_at"] > reopened] == ["sla_warning", "sla_breach"]


class TestNextResponseAndUpdates:
    def test_customer_chasing_starts_the_next_response_timer(self, factory: Factory) -> None:
        drill = Drill(factory)
        key = drill.ticket()
        drill.agent.ok(f"/tickets/{key}/reply", {"body": "您好"})
        assert "next_response" not in drill.timers(key)
        drill.jump(60)
        drill.trainer.ok(f"/tickets/{key}/customer-messages", {"body": "怎么样了？"})
        assert drill.timers(key)["next_response"]["seconds_left"] == 15 * 60
        drill.jump(15 * 60 + 1)
        assert drill.state(key, "next_response") == "breached"
        drill.agent.ok(f"/tickets/{key}/reply", {"body": "马上"})
        assert "next_response" not in drill.timers(key)

    def test_keep_the_customer_informed_while_a_third_party_is_asked(
        self, factory: Factory
    ) -> None:
        drill = Drill(factory)
        key = drill.ticket(order=drill.desk.refs["order"])
        drill.agent.ok(f"/tickets/{key}/third-party-contact", {"party": "courier", "body": "?"})
        assert drill.timers(key)["keep_informed"]["seconds_left"] == 30 * 60
        drill.jump(20 * 60)
        drill.agent.ok(f"/tickets/{key}/reply", {"body": "仍在核实"})
        assert drill.timers(key)["keep_informed"]["seconds_left"] == 30 * 60
        drill.jump(30 * 60 + 1)
        assert drill.state(key, "keep_informed") == "breached"
        drill.trainer.ok(
            f"/tickets/{key}/third-party-messages", {"party": "courier", "body": "暴雨延误"}
        )
        assert "keep_informed" not in drill.timers(key)


class TestEscalation:
    def test_safety_incidents_go_to_the_incident_desk_within_five_minutes(
        self, factory: Factory
    ) -> None:
        drill = Drill(factory)
        quick = drill.ticket(category="safety_incident")
        slow = drill.ticket(category="safety_incident")
        assert drill.timers(quick)["escalation"]["target_seconds"] == 300
        drill.jump(240)
        drill.agent.ok(
            f"/tickets/{quick}/escalate",
            {"tier": "incident_desk", "reason": "passenger at risk", "complaint": COMPLAINT},
        )
        drill.jump(61)
        assert drill.state(quick, "escalation") == "met"
        assert drill.state(slow, "escalation") == "breached"
        assert "escalation" not in drill.timers(drill.ticket())  # other categories


class TestPolicies:
    def test_category_and_channel_targets_override_the_base(self, factory: Factory) -> None:
        policy = {
            "name": "express",
            "targets": {
                "P1": {"first_response": 1, "first_response_email": 15, "next_response": 2,
                       "resolution": 60},
                "P2": {"first_response": 1, "first_response_email": 60, "next_response": 5,
                       "resolution": 240},
                "P3": {"first_response": 3, "first_response_email": 240, "next_response": 15,
                       "resolution": 1440},
                "P4": {"first_response": 10, "first_response_email": 480, "next_response": 60,
                       "resolution": 4320},
            },
            "by_channel": {"phone": {"P3": {"first_response": 0.5}}},
            "by_category": {"payment": {"P3": {"first_response": 2, "resolution": 120}}},
        }  # fmt: skip
        drill = Drill(factory, settings={"sla_policy": policy})
        base = drill.timers(drill.ticket())
        assert (base["first_response"]["target_seconds"], base["resolution"]["target_seconds"]) == (
            180,
            1440 * 60,
        )
        phone = drill.timers(drill.ticket(channel="phone"))
        assert phone["first_response"]["target_seconds"] == 30
        # The category wins over the channel; what it leaves out is inherited.
        paid = drill.timers(drill.ticket(channel="phone", category="payment"))
        assert paid["first_response"]["target_seconds"] == 120
        assert paid["resolution"]["target_seconds"] == 120 * 60
        key = drill.ticket(channel="phone")
        drill.jump(31)
        assert drill.state(key, "first_response") == "breached"

    def test_a_drill_refuses_an_unknown_or_incomplete_policy(self, factory: Factory) -> None:
        trainer = factory.user(Role.trainer)
        for settings, where in (
            ({"sla_policy": "strict"}, "no SLA policy named 'strict'"),
            ({"sla_policy": {"name": "x", "targets": {}}}, "targets are missing for P1"),
        ):
            response = trainer.post(
                "/drills", {"name": unique("d-"), "title": "t", "settings": settings}
            )
            assert response.status_code == 422, response.text
            assert where in response.text
            assert "sla_policy" in response.text
