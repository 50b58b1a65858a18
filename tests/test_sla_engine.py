"""The engine records each warning and breach once, at the simulated moment it fell due."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from deskdrill.accounts.models import User
from deskdrill.core.clock import Instant, utc_now
from deskdrill.db.engine import unit_of_work
from deskdrill.drills import clock
from deskdrill.sla import catch_up, engine
from deskdrill.tickets import intake, schemas, service
from deskdrill.tickets.models import Ticket, parse_ticket_key
from deskdrill.tickets.next_checks import NextChecks
from tests.test_sla import Drill

T9 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def sla_events(drill: Drill, key: str) -> list[dict[str, object]]:
    trail = drill.agent.get(f"/tickets/{key}").json()["trail"]
    return [e for e in trail if str(e["type"]).startswith("sla_")]


class TestBreaches:
    def test_first_response_warning_and_breach_recorded_once(self, factory) -> None:
        drill = Drill(factory)
        key = drill.ticket()  # P3 chat: first response within 3 minutes
        received = datetime.fromisoformat(drill.timers(key)["first_response"]["due"])
        drill.jump(200)
        for _ in range(3):  # every read catches up; nothing is recorded twice
            assert drill.state(key, "first_response") == "breached"
        events = sla_events(drill, key)
        assert [(e["type"], e["payload"]["timer"]) for e in events] == [
            ("sla_warning", "first_response"),
            ("sla_breach", "first_response"),
        ]
        assert datetime.fromisoformat(events[1]["sim_at"]) == received
        assert datetime.fromisoformat(events[0]["sim_at"]) == received - timedelta(seconds=45)
        assert events[1]["actor"] == "sla-engine"
        assert drill.agent.get(f"/tickets/{key}/trail/verify").json()["ok"] is True
        notices = drill.agent.get("/notifications", params={"drill": drill.desk.drill_id}).json()
        assert [(n["ticket"], n["kind"]) for n in notices] == [(key, "sla_breach")]

    def test_a_late_reply_is_still_a_breach_at_the_due_moment(self, factory) -> None:
        drill = Drill(factory)
        key = drill.ticket()
        drill.jump(300)
        drill.agent.ok(f"/tickets/{key}/reply", {"body": "抱歉久等"})  # before any read
        types = [e["type"] for e in sla_events(drill, key)]
        assert types == ["sla_warning", "sla_breach"]

    def test_met_timers_and_other_drills_stay_quiet(self, factory) -> None:
        drill = Drill(factory)
        key = drill.ticket()
        drill.jump(60)
        drill.agent.ok(f"/tickets/{key}/reply", {"body": "您好"})
        drill.jump(600)
        assert drill.state(key, "first_response") == "met"
        assert sla_events(drill, key) == []

    def test_unassigned_breaches_notify_the_trainers(self, factory) -> None:
        drill = Drill(factory)
        key = drill.desk.receive()["key"]
        drill.jump(200)
        notices = drill.trainer.get("/notifications", params={"drill": drill.desk.drill_id})
        assert [n["ticket"] for n in notices.json()] == [key]
        other = drill.agent.get("/notifications", params={"drill": drill.desk.drill_id})
        assert other.json() == []


class TestIdempotentSteps:
    def test_concurrent_and_repeated_steps_fire_each_once(self, factory, session_factory) -> None:
        drill = Drill(factory)
        keys = [drill.ticket() for _ in range(5)]
        drill.jump(200)
        results: list[int] = []
        errors: list[BaseException] = []
        start = threading.Barrier(4, timeout=20)

        def run() -> None:
            try:
                start.wait()
                with unit_of_work(session_factory) as session:
                    now = clock.instant(session, drill.desk.drill_id, utc_now())
                    results.append(engine.step(session, drill.desk.drill_id, now))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=run) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        assert sum(results) == 10  # a warning and a breach for each of five tickets
        for key in keys:
            assert [e["type"] for e in sla_events(drill, key)] == ["sla_warning", "sla_breach"]


class TestStoredKeys:
    def test_a_check_set_back_before_recorded_firings_records_only_new_ones(
        self, factory, session_factory
    ) -> None:
        """A ticket whose next check lies before firings already recorded (written by an
        earlier build, or by hand) has them proposed again: their stored keys turn them
        away, while the firings not yet recorded go in in the same step."""
        drill = Drill(factory)
        key = drill.ticket()  # P3 chat: first response within 3 minutes
        drill.jump(200)
        assert drill.state(key, "first_response") == "breached"  # warning and breach in
        with unit_of_work(session_factory) as session:
            ticket = session.get_one(Ticket, parse_ticket_key(key))
            ticket.sla_next_check = ticket.received_at
        drill.jump(24 * 3600)  # on to the resolution warning and breach
        assert drill.state(key, "resolution") == "breached"
        fired = [(e["type"], e["payload"]["timer"]) for e in sla_events(drill, key)]
        assert fired == [
            ("sla_warning", "first_response"),
            ("sla_breach", "first_response"),
            ("sla_warning", "resolution"),
            ("sla_breach", "resolution"),
        ]
        assert drill.agent.get(f"/tickets/{key}/trail/verify").json()["ok"] is True

    def test_a_change_sets_the_check_past_the_firings_already_recorded(
        self, factory, session_factory
    ) -> None:
        """First response still late when the customer writes again: its warning and breach
        are recorded, so the next check is the next one not recorded (the resolution
        warning), and the engine is not woken for the old ones."""
        drill = Drill(factory)
        key = drill.ticket()
        drill.jump(200)
        timers = drill.timers(key)
        assert timers["first_response"]["state"] == "breached"  # both recorded
        drill.trainer.ok(f"/tickets/{key}/customer-messages", {"body": "有人吗？"})
        with session_factory() as session:
            ticket = session.get_one(Ticket, parse_ticket_key(key))
            warn_at = datetime.fromisoformat(drill.timers(key)["resolution"]["warn_at"])
            assert ticket.sla_next_check == warn_at


class TestSessionsThatLiveOn:
    def test_a_held_ticket_is_read_again_after_the_step_writes_it(
        self, factory, session_factory
    ) -> None:
        """The step writes tickets past the ORM; a session that already held one (as the
        headless runner's does) must not write a stale version or trail head over it."""
        drill = Drill(factory)
        key = drill.ticket()
        ticket_id = parse_ticket_key(key)
        drill.jump(200)
        with session_factory() as session, session.begin():
            ticket = session.get_one(Ticket, ticket_id)  # held before the step
            before = ticket.event_count
            now = clock.instant(session, drill.desk.drill_id, utc_now())
            assert engine.step(session, drill.desk.drill_id, now) == 2
            assert ticket.event_count == before + 2  # read again, not the stale count
            agent = session.get_one(User, drill.agent.user_id)
            service.reply(
                session=session,
                ticket=ticket,
                actor=agent,
                at=now,
                data=schemas.MessageIn(body="抱歉久等"),
            )
        trail = drill.agent.get(f"/tickets/{key}").json()["trail"]
        assert [e["type"] for e in trail][-3:] == ["sla_warning", "sla_breach", "reply"]
        assert drill.agent.get(f"/tickets/{key}/trail/verify").json()["ok"] is True

    def test_kept_next_checks_answer_as_the_tickets_do(self, factory, session_factory) -> None:
        """The next checks a headless run keeps give the drill's earliest check the tickets
        give: after a new ticket, a reply, the engine's step and a rolled back savepoint."""
        drill = Drill(factory)
        drill_id = drill.desk.drill_id
        key = drill.ticket()  # P3 chat, in before the session: read with the rest
        end = T9 + timedelta(days=30)
        with session_factory() as session, session.begin(), NextChecks.keeping(session):

            def both() -> datetime | None:
                kept = catch_up.next_sla_check(session, drill_id, end)
                params = {"drill": drill_id, "upto": end}
                assert kept == session.execute(catch_up._NEXT_SLA_CHECK, params).scalar()
                return kept

            first = both()
            assert first is not None
            assert catch_up.next_sla_check(session, drill_id, first - timedelta(seconds=1)) is None
            trainer = session.get_one(User, drill.trainer.user_id)
            now = clock.instant(session, drill_id, utc_now())
            data = schemas.TicketReceive(
                drill=drill_id, channel="phone", category="other", subject="急", body="快"
            )
            a_minute_on = Instant(sim=now.sim + timedelta(minutes=1), wall=now.wall)
            new = intake.open_ticket(session=session, data=data, actor=trainer, at=a_minute_on)
            assert both() == first
            ticket = session.get_one(Ticket, parse_ticket_key(key))
            agent = session.get_one(User, drill.agent.user_id)
            reply = schemas.MessageIn(body="您好")
            service.reply(session=session, ticket=ticket, actor=agent, at=now, data=reply)
            session.flush()
            # The first ticket's next check moved on: the earliest is now the new one's.
            assert both() == new.sla_next_check != first
            later = clock.instant(session, drill_id, utc_now() + timedelta(seconds=1))
            moved = Instant(sim=later.sim + timedelta(hours=1), wall=later.wall)
            assert engine.step(session, drill_id, moved) > 0  # the new ticket's breach
            both()
            with pytest.raises(ZeroDivisionError), session.begin_nested():
                intake.open_ticket(session=session, data=data, actor=trainer, at=moved)
                both()
                1 / 0  # noqa: B018
            both()
