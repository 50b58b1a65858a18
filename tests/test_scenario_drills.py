"""Drills started from scenarios: arrivals at their simulated moments, simulated customers
and third parties, assignment modes, incidents; through the API and the CLI."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from psycopg.errors import DeadlockDetected
from sqlalchemy import Connection, Engine, event, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from deskdrill.accounts.enums import Role, Tier
from deskdrill.accounts.models import User
from deskdrill.core.clock import Instant, utc_now
from deskdrill.core.errors import InvalidTransition
from deskdrill.db import savepoints
from deskdrill.db.deferred import Deferred
from deskdrill.db.engine import unit_of_work
from deskdrill.scenarios import library
from deskdrill.scenarios.model import Team
from deskdrill.simulation import assignment, engine
from deskdrill.simulation.agenda import Agenda
from deskdrill.simulation.models import DrillScenario, ScheduledEvent
from deskdrill.simulation.world import HANDLERS, SIMULATOR, World, scenario_of
from deskdrill.sla import catch_up
from deskdrill.tickets import service
from deskdrill.tickets.models import Ticket, parse_ticket_key
from deskdrill.tickets.recording import RowLocks
from deskdrill.tickets.schemas import MessageIn
from tests.support.factories import Agent, Factory, unique
from tests.support.locks import lock_waiters
from tests.support.server import start_server
from tests.test_engine_loop import wait_for

START = datetime.fromisoformat("2026-03-06T17:30:00+08:00")
COMPLAINT = {"customer_asks": "safety", "actions_taken": "calmed", "proposed_outcome": "review"}

BASE = """\
id: t
title: {zh: 测试, en: Test}
description: {zh: 测试场景, en: A test scenario}
duration: 2h
start: "2026-03-06T17:30:00+08:00"
seed: 11
team: {assignment: ASSIGNMENT, max_concurrent: 2}
personas:
  - {id: wang, name: 王丽, patience: 4m, give_up_after: 2, reply_after: 1m}
  - {id: emma, name: Emma, language: en, patience: 30m}
third_parties:
  - {id: rider, kind: courier, name: 骑手刘, reply_after: 3m}
  - {id: shop, kind: merchant, name: 面馆, reply_after: 5m}
orders:
  - id: F-1
    kind: food
    customer: wang
    merchant: shop
    courier: rider
    items: [{sku: N, name: 拉面, price: 40.00}]
    amount: 40.00
macros:
  - id: hi
    kind: greeting
    title: {zh: 问候, en: Hi}
    text: {zh: "您好 {customer}，", en: "Hello {customer},"}
  - id: bye
    kind: closing
    title: {zh: 结束, en: Bye}
    text: {zh: 祝您愉快！, en: Have a good day!}
timeline:
  - id: late
    at: 2m
    channel: app
    category: logistics
    persona: wang
    order: F-1
    priority: P2
    subject: 外卖超时
    message: 外卖超时一个小时了
    facts:
      - {revealed_by: rider, text: {zh: 暴雨导致延误, en: Delayed by the storm}}
    replies:
      - {when_action: refund, say: 好的谢谢, mood: 2}
      - {when_keywords: [核实], say: 那你们快点}
  - id: hello
    at: 7m30s
    category: other
    persona: emma
    subject: Question
    message: Do you deliver to Pudong?
  - id: danger
    at: 10m
    channel: phone
    category: safety_incident
    persona: emma
    subject: Unsafe driver
    message: The driver was threatening me.
incidents:
  - {ticket: danger, tier: incident_desk, within: 5m}
expectations:
  - {ticket: late, entitled: {refund: full, coupon: 20}, greeting: true, closing: true,
     forbidden_phrases: [不关我们的事]}
"""


def scenario(assignment: str = "pull") -> str:
    return BASE.replace("ASSIGNMENT", assignment)


class ScenarioDrill:
    """A drill from the test scenario; its clock is started and paused, so time moves by
    jumps only."""

    def __init__(
        self, factory: Factory, text: str | None = None, tiers: list[Tier] | None = None
    ) -> None:
        self.trainer = factory.user(Role.trainer)
        self.people = [factory.user(Role.trainee, tier) for tier in tiers or [Tier.L1, Tier.L1]]
        made = self.trainer.ok(
            "/scenarios/drills",
            {
                "name": unique("sc-"),
                "yaml": text or scenario(),
                "trainees": [{"username": p.username} for p in self.people],
            },
            status=201,
        )
        self.id = made["drill"]
        self.made = made
        self.clock = f"/drills/{self.id}/clock"

    def start(self) -> None:
        self.trainer.ok(f"{self.clock}/start")
        self.trainer.ok(f"{self.clock}/pause")

    def jump(self, seconds: float) -> None:
        self.trainer.ok(f"{self.clock}/jump", {"seconds": seconds})

    def answer_the_question(self, agent: Agent) -> str:
        """At 08:00, Emma's question claimed and answered by ``agent``: its key."""
        self.jump(8 * 60)
        key = self.ticket("Question")["key"]
        agent.ok(f"/tickets/{key}/claim")
        agent.ok(f"/tickets/{key}/reply", {"body": "Hello Emma, yes we do."})
        return key

    def failures(self, sessions: sessionmaker[Session]) -> list[str | None]:
        """The outcomes of its scheduled events that failed."""
        with unit_of_work(sessions, read_only=True) as session:
            failed = select(ScheduledEvent.outcome).where(
                ScheduledEvent.drill_id == self.id, ScheduledEvent.outcome.like("error%")
            )
            return list(session.scalars(failed))

    @staticmethod
    def close_the_question(agent: Agent, key: str) -> None:
        """Resolved and closed: her rating falls due a minute later."""
        agent.ok(f"/tickets/{key}/resolve", {"code": "information_provided", "summary": "yes"})
        agent.ok(f"/tickets/{key}/close")

    def tickets(self) -> list[dict[str, Any]]:
        page = self.trainer.get(f"/drills/{self.id}/tickets", params={"limit": 200})
        assert page.status_code == 200, page.text
        return sorted(page.json()["items"], key=lambda t: t["received_at"])

    def ticket(self, subject: str) -> dict[str, Any]:
        [found] = [t for t in self.tickets() if t["subject"] == subject]
        return found

    def detail(self, key: str) -> dict[str, Any]:
        response = self.trainer.get(f"/tickets/{key}")
        assert response.status_code == 200, response.text
        return response.json()

    def answered(self, person: Agent, body: str) -> str:
        """Start, let the late-delivery ticket arrive, and have ``person`` claim it and
        reply ``body``; its key."""
        self.start()
        self.jump(120)
        key = self.ticket("外卖超时")["key"]
        person.ok(f"/tickets/{key}/claim")
        person.ok(f"/tickets/{key}/reply", {"body": body})
        return key

    def said(self, key: str, kind: str = "customer") -> list[str]:
        return [m["body"] for m in self.detail(key)["messages"] if m["kind"] == kind]


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


