"""What the engine does about a miss, and the drill's SLA figures."""

from __future__ import annotations

from tests.test_sla import Drill
from tests.test_sla_engine import sla_events


class TestBreachActions:
    def test_missed_resolution_bumps_priority_once(self, factory) -> None:
        drill = Drill(factory)
        key = drill.ticket(priority="P3")
        drill.agent.ok(f"/tickets/{key}/reply", {"body": "处理中"})
        drill.jump(24 * 3600 + 1)
        ticket = drill.agent.get(f"/tickets/{key}").json()
        assert ticket["ticket"]["priority"] == "P2"
        bumps = [e for e in ticket["trail"] if e["type"] == "change_priority"]
        assert len(bumps) == 1 and bumps[0]["actor"] == "sla-engine"
        drill.jump(3600)
        assert drill.agent.get(f"/tickets/{key}").json()["ticket"]["priority"] == "P2"
        assert drill.agent.get(f"/tickets/{key}/trail/verify").json()["ok"] is True
        # The miss is counted under the priority the ticket had when it was missed.
        m = drill.trainer.get(f"/drills/{drill.desk.drill_id}/metrics").json()
        assert m["breaches_by_priority"] == {"P3": 1}, m

    def test_unescalated_safety_incident_goes_to_the_incident_desk(self, factory) -> None:
        drill = Drill(factory)
        key = drill.ticket(category="safety_incident")
        drill.jump(301)
        detail = drill.agent.get(f"/tickets/{key}").json()
        assert (detail["ticket"]["tier"], detail["ticket"]["assignee"]) == ("incident_desk", None)
        escalation = [e for e in detail["trail"] if e["type"] == "escalate"]
        assert escalation[0]["payload"]["automatic"] is True
        assert drill.state(key, "escalation") == "breached"
        kinds = [e["type"] for e in sla_events(drill, key)]
        assert "sla_warning" in kinds  # the warning came first, at 75% of the five minutes
        drill.jump(600)  # later rounds record nothing more for the same miss
        assert (
            sum(
                1
                for e in sla_events(drill, key)
                if e["payload"]["timer"] == "escalation" and e["type"] == "sla_breach"
            )
            == 1
        )


class TestMetrics:
    def test_attainment_breaches_times_and_backlog(self, factory) -> None:
        drill = Drill(factory)
        fast = drill.ticket()
        slow = drill.ticket(category="logistics")
        drill.jump(60)
        drill.agent.ok(f"/tickets/{fast}/reply", {"body": "您好"})
        drill.jump(300)
        drill.agent.ok(f"/tickets/{slow}/reply", {"body": "抱歉久等"})
        drill.agent.ok(f"/tickets/{fast}/resolve", {"code": "solved", "summary": "ok"})
        m = drill.trainer.get(f"/drills/{drill.desk.drill_id}/metrics").json()
        assert (m["tickets"], m["open"]) == (2, 1)
        assert m["first_response_attainment"] == 50.0
        assert m["resolution_attainment"] == 100.0
        assert m["breaches_by_timer"] == {"first_response": 1}
        assert m["breaches_by_category"] == {"logistics": 1}
        assert m["breaches_by_priority"] == {"P3": 1}
        assert m["first_response_time"]["count"] == 2
        assert m["first_response_time"]["median_seconds"] == (60 + 360) / 2
        assert m["backlog"][0]["open"] == 2 and m["backlog"][-1]["open"] == 1

    def test_cli_status_shows_the_figures(self, factory, run) -> None:
        from sqlalchemy import select

        from deskdrill.db.engine import unit_of_work
        from deskdrill.drills.models import Drill as DrillRow

        drill = Drill(factory)
        drill.ticket()
        drill.jump(600)
        with unit_of_work(factory.sessions, read_only=True) as session:
            name = session.scalar(select(DrillRow.name).where(DrillRow.id == drill.desk.drill_id))
        code, out = run("drill", "status", name)
        assert code == 0, out
        assert "paused" in out and "first response met" in out and "0.0%" in out
        assert "first_response 1" in out
