"""The drill clock: derived simulated time across pause, resume, speed changes and jumps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from deskdrill.app import create_app
from deskdrill.core.clock import ClockState, DrillClock
from deskdrill.core.errors import Invalid, InvalidTransition
from tests.support.factories import Factory

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
MS = timedelta(milliseconds=1)

steps = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=10_000_000),  # wall milliseconds until the step
        st.sampled_from(["pause", "resume", "speed", "jump", "read"]),
        # Whole speeds: then adding up step by step equals the clock's per-segment arithmetic.
        st.sampled_from([Decimal(1), Decimal(7), Decimal("60"), Decimal(120)]),
        st.integers(min_value=1, max_value=86_400_000),  # jump milliseconds
    ),
    max_size=40,
)


class TestClockArithmetic:
    @given(steps)
    def test_matches_a_model_that_adds_up_each_segment(self, plan) -> None:
        clock = DrillClock().start(T0, at=datetime(2026, 1, 1, 9, tzinfo=UTC))
        wall, sim, running, speed = T0, datetime(2026, 1, 1, 9, tzinfo=UTC), True, Decimal(1)
        for wait_ms, action, new_speed, jump_ms in plan:
            if running:
                sim += int(Decimal(wait_ms) * speed) * MS
            wall += wait_ms * MS
            try:
                if action == "pause":
                    clock, running = clock.pause(wall), False
                elif action == "resume":
                    clock, running = clock.resume(wall), True
                elif action == "speed":
                    clock, speed = clock.with_speed(wall, new_speed), new_speed
                elif action == "jump":
                    clock, sim = clock.jump(wall, jump_ms * MS), sim + jump_ms * MS
            except InvalidTransition:
                assert (action, running) in {("pause", False), ("resume", True)}
            assert clock.sim_now(wall) == sim
            assert clock.state == (ClockState.running if running else ClockState.paused)

    @given(st.lists(st.integers(min_value=0, max_value=3_600_000), max_size=30))
    def test_never_runs_backwards(self, waits: list[int]) -> None:
        clock = DrillClock().start(T0, speed=Decimal(60))
        wall, last = T0, clock.sim_now(T0)
        for n, wait in enumerate(waits):
            wall += wait * MS
            speed = Decimal("0.5") if n % 2 else Decimal(1 + n % 5)
            clock = clock.with_speed(wall, speed) if n % 3 == 0 else clock
            now = clock.sim_now(wall)
            assert now >= last
            last = now

    def test_draft_follows_the_wall_and_finished_is_frozen(self) -> None:
        assert DrillClock().sim_now(T0 + 5 * MS) == T0 + 5 * MS
        clock = DrillClock().start(T0, speed=Decimal(10)).finish(T0 + timedelta(seconds=6))
        assert clock.sim_now(T0 + timedelta(days=1)) == T0 + timedelta(minutes=1)
        with pytest.raises(InvalidTransition, match="finished"):
            clock.resume(T0)
        with pytest.raises(Invalid):
            DrillClock().start(T0, speed=Decimal(1000))
        with pytest.raises(Invalid):
            DrillClock().start(T0).jump(T0, timedelta(seconds=-1))


class TestClockAPI:
    def test_trainer_runs_the_clock(self, factory: Factory) -> None:
        desk = factory.desk()
        base = f"/drills/{desk.drill_id}/clock"
        assert desk.trainer.get(base).json()["state"] == "draft"
        started = desk.trainer.ok(f"{base}/start", {"at": "2026-03-01T09:00:00Z", "speed": 60})
        assert (started["state"], Decimal(started["speed"])) == ("running", 60)
        assert started["sim_now"].startswith("2026-03-01T09:0")
        paused = desk.trainer.ok(f"{base}/pause")
        assert desk.trainer.get(base).json()["sim_now"] == paused["sim_now"]
        jumped = desk.trainer.ok(f"{base}/jump", {"seconds": 3600})
        frozen = datetime.fromisoformat(paused["sim_now"])
        assert datetime.fromisoformat(jumped["sim_now"]) == frozen + timedelta(hours=1)
        assert desk.trainer.ok(f"{base}/speed", {"speed": 120})["state"] == "paused"
        assert desk.trainer.ok(f"{base}/resume")["state"] == "running"
        assert desk.trainer.ok(f"{base}/finish")["state"] == "finished"
        again = desk.trainer.post(f"{base}/resume")
        assert again.status_code == 409 and "finished" in again.json()["detail"]

    def test_errors_and_rights(self, factory: Factory) -> None:
        desk = factory.desk()
        base = f"/drills/{desk.drill_id}/clock"
        assert desk.trainees[0].post(f"{base}/start", {}).status_code == 403
        assert desk.trainees[0].get(base).status_code == 200
        assert factory.desk().trainer.get(base).status_code == 404
        assert desk.trainer.post(f"{base}/pause").status_code == 409
        bad = desk.trainer.post(f"{base}/start", {"speed": 5000})
        assert bad.status_code == 422 and bad.json()["field"] == "speed"
        desk.trainer.ok(f"{base}/start", {})
        for seconds in (0, 7 * 24 * 3600 + 1):  # forward, by at most 7 days
            bad = desk.trainer.post(f"{base}/jump", {"seconds": seconds})
            assert bad.status_code == 422 and bad.json()["field"] == "seconds"
        naive = desk.trainer.post(f"{base}/speed", {"speed": "fast"})
        assert naive.status_code == 422 and naive.json()["field"] == "speed"

    def test_tickets_are_stamped_with_simulated_time(self, factory: Factory) -> None:
        desk = factory.desk()
        base = f"/drills/{desk.drill_id}/clock"
        desk.trainer.ok(f"{base}/start", {"at": "2026-03-01T09:00:00Z", "speed": 30})
        frozen = desk.trainer.ok(f"{base}/pause")["sim_now"]
        ticket = desk.receive()
        assert ticket["received_at"] == frozen
        desk.trainer.ok(f"{base}/jump", {"seconds": 90})
        agent = desk.trainees[0]
        agent.ok(f"/tickets/{ticket['key']}/claim")
        replied = agent.ok(f"/tickets/{ticket['key']}/reply", {"body": "您好"})
        assert datetime.fromisoformat(replied["first_response_at"]) == datetime.fromisoformat(
            frozen
        ) + timedelta(seconds=90)
        trail = agent.get(f"/tickets/{ticket['key']}").json()["trail"]
        assert trail[-1]["sim_at"] == replied["first_response_at"]
        assert trail[-1]["wall_at"] != trail[-1]["sim_at"]

    def test_a_finished_drill_keeps_its_tickets_as_they_were(self, factory: Factory) -> None:
        """Its trail, and so its score and debrief, stay as they were at the end: actions
        on its tickets, and new tickets, are refused; reading them is not."""
        desk = factory.desk()
        base = f"/drills/{desk.drill_id}/clock"
        desk.trainer.ok(f"{base}/start", {})
        ticket = desk.receive()
        agent = desk.trainees[0]
        agent.ok(f"/tickets/{ticket['key']}/claim")
        desk.trainer.ok(f"{base}/finish")
        for who, path, body in (
            (agent, "reply", {"body": "这不关我们的事"}),
            (agent, "resolve", {"code": "solved", "summary": "done"}),
            (desk.trainer, "assign", {"assignee": agent.username}),
        ):
            refused = who.post(f"/tickets/{ticket['key']}/{path}", body)
            assert refused.status_code == 409, (path, refused.text)
            assert "the drill is finished" in refused.json()["detail"]
        new = {"drill": desk.drill_id, "channel": "chat", "category": "other", "subject": "x"}
        late = desk.trainer.post("/tickets", {**new, "body": "y"})
        assert late.status_code == 409 and "finished" in late.json()["detail"]
        trail = agent.get(f"/tickets/{ticket['key']}").json()["trail"]
        assert [e["type"] for e in trail] == ["receive", "claim"]

    def test_a_restarted_server_finds_the_same_time(self, factory: Factory, settings) -> None:
        desk = factory.desk()
        base = f"/api/v1/drills/{desk.drill_id}/clock"
        desk.trainer.ok(f"/drills/{desk.drill_id}/clock/start", {"speed": 10})
        paused = desk.trainer.ok(f"/drills/{desk.drill_id}/clock/pause")
        other = create_app(settings)
        with TestClient(other) as fresh:
            again = fresh.get(base, headers=desk.trainer.headers).json()
        other.state.engine.dispose()
        assert (again["state"], again["sim_now"]) == ("paused", paused["sim_now"])