class TestArrivals:
    def test_nothing_arrives_in_draft_and_each_ticket_arrives_at_its_moment(
        self, factory: Factory
    ) -> None:
        drill = ScenarioDrill(factory)
        assert drill.made["scheduled"] == 3 and drill.made["speed"] == 1
        clock = drill.trainer.get(drill.clock).json()
        assert (clock["state"], datetime.fromisoformat(clock["sim_now"])) == ("draft", START)
        assert drill.tickets() == []
        drill.start()  # at the scenario's start
        drill.jump(119)
        assert drill.tickets() == []
        drill.jump(1)
        [late] = drill.tickets()
        assert datetime.fromisoformat(late["received_at"]) == at(2)
        assert (late["subject"], late["channel"], late["priority"]) == ("外卖超时", "app", "P2")
        assert late["customer"] == "王丽"
        drill.jump(15 * 60)
        assert [datetime.fromisoformat(t["received_at"]) for t in drill.tickets()] == [
            at(2), at(7.5), at(10)
        ]  # fmt: skip
        again = drill.trainer.get(f"/drills/{drill.id}/tickets").json()["items"]
        assert len(again) == 3  # reading again brings nothing twice

    def test_generated_arrivals_follow_the_seed(self, factory: Factory) -> None:
        text = scenario() + (
            "generators:\n"
            "  - id: rush\n    per_hour: 30\n    end: 1h\n    templates:\n"
            "      - {category: logistics, subject: 还没到, message: 外卖还没到,\n"
            "         order_kind: food}\n"
        )
        first, second = ScenarioDrill(factory, text), ScenarioDrill(factory, text)
        assert first.made["scheduled"] == second.made["scheduled"] > 3 + 10
        for drill in (first, second):
            drill.start()
            drill.jump(3600)

        def arrivals(drill: ScenarioDrill) -> list[tuple[str, str]]:
            return [(t["received_at"], t["customer"]) for t in drill.tickets()]

        assert arrivals(first) == arrivals(second)
        assert len(arrivals(first)) == first.made["scheduled"] - 0  # all within the hour
        generated = [t for t in first.tickets() if t["subject"] == "还没到"]
        order = first.detail(generated[0]["key"])["order"]
        assert order["number"].startswith("RUSH-") and order["kind"] == "food"


class TestCustomersAndThirdParties:
    def test_the_courier_answers_after_its_delay_with_the_hidden_fact(
        self, factory: Factory
    ) -> None:
        drill = ScenarioDrill(factory)
        drill.start()
        drill.jump(120)
        key = drill.ticket("外卖超时")["key"]
        agent = drill.people[0]
        agent.ok(f"/tickets/{key}/claim")
        agent.ok(
            f"/tickets/{key}/third-party-contact", {"party": "courier", "body": "请问为什么延误？"}
        )
        drill.jump(179)
        assert drill.said(key, "third_party") == []
        drill.jump(1)
        assert drill.said(key, "third_party") == ["暴雨导致延误"]
        assert drill.detail(key)["ticket"]["status"] == "open"

    def test_unanswered_customers_chase_then_give_up(self, factory: Factory) -> None:
        drill = ScenarioDrill(factory)
        drill.start()
        drill.jump(120 + 4 * 60)
        key = drill.ticket("外卖超时")["key"]
        assert drill.said(key) == ["外卖超时一个小时了", "请问有人在处理吗？"]
        drill.jump(4 * 60)  # second chase: angrier
        assert drill.said(key)[-1] == "已经等了很久了，再不处理我要投诉！"
        drill.jump(4 * 60)  # give_up_after 2: the third time they leave
        assert drill.said(key)[-1] == "算了，不等了。"
        assert "abandoned" in drill.detail(key)["ticket"]["tags"]
        drill.jump(30 * 60)
        assert len(drill.said(key)) == 4  # no more chasing

    def test_a_reply_stops_the_chasing(self, factory: Factory) -> None:
        drill = ScenarioDrill(factory)
        agent = drill.people[0]
        key = drill.answered(agent, "您好，正在为您处理")
        drill.jump(20 * 60)
        assert drill.said(key) == ["外卖超时一个小时了"]  # no keyword, no action: no answer

    def test_answers_follow_keywords_and_actions_once_each(self, factory: Factory) -> None:
        drill = ScenarioDrill(factory)
        agent = drill.people[0]
        key = drill.answered(agent, "正在为您核实")
        drill.jump(60)
        assert drill.said(key)[-1] == "那你们快点"
        agent.ok(
            f"/tickets/{key}/compensations",
            {"kind": "refund", "reason": "storm delay"},
            status=201,
        )
        agent.ok(f"/tickets/{key}/reply", {"body": "已为您全额退款，再次核实"})
        drill.jump(60)
        assert drill.said(key)[-2:] == ["那你们快点", "好的谢谢"]
        agent.ok(f"/tickets/{key}/reply", {"body": "还在核实"})
        drill.jump(60)
        assert drill.said(key).count("那你们快点") == 1

    def test_a_wrong_answer_is_reopened_and_the_right_one_rated(self, factory: Factory) -> None:
        drill = ScenarioDrill(factory)
        agent = drill.people[0]
        key = drill.answered(agent, "您好 王丽，这不关我们的事")
        agent.ok(
            f"/tickets/{key}/resolve", {"code": "information_provided", "summary": "explained"}
        )
        drill.jump(10 * 60)  # the customer checks and is owed a refund and a coupon
        ticket = drill.detail(key)["ticket"]
        assert ticket["status"] == "open"
        assert drill.said(key)[-1] == "问题没有解决，请重新处理。"
        agent.ok(f"/tickets/{key}/compensations", {"kind": "refund", "reason": "storm"}, status=201)
        agent.ok(
            f"/tickets/{key}/compensations",
            {"kind": "coupon", "amount": "20", "reason": "storm"},
            status=201,
        )
        agent.ok(f"/tickets/{key}/reply", {"body": "已退款并发放优惠券。祝您愉快！"})
        agent.ok(f"/tickets/{key}/resolve", {"code": "compensated", "summary": "refund and coupon"})
        drill.jump(10 * 60)
        assert drill.detail(key)["ticket"]["status"] == "resolved"  # satisfied now
        agent.ok(f"/tickets/{key}/close")
        drill.jump(60)
        [rating] = [e for e in drill.detail(key)["trail"] if e["type"] == "customer_rating"]
        payload = rating["payload"]
        # Answered at once, greeting and closing used, all owed given in the end; but a
        # forbidden phrase was said.
        assert payload == {"rating": 3, "reasons": ["forbidden phrase: 不关我们的事"]}
        assert rating["actor"] == "scenario"


