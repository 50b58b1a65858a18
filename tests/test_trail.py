"""The tamper-evident trail: hash chain, append-only table, verification that names the break."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from deskdrill.db.engine import unit_of_work
from deskdrill.tickets.models import TicketEvent, parse_ticket_key
from deskdrill.tickets.trail import GENESIS, event_hash
from tests.support.factories import Agent, Factory


@contextmanager
def without_guard(session_factory) -> Iterator[Session]:
    """What an attacker with database rights could do: bypass the append-only triggers."""
    with unit_of_work(session_factory) as session:
        dialect = session.get_bind().dialect.name
        if dialect == "sqlite":
            session.execute(select(1))
            session.connection().exec_driver_sql("DROP TRIGGER ticket_events_no_update")
            session.connection().exec_driver_sql("DROP TRIGGER ticket_events_no_delete")
        else:
            session.connection().exec_driver_sql("SET LOCAL session_replication_role = replica")
        yield session
        if dialect == "sqlite":
            session.flush()
            session.connection().exec_driver_sql(
                "CREATE TRIGGER ticket_events_no_update BEFORE UPDATE ON ticket_events BEGIN "
                "SELECT RAISE(ABORT, 'ticket_events is append-only: UPDATE refused'); END"
            )
            session.connection().exec_driver_sql(
                "CREATE TRIGGER ticket_events_no_delete BEFORE DELETE ON ticket_events BEGIN "
                "SELECT RAISE(ABORT, 'ticket_events is append-only: DELETE refused'); END"
            )


def busy_ticket(factory: Factory) -> tuple[Agent, str, int]:
    desk = factory.desk()
    agent = desk.trainees[0]
    key = desk.receive(subject="退款进度")["key"]
    agent.ok(f"/tickets/{key}/claim")
    agent.ok(f"/tickets/{key}/reply", {"body": "您好，正在为您查询"})
    agent.ok(f"/tickets/{key}/notes", {"body": "check with finance"})
    agent.ok(f"/tickets/{key}/resolve", {"code": "solved", "summary": "refund on its way"})
    ticket_id = parse_ticket_key(key)
    assert ticket_id is not None
    return agent, key, ticket_id


def verify(agent: Agent, key: str) -> dict[str, object]:
    response = agent.get(f"/tickets/{key}/trail/verify")
    assert response.status_code == 200
    return response.json()


class TestChain:
    def test_untouched_trail_verifies_and_links(self, factory: Factory) -> None:
        agent, key, _ = busy_ticket(factory)
        result = verify(agent, key)
        assert result == {
            "key": key,
            "ok": True,
            "events_checked": 5,
            "first_broken_seq": None,
            "reason": None,
        }
        trail = agent.get(f"/tickets/{key}").json()["trail"]
        assert [e["seq"] for e in trail] == [1, 2, 3, 4, 5]
        assert trail[0]["prev_hash"] == GENESIS
        assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(trail))

    def test_hash_ignores_wall_time_and_ids(self) -> None:
        from datetime import UTC, datetime

        at = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
        one = event_hash(
            seq=1,
            type="receive",
            actor="bot",
            sim_at=at,
            payload={"body": "你好", "n": 1},
            prev_hash=GENESIS,
        )
        same = event_hash(
            seq=1,
            type="receive",
            actor="bot",
            sim_at=at,
            payload={"n": 1, "body": "你好"},
            prev_hash=GENESIS,
        )
        assert one == same and len(one) == 64
        assert one != event_hash(
            seq=1,
            type="receive",
            actor="bot",
            sim_at=at,
            payload={"body": "您好", "n": 1},
            prev_hash=GENESIS,
        )


class TestAppendOnly:
    def test_database_refuses_update_and_delete(self, factory: Factory, session_factory) -> None:
        _, _, ticket_id = busy_ticket(factory)
        for statement in (
            update(TicketEvent).where(TicketEvent.ticket_id == ticket_id).values(actor="mallory"),
            delete(TicketEvent).where(TicketEvent.ticket_id == ticket_id),
        ):
            with pytest.raises(DBAPIError, match="append-only"):  # noqa: SIM117
                with unit_of_work(session_factory) as session:
                    session.execute(statement)


class TestTamperDetection:
    def test_altered_payload_is_named(self, factory: Factory, session_factory) -> None:
        agent, key, ticket_id = busy_ticket(factory)
        with without_guard(session_factory) as session:
            session.execute(
                update(TicketEvent)
                .where(TicketEvent.ticket_id == ticket_id, TicketEvent.seq == 3)
                .values(payload={"body": "您好，已为您全额退款"})
            )
        result = verify(agent, key)
        assert (result["ok"], result["first_broken_seq"]) == (False, 3)
        assert "altered" in result["reason"]

    def test_altered_actor_is_named(self, factory: Factory, session_factory) -> None:
        agent, key, ticket_id = busy_ticket(factory)
        with without_guard(session_factory) as session:
            session.execute(
                update(TicketEvent)
                .where(TicketEvent.ticket_id == ticket_id, TicketEvent.seq == 2)
                .values(actor="someone-else")
            )
        assert verify(agent, key)["first_broken_seq"] == 2

    def test_deleted_middle_event_is_named(self, factory: Factory, session_factory) -> None:
        agent, key, ticket_id = busy_ticket(factory)
        with without_guard(session_factory) as session:
            session.execute(
                delete(TicketEvent).where(TicketEvent.ticket_id == ticket_id, TicketEvent.seq == 4)
            )
        result = verify(agent, key)
        assert (result["ok"], result["first_broken_seq"]) == (False, 4)

    def test_removed_tail_is_detected(self, factory: Factory, session_factory) -> None:
        agent, key, ticket_id = busy_ticket(factory)
        with without_guard(session_factory) as session:
            session.execute(
                delete(TicketEvent).where(TicketEvent.ticket_id == ticket_id, TicketEvent.seq == 5)
            )
        result = verify(agent, key)
        assert (result["ok"], result["first_broken_seq"]) == (False, 5)
        assert "missing" in result["reason"]

    def test_reordered_events_are_named(self, factory: Factory, session_factory) -> None:
        agent, key, ticket_id = busy_ticket(factory)
        with without_guard(session_factory) as session:
            where = (TicketEvent.ticket_id == ticket_id,)
            session.execute(update(TicketEvent).where(*where, TicketEvent.seq == 2).values(seq=-2))
            session.execute(update(TicketEvent).where(*where, TicketEvent.seq == 3).values(seq=2))
            session.execute(update(TicketEvent).where(*where, TicketEvent.seq == -2).values(seq=3))
        result = verify(agent, key)
        assert (result["ok"], result["first_broken_seq"]) == (False, 2)