class TestIncidents:
    def test_an_incident_cannot_be_resolved_without_its_report(self, factory: Factory) -> None:
        drill = ScenarioDrill(factory, tiers=[Tier.L1, Tier.incident_desk])
        drill.start()
        drill.jump(10 * 60)
        key = drill.ticket("Unsafe driver")["key"]
        first, desk = drill.people
        first.ok(f"/tickets/{key}/claim")
        first.ok(
            f"/tickets/{key}/escalate",
            {"tier": "incident_desk", "reason": "threat", "complaint": COMPLAINT},
        )
        desk.ok(f"/tickets/{key}/claim")
        refused = desk.post(f"/tickets/{key}/resolve", {"code": "solved", "summary": "done"})
        assert refused.status_code == 409
        assert "file the incident report first" in refused.json()["detail"]
        desk.ok(
            f"/tickets/{key}/incident-report",
            {
                "what_happened": "driver threatened the passenger",
                "who_is_at_risk": "the passenger",
                "actions_taken": "called, passenger safe in a shop",
                "handed_to": "safety team",
            },
        )
        desk.ok(f"/tickets/{key}/resolve", {"code": "handed_to_authorities", "summary": "handed"})
        [report] = [e for e in drill.detail(key)["trail"] if e["type"] == "incident_report"]
        assert report["payload"]["handed_to"] == "safety team"
        assert report["payload"]["handed_at"].startswith("2026-03-06T09:40:00.")


class TestAssignment:
    def people_of(self, drill: ScenarioDrill) -> list[str | None]:
        return [t["assignee"] for t in drill.tickets()]

    def test_round_robin_takes_turns(self, factory: Factory) -> None:
        drill = ScenarioDrill(factory, scenario("round_robin"))
        drill.start()
        drill.jump(8 * 60)
        first, second = (p.username for p in drill.people)
        assert sorted(self.people_of(drill)) == sorted([first, second])

    def test_turns_taken_at_once_are_each_their_own(
        self, factory: Factory, session_factory: sessionmaker[Session]
    ) -> None:
        """Two transactions (two server processes catching one drill up) each read the
        drill's cursor, then take a turn: the second gets the next turn, not the first's
        again, and the cursor counts both."""
        drill = ScenarioDrill(factory, scenario("round_robin"))
        turns: list[int] = []
        read = threading.Event()

        def other() -> None:
            with unit_of_work(session_factory) as session:
                session.get_one(DrillScenario, drill.id)
                read.set()
                turns.append(assignment.next_turn(session, drill.id))

        with unit_of_work(session_factory) as session:
            session.get_one(DrillScenario, drill.id)
            turns.append(assignment.next_turn(session, drill.id))
            beside = threading.Thread(target=other)
            beside.start()
            # On SQLite the other waits for the write lock before it reads anything.
            read.wait(1)
        beside.join(30)
        assert turns == [0, 1]
        with unit_of_work(session_factory, read_only=True) as session:
            assert session.get_one(DrillScenario, drill.id).handed_out == 2

    def test_two_hand_outs_at_once_keep_the_cap(
        self, factory: Factory, session_factory: sessionmaker[Session]
    ) -> None:
        """Two transactions (two server processes catching one drill up) each hand out a
        new ticket to a desk with one free place: one gets it, the other waits in the
        queue, however their reads and writes interleave."""
        drill = ScenarioDrill(factory, tiers=[Tier.L1])  # pull: the tickets wait
        drill.start()
        drill.jump(8 * 60)
        first, second = (parse_ticket_key(t["key"]) for t in drill.tickets()[:2])
        team = Team(assignment="least_loaded", max_concurrent=1)
        moment = Instant(sim=at(8), wall=utc_now())
        handed = threading.Event()
        errors: list[Exception] = []

        def hand_out(ticket_id: int, done: threading.Event | None) -> None:
            try:
                with unit_of_work(session_factory) as session:
                    ticket = session.get_one(Ticket, ticket_id)
                    assignment.hand_out(session, drill.id, team, ticket, SIMULATOR, moment)
                    if done is not None:
                        done.set()
                        time.sleep(0.5)  # the other reads the loads meanwhile
            except Exception as error:
                errors.append(error)

        one = threading.Thread(target=hand_out, args=(first, handed))
        one.start()
        assert handed.wait(10)
        other = threading.Thread(target=hand_out, args=(second, None))
        other.start()
        for thread in (one, other):
            thread.join(30)
        assert errors == []
        assignees = [t["assignee"] for t in drill.tickets()[:2]]
        assert assignees == [drill.people[0].username, None]

    def test_least_loaded_respects_the_cap_and_the_tier(self, factory: Factory) -> None:
        drill = ScenarioDrill(factory, scenario("least_loaded"), tiers=[Tier.L1, Tier.L2])
        drill.start()
        drill.jump(11 * 60)
        only = drill.people[0].username  # the L2 person takes no new (L1) tickets
        # max_concurrent 2: the third arrival waits in the queue.
        assert self.people_of(drill) == [only, only, None]

    def test_skill_based_matches_categories(self, factory: Factory) -> None:
        trainer = factory.user(Role.trainer)
        people = [factory.user(Role.trainee) for _ in range(2)]
        text = scenario("skill_based").replace(
            "max_concurrent: 2}",
            f"max_concurrent: 2, skills: {{{people[1].username}: [logistics]}}}}",
        )
        made = trainer.ok(
            "/scenarios/drills",
            {"name": unique("sk-"), "yaml": text,
             "trainees": [{"username": p.username} for p in people]},
            status=201,
        )  # fmt: skip
        trainer.ok(f"/drills/{made['drill']}/clock/start")
        trainer.ok(f"/drills/{made['drill']}/clock/pause")
        trainer.ok(f"/drills/{made['drill']}/clock/jump", {"seconds": 8 * 60})
        items = trainer.get(f"/drills/{made['drill']}/tickets").json()["items"]
        by_subject = {t["subject"]: t["assignee"] for t in items}
        assert by_subject == {"外卖超时": people[1].username, "Question": None}


class TestCreating:
    def test_bad_requests_are_refused_with_the_reason(self, factory: Factory) -> None:
        trainer = factory.user(Role.trainer)
        trainee = factory.user(Role.trainee)
        name = unique("bad-")
        cases: list[tuple[Agent, dict[str, Any], int, str]] = [
            (trainer, {"name": name, "scenario": "nope"}, 404, "no shipped scenario 'nope'"),
            (trainer, {"name": name}, 422, "give either a shipped scenario"),
            (trainer, {"name": name, "yaml": "id: [x"}, 422, "YAML syntax"),
            (trainer, {"name": name, "yaml": scenario(), "trainees": [{"username": "ghost"}]},
             422, "no user named 'ghost'"),
            (trainee, {"name": name, "scenario": "food-dinner-peak"}, 403, "only trainers"),
        ]  # fmt: skip
        for who, body, status, text in cases:
            response = who.post("/scenarios/drills", body)
            assert response.status_code == status, response.text
            assert text in response.text

    def test_a_shipped_scenario_from_the_list(self, factory: Factory) -> None:
        trainer = factory.user(Role.trainer)
        shipped = trainer.get("/scenarios").json()
        assert {"food-dinner-peak", "ride-safety-incident"} <= {s["id"] for s in shipped}
        made = trainer.ok(
            "/scenarios/drills",
            {"name": unique("ride-"), "scenario": "ride-safety-incident", "seed": 5},
            status=201,
        )
        assert made["scenario"] == "ride-safety-incident" and made["scheduled"] == 3
        for seed in (-1, 2**63):
            refused = trainer.post(
                "/scenarios/drills",
                {"name": unique("ride-"), "scenario": "ride-safety-incident", "seed": seed},
            )
            assert refused.status_code == 422 and "seed" in refused.text

    def test_the_list_follows_the_files(
        self, factory: Factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The summaries are kept between requests, and read again when a file changes."""
        path = tmp_path / "mine.yaml"
        path.write_text(scenario(), encoding="utf-8")
        monkeypatch.setattr(library, "files", lambda: [path])
        trainer = factory.user(Role.trainer)
        first = trainer.get("/scenarios").json()
        assert [s["timeline"] for s in first] == [len(yaml.safe_load(scenario())["timeline"])]
        assert trainer.get("/scenarios").json() == first
        changed = yaml.safe_load(scenario())
        changed["title"]["en"] = "Renamed, and a longer title than before"
        path.write_text(yaml.safe_dump(changed, allow_unicode=True), encoding="utf-8")
        again = trainer.get("/scenarios").json()
        assert again[0]["title"]["en"] == "Renamed, and a longer title than before"

    def test_the_command_line(self, run: Any, factory: Factory, tmp_path: Path) -> None:
        alice, bob = factory.user(Role.trainee), factory.user(Role.trainee, Tier.L1)
        path = tmp_path / "mine.yaml"
        path.write_text(scenario("round_robin"), encoding="utf-8")
        name = unique("cli-")
        code, output = run(
            "drill", "create", name, "--scenario", str(path),
            "--trainees", f"{alice.username},{bob.username}:L2",
        )  # fmt: skip
        assert code == 0, output
        assert "3 arrivals scheduled" in output
        assert "no trainer runs it: only admins and its trainees see it" in output
        # The start as 'drill status' and 'drill start' print it, and in the scenario's zone.
        assert "starts at 2026-03-06 09:30:00 UTC (17:30 +0800 in the scenario)" in output
        code, output = run("drill", "create", unique("x-"), "--scenario", str(path),
                           "--trainees", f"{alice.username}:L7")  # fmt: skip
        assert code == 1 and "unknown tier 'L7'" in output
        code, output = run("drill", "create", unique("x-"), "--scenario", str(path),
                           "--trainees", f"{alice.username},{alice.username}:L2")  # fmt: skip
        assert code == 1 and f"'{alice.username}' is on the roster twice" in output
        # A seed the drill could not keep (or read back) is refused before it is made.
        for seed in ("-3", str(2**63)):
            code, output = run("drill", "create", unique("s-"), "--scenario", str(path),
                               "--seed", seed)  # fmt: skip
            assert code == 2 and "Invalid value for '--seed'" in output, output
        path.write_text(scenario().replace("persona: wang", "persona: nobody"), encoding="utf-8")
        code, output = run("drill", "create", unique("y-"), "--scenario", str(path))
        assert code == 1 and "timeline[0].persona: no persona with id 'nobody'" in output
        # Its tickets are scheduled from the scenario's start: the clock starts there.
        code, output = run("drill", "start", name, "--at", "2026-03-07T09:00:00+08:00")
        assert code == 1 and "planned to start at 2026-03-06T09:30:00+00:00" in output, output
        code, output = run("drill", "start", name)
        assert code == 0 and "2026-03-06 09:30:00 UTC" in output and "1x" in output
        code, output = run("drill", "list")
        [row] = [line for line in output.splitlines() if f" {name} " in line]
        assert "running" in row and "2026-03-06 09:30" in row and " t " in row, output
        code, output = run("drill", "create", "Bad_Name", "--scenario", str(path))
        assert code == 1 and "the drill's name is 2 to 128 lower-case letters" in output
        assert "Traceback" not in output
        coach = factory.user(Role.trainer)
        path.write_text(scenario(), encoding="utf-8")
        led = unique("led-")
        code, output = run("drill", "create", led, "--scenario", str(path), "--by", coach.username)
        assert code == 0 and "no trainer runs it" not in output, output
        assert led in [d["name"] for d in coach.get("/drills").json()]  # theirs to run
        code, output = run("drill", "create", unique("by-"), "--scenario", str(path),
                           "--by", alice.username)  # fmt: skip
        assert code == 1, output
        assert f"{alice.username} is a trainee: a drill is run by a trainer or an admin" in output


def test_a_scenario_drill_starts_at_its_scenarios_start(factory: Factory) -> None:
    """What the scenario schedules (arrivals, orders, deliveries) counts from its start: a
    start moment elsewhere is refused, not taken with every ticket already overdue."""
    drill = ScenarioDrill(factory)
    refused = drill.trainer.post(f"{drill.clock}/start", {"at": "2026-03-07T09:00:00+08:00"})
    assert refused.status_code == 422 and refused.json()["field"] == "at", refused.text
    assert "planned to start at 2026-03-06T09:30:00+00:00" in refused.json()["detail"]
    started = drill.trainer.ok(f"{drill.clock}/start", {"at": START.isoformat(), "speed": 60})
    assert datetime.fromisoformat(started["sim_now"]) == START


@pytest.mark.server
def test_a_running_server_brings_tickets_in_at_their_moments(
    factory: Factory, db_url: str, tmp_path: Path
) -> None:
    drill = ScenarioDrill(factory)
    drill.trainer.ok(f"{drill.clock}/start", {"speed": 120})  # 2 simulated minutes a second
    server = start_server(db_url, tmp_path, engine_interval=0.2)
    try:

        def arrived() -> list[str]:
            page = httpx.get(
                f"{server.url}/api/v1/drills/{drill.id}/tickets",
                headers=drill.trainer.headers,
                timeout=10,
            ).json()
            return sorted(t["received_at"] for t in page["items"])

        times = wait_for(lambda: len(arrived()) == 3 and arrived(), seconds=30)
    finally:
        server.stop()
    assert [datetime.fromisoformat(t) for t in times] == [at(2), at(7.5), at(10)]


def test_the_roster_tier_is_the_tier_in_that_drill(factory: Factory) -> None:
    trainer = factory.user(Role.trainer)
    first, second = factory.user(Role.trainee, Tier.L1), factory.user(Role.trainee, Tier.L1)
    made = trainer.ok(
        "/scenarios/drills",
        {"name": unique("ro-"), "yaml": scenario(),
         "trainees": [{"username": first.username}, {"username": second.username, "tier": "L2"}]},
        status=201,
    )  # fmt: skip
    for step in ("start", "pause"):
        trainer.ok(f"/drills/{made['drill']}/clock/{step}")
    trainer.ok(f"/drills/{made['drill']}/clock/jump", {"seconds": 120})
    [ticket] = trainer.get(f"/drills/{made['drill']}/tickets").json()["items"]
    key = ticket["key"]
    first.ok(f"/tickets/{key}/claim")
    escalation = {"tier": "L2", "reason": "refund above my limit", "complaint": COMPLAINT}
    first.ok(f"/tickets/{key}/escalate", escalation)
    refused = first.post(f"/tickets/{key}/claim")
    assert refused.status_code == 403 and "as L1 you cannot" in refused.json()["detail"]
    second.ok(f"/tickets/{key}/claim")  # an L1 account, at L2 in this drill
    # L2's refund limit (1,000 per action) applies, not L1's (200).
    granted = second.ok(
        f"/tickets/{key}/compensations",
        {"kind": "goodwill_credit", "amount": "30", "reason": "storm"},
        status=201,
    )
    assert granted["status"] == "approved"


def test_the_score_over_http_with_evidence_and_per_trainee(factory: Factory) -> None:
    drill = ScenarioDrill(factory)
    drill.start()
    drill.jump(120)
    key = drill.ticket("外卖超时")["key"]
    agent, other = drill.people
    assigned = {"assignee": agent.username, "reason": "yours"}
    drill.trainer.ok(f"/tickets/{key}/assign", assigned)  # the trainer's act, not the agent's
    untouched = drill.trainer.get(f"/drills/{drill.id}/score").json()
    [scored] = untouched["tickets"]
    assert untouched["earned"] == 0  # nothing forbidden was done, but nothing at all was
    assert {c["name"]: c["detail"] for c in scored["checks"]}["no forbidden phrase"] == (
        "nobody worked the ticket"
    )
    agent.ok(f"/tickets/{key}/reply", {"body": "您好 王丽，已全额退款，请放心"})  # words only
    score = drill.trainer.get(f"/drills/{drill.id}/score").json()
    [scored] = score["tickets"]
    checks = {c["name"]: c for c in scored["checks"]}
    assert scored["trainee"] == agent.username and scored["ticket"] == key
    owed = checks["what the customer was owed"]
    assert not owed["passed"] and owed["detail"] == "refund 0 of 40.00; coupon 0 of 20"
    greeting = checks["greeting macro opens the first reply"]
    assert greeting["passed"] and greeting["evidence"][0]["type"] == "reply"
    assert score["earned"] < score["points"]
    agent.ok(f"/tickets/{key}/compensations", {"kind": "refund", "reason": "storm"}, status=201)
    after = drill.trainer.get(f"/drills/{drill.id}/score").json()
    assert after["earned"] == score["earned"]  # still short of the coupon
    mine = agent.get(f"/drills/{drill.id}/score").json()
    assert [t["ticket"] for t in mine["tickets"]] == [key]
    # A trainee's own figures by expectation, of their own tickets only.
    [row] = [
        r for r in after["by_expectation"] if r["expectation"] == mine["tickets"][0]["expectation"]
    ]
    assert mine["by_expectation"] == [{**row, "tickets": 1, "earned": mine["earned"],
                                       "points": mine["points"]}]  # fmt: skip
    theirs = other.get(f"/drills/{drill.id}/score").json()
    assert theirs["tickets"] == [] and theirs["by_expectation"] == []
    plain = factory.desk()
    missing = plain.trainer.get(f"/drills/{plain.drill_id}/score")
    assert missing.status_code == 404 and "not started from a scenario" in missing.text


def test_a_bot_works_the_tier_nobody_staffs(factory: Factory) -> None:
    drill = ScenarioDrill(factory, tiers=[Tier.L1])
    members = drill.trainer.get(f"/drills/{drill.id}").json()["members"]
    bots = sorted(m for m in members if "-bot-" in m)
    assert sorted(b.split("-bot-")[1] for b in bots) == ["incident-desk", "l2", "supervisor"]
    person = drill.people[0]
    key = drill.answered(person, "您好，我来处理")
    escalation = {"tier": "L2", "reason": "needs L2", "complaint": COMPLAINT}
    person.ok(f"/tickets/{key}/escalate", escalation)
    drill.jump(30 * 60)
    detail = drill.detail(key)
    assert detail["ticket"]["assignee"] and detail["ticket"]["assignee"].endswith("-bot-l2")
    assert detail["ticket"]["status"] in ("resolved", "closed")
    actors = {e["actor"] for e in detail["trail"]}
    assert any(a.endswith("-bot-l2") for a in actors)
    # The bot acted after the escalation, not at a moment before it that it had not seen.
    times = [datetime.fromisoformat(e["sim_at"]) for e in detail["trail"]]
    assert times == sorted(times), [(e["seq"], e["type"], e["sim_at"]) for e in detail["trail"]]


def test_a_bot_turn_worked_late_does_not_act_before_what_it_could_not_have_seen(
    factory: Factory, session_factory: sessionmaker[Session]
) -> None:
    """A live drill's engine may work a bot's turn after a person acted at a later moment
    (a clock jump right after an escalation): the L2 bot's turn from before the
    escalation leaves the ticket alone, and the trail keeps its order."""
    drill = ScenarioDrill(factory, tiers=[Tier.L1])
    person = drill.people[0]
    key = drill.answered(person, "您好，我来处理")
    escalated = person.ok(
        f"/tickets/{key}/escalate", {"tier": "L2", "reason": "needs L2", "complaint": COMPLAINT}
    )
    moment = datetime.fromisoformat(escalated["escalated_at"])
    [l2_bot] = [
        m for m in drill.trainer.get(f"/drills/{drill.id}").json()["members"] if "-bot-l2" in m
    ]
    early = moment - timedelta(seconds=40)
    with unit_of_work(session_factory) as session:
        found = scenario_of(session, drill.id)
        assert found is not None
        World(session, drill.id, found).schedule("test:late-turn", early, "bot", None, bot=l2_bot)
        assert engine.step(session, drill.id, Instant(sim=early, wall=utc_now())) >= 1
    trail = drill.detail(key)["trail"]
    times = [datetime.fromisoformat(e["sim_at"]) for e in trail]
    assert times == sorted(times), [(e["seq"], e["type"], e["sim_at"]) for e in trail]
    assert trail[-1]["type"] == "escalate"  # the bot's early turn did not claim it


def test_an_l2_only_roster_gets_an_l1_bot_that_escalates_to_it(factory: Factory) -> None:
    """Tickets arrive at L1: with nobody there, an L1 bot takes them first."""
    drill = ScenarioDrill(factory, tiers=[Tier.L2])
    members = drill.trainer.get(f"/drills/{drill.id}").json()["members"]
    bots = sorted(m.split("-bot-")[1] for m in members if "-bot-" in m)
    assert bots == ["incident-desk", "l1", "supervisor"]
    drill.start()
    drill.jump(30 * 60)
    detail = drill.detail(drill.ticket("外卖超时")["key"])
    actors = {e["actor"] for e in detail["trail"]}
    assert any(a.endswith("-bot-l1") for a in actors), actors


def test_a_catch_up_in_one_transaction_writes_what_one_per_round_writes(
    factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a long jump the engine works many rounds per transaction (on SQLite keeping
    what it writes in memory; with no savepoint per action); the trails are those of a
    transaction per round, event for event."""

    def trails(budget: float) -> tuple[list[list[tuple[str, str, str]]], int]:
        """The drill's trails (bots by tier), and how many transactions its catch-up took."""
        monkeypatch.setattr(catch_up, "TRANSACTION_BUDGET", budget)
        monkeypatch.setattr(catch_up, "SHARED_BUDGET", budget)
        drill = ScenarioDrill(factory, tiers=[Tier.L2])  # an L1 bot works the queue
        drill.start()
        drill.jump(90 * 60)
        commits = [0]

        def count(_connection: Connection) -> None:
            commits[0] += 1

        event.listen(Engine, "commit", count)  # a database COMMIT, not a savepoint's release
        try:
            tickets = drill.tickets()  # the read catches the drill up
        finally:
            event.remove(Engine, "commit", count)
        return [
            [(e["type"], e["actor"].rpartition("-bot-")[2], e["sim_at"]) for e in trail]
            for trail in (drill.detail(t["key"])["trail"] for t in tickets)
        ], commits[0]

    per_round, transactions = trails(0.0)
    shared, fewer = trails(60.0)
    assert shared == per_round
    assert fewer < 5 < transactions, (fewer, transactions)
    kinds = {kind for trail in shared for kind, _actor, _at in trail}
    expected = {"receive", "claim", "escalate", "contact_third_party", "close", "customer_rating"}
    assert expected <= kinds, kinds


@pytest.mark.parametrize("writes", ["version", "note"])
def test_a_catch_up_loses_nothing_to_writers_alongside(
    factory: Factory,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
    writes: str,
) -> None:
    """Others change the drill's tickets while it catches up, as trainees do: the
    catch-up still records what it records alone, no scheduled event fails, and nothing
    the others wrote is lost. The writer bumps only a ticket's version (a committed change
    to a ticket the engine has read, which leaves the trails comparable), or writes a
    trainer's note through the ticket service, which adds to the trail too (and may change
    what bots do next: a note on a resolved ticket puts its closing off). On PostgreSQL the
    engine's write is then refused and the event worked again, or the note is refused as
    a conflict; neither deadlocks. On SQLite the writer waits for a stretch's commit."""
    monkeypatch.setattr(catch_up, "TRANSACTION_BUDGET", 0.02)  # many stretches on SQLite
    text = scenario() + (
        "generators:\n"
        "  - id: rush\n    per_hour: 20\n    end: 1h\n    templates:\n"
        "      - {category: logistics, subject: 还没到, message: 外卖还没到, order_kind: food}\n"
    )

    def caught_up(alongside: bool) -> tuple[list[list[tuple[str, str, str]]], int]:
        drill = ScenarioDrill(factory, text, tiers=[Tier.L2])  # an L1 bot works the queue
        drill.start()
        drill.jump(90 * 60)
        stop = threading.Event()
        bumps = [0]

        refused: list[str] = []

        def change(session: Session, ticket_id: int) -> None:
            if writes == "version":
                bumped = update(Ticket).where(Ticket.id == ticket_id)
                session.execute(bumped.values(version=Ticket.version + 1))
                return
            ticket = session.get_one(Ticket, ticket_id)
            trainer = session.scalars(select(User).filter_by(username=drill.trainer.username))
            at = Instant(sim=START + timedelta(minutes=90), wall=utc_now())
            note = MessageIn(body="核对中")
            service.note(session=session, ticket=ticket, actor=trainer.one(), at=at, data=note)

        def bump() -> None:  # a change to each open ticket in turn, as trainees make
            while not stop.is_set():
                with unit_of_work(session_factory, read_only=True) as session:
                    open_ids = session.scalars(
                        select(Ticket.id).where(
                            Ticket.drill_id == drill.id, Ticket.status != "closed"
                        )
                    ).all()
                for ticket_id in open_ids:
                    try:
                        with unit_of_work(session_factory) as session:
                            change(session, ticket_id)
                    except StaleDataError:
                        refused.append("conflict")  # the engine changed it first
                    except InvalidTransition:
                        refused.append("closed")  # since it was listed
                    except Exception as error:
                        refused.append(repr(error))
                    else:
                        bumps[0] += 1
                stop.wait(0.002)

        writer = threading.Thread(target=bump)
        if alongside:
            writer.start()
        try:
            tickets = drill.tickets()  # the read catches the drill up
        finally:
            stop.set()
            if alongside:
                writer.join()
        if alongside:
            assert bumps[0] > 0, bumps
            assert set(refused) <= {"conflict", "closed"}, refused
        assert drill.failures(session_factory) == []
        trails = [
            [(e["type"], e["actor"].rpartition("-bot-")[2], e["sim_at"]) for e in trail]
            for trail in (drill.detail(t["key"])["trail"] for t in tickets)
        ]
        return trails, bumps[0]

    alone, _ = caught_up(alongside=False)
    shared, written = caught_up(alongside=True)
    if writes == "version":
        assert shared == alone
    else:  # every note written is on its ticket's trail
        assert sum(kind == "note" for trail in shared for kind, _, _ in trail) == written


def test_an_event_judges_a_ticket_a_trainee_changed_since_the_engine_read_it(
    factory: Factory, session_factory: sessionmaker[Session]
) -> None:
    """The engine's transaction read a ticket (an earlier round of a stretch), then its
    trainee resolved and closed it: the customer's rating that follows is given, not
    dropped because the engine's copy still says the ticket is open. On PostgreSQL the
    trainee commits meanwhile, and the engine's copy is found stale and read afresh; on
    SQLite the engine's transaction holds the write lock, and nobody else writes."""
    drill = ScenarioDrill(factory)
    agent = drill.people[0]
    drill.start()
    key = drill.answer_the_question(agent)

    def finish() -> None:
        drill.close_the_question(agent, key)

    upto = Instant(sim=at(9.5), wall=utc_now())
    with unit_of_work(session_factory) as session:
        ticket = session.get_one(Ticket, parse_ticket_key(key))
        assert ticket.status == "open"
        if session.get_bind().dialect.name == "sqlite":
            path = session.get_bind().url.database
            other = sqlite3.connect(path, timeout=0, isolation_level=None)
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            other.close()
        else:
            finish()
            engine.step(session, drill.id, upto)
    if session_factory.kw["bind"].dialect.name == "sqlite":
        finish()
        with unit_of_work(session_factory) as session:
            engine.step(session, drill.id, upto)
    with unit_of_work(session_factory, read_only=True) as session:
        outcomes = session.scalars(
            select(ScheduledEvent.outcome).where(
                ScheduledEvent.drill_id == drill.id, ScheduledEvent.kind == "rating"
            )
        ).all()
    assert outcomes == ["done"]
    assert [e["type"] for e in drill.detail(key)["trail"]][-1] == "customer_rating"


@pytest.mark.parametrize("where", ["event", "sla_step"])
@pytest.mark.parametrize("stretch", ["optimistic", "careful"])
def test_a_deadlock_with_a_trainee_loses_neither_sides_work(
    factory: Factory,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
    stretch: str,
    where: str,
) -> None:
    """The catch-up holds a ticket (taken by the rating), a trainee's transaction holds
    another and waits for the first, and a later event of the same catch-up transaction
    (or its SLA step) wants the trainee's. PostgreSQL refuses the engine's side (its
    deadlock check, made quicker here, runs first). Working that event again would meet
    the same tie: the engine gives the whole stretch up instead, which lets the trainee
    commit, and works it again. The rating and the new ticket are recorded and the
    trainee's change kept, whether the stretch took a savepoint per action or none. On
    SQLite the trainee waits for the stretch's commit."""
    if stretch == "careful":  # every stretch with a savepoint per action
        monkeypatch.setattr(savepoints, "optimistic", lambda _session: contextlib.nullcontext())
    # Two tickets of another drill: this one's engine has not locked them before.
    desk = factory.desk(trainees=1)
    first, second = (parse_ticket_key(desk.receive()["key"]) for _ in range(2))
    versions = select(Ticket.version).where(Ticket.id.in_([first, second])).order_by(Ticket.id)
    with unit_of_work(session_factory, read_only=True) as session:
        before = session.scalars(versions).all()
    drill = ScenarioDrill(factory)
    agent = drill.people[0]
    drill.start()
    key = drill.answer_the_question(agent)
    drill.close_the_question(agent, key)
    bind = session_factory.kw["bind"]
    postgres = bind.dialect.name == "postgresql"
    holding = threading.Event()
    failed: list[Exception] = []

    def bump(session: Session, ticket_id: int | None) -> None:
        session.execute(
            update(Ticket).where(Ticket.id == ticket_id).values(version=Ticket.version + 1)
        )

    def trainee_writes() -> None:
        try:
            with unit_of_work(session_factory) as session:
                if postgres:
                    session.connection().exec_driver_sql("SET LOCAL deadlock_timeout = '10s'")
                bump(session, second)
                holding.set()
                bump(session, first)  # waits for the engine's lock
        except Exception as error:
            failed.append(error)

    trainee = threading.Thread(target=trainee_writes)
    rate, arrive = HANDLERS["rating"], HANDLERS["arrival"]

    def rating(world: World, event: Any, now: Instant) -> str:
        if trainee.ident is None:  # the first time only: the engine holds a ticket
            session = world.session
            if postgres:
                session.connection().exec_driver_sql("SET LOCAL deadlock_timeout = '100ms'")
            RowLocks.hold(session, session.get_one(Ticket, first))  # as a write would
            trainee.start()
            if postgres:
                assert holding.wait(10)
                assert wait_for(lambda: lock_waiters(bind) == 1)
        return rate(world, event, now)

    def tie(session: Session) -> None:
        # Later in the same transaction, each time it is worked, the trainee's ticket is
        # wanted: only letting go of the first ticket breaks the tie.
        if trainee.is_alive():
            RowLocks.hold(session, session.get_one(Ticket, second))

    def arrival(world: World, event: Any, now: Instant) -> str:
        tie(world.session)
        return arrive(world, event, now)

    step = catch_up.engine.batch

    def sla_step(session: Session, drill_id: int, upto: Instant) -> tuple[int, bool]:
        tie(session)
        return step(session, drill_id, upto)

    monkeypatch.setitem(HANDLERS, "rating", rating)
    if where == "event":
        monkeypatch.setitem(HANDLERS, "arrival", arrival)
    else:  # every round's SLA step, due or not
        monkeypatch.setattr(catch_up.engine, "batch", sla_step)
        monkeypatch.setattr(catch_up, "_sla_due", lambda *_args: True)
    monkeypatch.setattr(catch_up, "SHARED_BUDGET", 60.0)  # both in one transaction
    drill.jump(3 * 60)  # the rating at 09:00, the unsafe driver's ticket at 10:00
    trail = [e["type"] for e in drill.detail(key)["trail"]]
    trainee.join(30)
    assert failed == []
    assert trail[-1] == "customer_rating"
    assert drill.failures(session_factory) == []
    with unit_of_work(session_factory, read_only=True) as session:
        assert session.scalars(versions).all() == [v + 1 for v in before]


def test_a_catch_up_that_keeps_losing_ties_gives_up_and_says_to_try_again(
    factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every stretch refused to break a deadlock: after the first try and TIES careful
    ones, the read is told to try again (503), not given a server error; what was done
    before stays, and the next read goes on from there."""
    drill = ScenarioDrill(factory)
    drill.start()
    drill.jump(3 * 60)
    key = drill.ticket("外卖超时")["key"]
    tries: list[bool] = []

    def refused(*_args: Any, optimistic: bool) -> Any:
        tries.append(optimistic)
        raise OperationalError("UPDATE tickets", None, DeadlockDetected("deadlock detected"))

    monkeypatch.setattr(catch_up, "_rounds", refused)
    drill.jump(60)
    told = drill.trainer.get(f"/tickets/{key}")
    assert told.status_code == 503, told.text
    assert told.json()["detail"] == (
        "the drill's engine met other changes at the same moment again and again; "
        "try again in a moment"
    )
    assert tries == [True] + [False] * catch_up.TIES
    monkeypatch.undo()
    assert drill.trainer.get(f"/tickets/{key}").status_code == 200


def test_a_catch_up_in_short_stretches_says_it_is_behind_only_when_it_is(
    factory: Factory, session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page catches up for a moment at a time: each answer "not caught up" means
    something is still due, down to the stretch that records the last of it."""
    monkeypatch.setattr(catch_up, "TRANSACTION_BUDGET", 0.0)  # a round per stretch
    drill = ScenarioDrill(factory)
    drill.start()
    drill.jump(30 * 60)
    answers = []
    for _ in range(500):
        caught_up = catch_up.catch_up_within(session_factory, drill.id, utc_now(), 0.0)
        with unit_of_work(session_factory, read_only=True) as session:
            due = catch_up.is_due(session, drill.id, utc_now())
        answers.append((caught_up, due))
        if caught_up:
            break
    assert len(answers) > 3 and answers[-1] == (True, False), answers
    assert all(due for caught_up, due in answers if not caught_up), answers


def test_an_event_that_fails_is_recorded_and_the_drill_goes_on(factory: Factory) -> None:
    # The catalogue already has the number the first generated order would take.
    text = scenario().replace(
        "orders:\n",
        "orders:\n  - {id: RUSH-00001, kind: goods, customer: wang, "
        "items: [{sku: X, name: 杯子, price: 10.00}], amount: 10.00}\n",
    ) + (
        "generators:\n"
        "  - id: rush\n    per_hour: 30\n    end: 1h\n    templates:\n"
        "      - {category: logistics, subject: 还没到, message: 外卖还没到}\n"
    )
    drill = ScenarioDrill(factory, text)
    drill.start()
    drill.jump(3600)
    tickets = drill.tickets()  # the read still works
    assert len(tickets) == drill.made["scheduled"] - 1  # all but the one that failed
    assert {"外卖超时", "Question", "Unsafe driver"} <= {t["subject"] for t in tickets}


def test_scheduling_a_key_twice_keeps_the_first(
    factory: Factory, session_factory: sessionmaker[Session]
) -> None:
    """A reaction scheduled again (the same cause seen twice) is a no-op on both backends."""
    drill = ScenarioDrill(factory)  # in draft: nothing scheduled here is processed
    at = datetime(2026, 3, 6, 10, 0, tzinfo=UTC)
    with unit_of_work(session_factory) as session:
        found = scenario_of(session, drill.id)
        assert found is not None
        world = World(session, drill.id, found)
        world.schedule("test:once", at, "chase", None, n=1)
        world.schedule("test:once", at + timedelta(hours=1), "answer", None, n=2)
    with unit_of_work(session_factory, read_only=True) as session:
        rows = session.execute(
            select(ScheduledEvent.due, ScheduledEvent.kind, ScheduledEvent.payload).where(
                ScheduledEvent.drill_id == drill.id, ScheduledEvent.key == "test:once"
            )
        ).all()
    assert [tuple(r) for r in rows] == [(at, "chase", {"n": 1})]


@pytest.mark.parametrize("put_off", [False, True], ids=["written-at-once", "put-off"])
def test_a_kept_agenda_answers_as_the_schedule_table_does(
    factory: Factory, session_factory: sessionmaker[Session], put_off: bool
) -> None:
    """The agenda a headless run keeps gives the next moment the table gives, and the step
    its due events, after a scheduling insert (a key scheduled twice counts once), an
    event done, and a rolled back savepoint; with its writes sent at once, or put off
    (an event scheduled and done between two flushes lands done)."""
    drill = ScenarioDrill(factory)
    drill.start()
    end = START + timedelta(hours=3)

    def table(session: Session) -> datetime | None:
        Deferred.flush(session)
        return (
            session.connection()
            .execute(engine._NEXT_DUE, {"drill": drill.id, "upto": end})
            .scalar()
        )

    deferred = Deferred.keeping if put_off else lambda _session: contextlib.nullcontext()
    with (
        unit_of_work(session_factory) as session,
        Agenda.keeping(session) as kept,
        deferred(session),
    ):
        found = scenario_of(session, drill.id)
        assert found is not None
        world = World(session, drill.id, found)

        def both() -> datetime | None:
            answer = engine.next_due(session, drill.id, end)
            assert answer == table(session)
            return answer

        first = both()
        assert first is not None and first >= START
        early = first - timedelta(minutes=1)
        world.schedule("test:early", early, "chase", None, n=1)
        world.schedule("test:early", early - timedelta(seconds=30), "chase", None, n=1)
        assert both() == early
        assert engine.next_due(session, drill.id, early - timedelta(seconds=1)) is None
        # Processed (a chase of no ticket fails, and is marked done all the same).
        assert engine.step(session, drill.id, Instant(sim=early, wall=early)) == 1
        assert both() == first
        with pytest.raises(ZeroDivisionError), session.begin_nested():
            world.schedule("test:undone", early, "chase", None)
            assert both() == early
            held = list(kept.pending(drill.id).events.values())  # as a caller may hold them
            1 / 0  # noqa: B018
        assert both() == first
        # The next insert may take the id the undone one had (SQLite's does).
        world.schedule("test:again", early, "chase", None)
        assert both() == early
        assert engine.step(session, drill.id, Instant(sim=early, wall=early)) == 1
        done_at = select(ScheduledEvent.done_at).where(
            ScheduledEvent.drill_id == drill.id, ScheduledEvent.key == "test:again"
        )
        Deferred.flush(session)  # as a reader of what is put off does
        assert session.scalar(done_at) is not None and both() == first
        assert held  # what the undone savepoint held was kept alive all along
        # Scheduled and done with nothing read in between: one flush writes both.
        world.schedule("test:quick", early, "chase", None)
        assert engine.step(session, drill.id, Instant(sim=early, wall=early)) == 1
    with unit_of_work(session_factory, read_only=True) as session:
        rows = session.execute(
            select(ScheduledEvent.key, ScheduledEvent.outcome)
            .where(ScheduledEvent.drill_id == drill.id, ScheduledEvent.key.like("test:%"))
            .order_by(ScheduledEvent.id)
        ).all()
    failed = "error: AssertionError"  # a chase of no ticket
    assert [tuple(r) for r in rows] == [
        ("test:early", failed),
        ("test:again", failed),
        ("test:quick", failed),
    ]
