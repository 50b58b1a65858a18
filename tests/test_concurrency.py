"""Concurrency against a real server process and real database connections."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from deskdrill.accounts import service as accounts
from deskdrill.accounts.enums import Role
from deskdrill.accounts.models import User
from deskdrill.accounts.schemas import UserCreate
from deskdrill.core.clock import utc_now, wall_instant
from deskdrill.db import migrate
from deskdrill.db.engine import make_engine, make_sessionmaker, unit_of_work
from deskdrill.drills import service as drills
from deskdrill.drills.schemas import DrillCreate
from deskdrill.settings import Settings
from deskdrill.tickets import intake, queries, schemas
from deskdrill.tickets.models import Ticket, TicketEvent, parse_ticket_key
from tests.support.factories import Factory
from tests.support.locks import lock_waiters
from tests.support.server import start_server
from tests.test_engine_loop import wait_for
from tests.test_web import Browser


def _claim_at_once(url: str, key: str, headers: list[dict[str, str]]) -> list[httpx.Response]:
    """One thread and connection per agent, released together by a barrier."""
    start = threading.Barrier(len(headers))

    def claim(agent_headers: dict[str, str]) -> httpx.Response:
        with httpx.Client(base_url=url, timeout=60) as client:
            client.get("/api/v1/health")  # connect before the race starts
            start.wait()
            return client.post(f"/api/v1/tickets/{key}/claim", headers=agent_headers)

    with ThreadPoolExecutor(max_workers=len(headers)) as pool:
        return list(pool.map(claim, headers))


@pytest.mark.server
def test_fifty_concurrent_claims_one_winner(
    factory: Factory, db_url: str, tmp_path: Path, session_factory
) -> None:
    desk = factory.desk(trainees=50)
    key = desk.receive()["key"]
    server = start_server(db_url, tmp_path)
    try:
        responses = _claim_at_once(server.url, key, [a.headers for a in desk.trainees])
    finally:
        server.stop()
    codes = Counter(r.status_code for r in responses)
    assert codes == {200: 1, 409: 49}, codes
    assert all(r.json()["detail"] for r in responses if r.status_code == 409)
    winner = next(r.json()["assignee"] for r in responses if r.status_code == 200)
    with unit_of_work(session_factory, read_only=True) as session:
        ticket = session.get(Ticket, parse_ticket_key(key))
        assert ticket is not None
        claims = session.scalar(
            select(func.count())
            .select_from(TicketEvent)
            .where(TicketEvent.ticket_id == ticket.id, TicketEvent.type == "claim")
        )
        assert claims == 1
        assert session.get(User, ticket.assignee_id).username == winner
        assert queries.verify(session, ticket).ok


@pytest.fixture
def sqlite_desk(tmp_path: Path) -> tuple[Settings, str, int]:
    """A SQLite database of its own (this is a property of SQLite's locking), with a
    trainer and a drill."""
    url = f"sqlite:///{tmp_path / 'writers.db'}"
    migrate.upgrade(url)
    settings = Settings(env="test", database_url=url, secret_key="writers-secret-0123456789")
    engine = make_engine(settings)
    with unit_of_work(make_sessionmaker(engine)) as session:
        trainer = accounts.create_user(
            session=session,
            now=utc_now(),
            data=UserCreate(username="writer-trainer", password="long-password", role=Role.trainer),
        )
        drill = drills.create_drill(
            session=session,
            creator=trainer,
            now=utc_now(),
            data=DrillCreate(name="writers", title="Writers"),
        )
        drill_id = drill.id
    engine.dispose()
    return settings, "writer-trainer", drill_id


def test_two_hundred_concurrent_writers_on_sqlite(sqlite_desk: tuple[Settings, str, int]) -> None:
    """200 threads, each with its own connection, write at once: no 'database is locked',
    and every acknowledged write is there afterwards."""
    settings, trainer, drill_id = sqlite_desk
    # Eight engines stand for eight server processes: writers of one engine queue on its
    # in-process lock, writers of different engines meet SQLite's own lock.
    engines = [make_engine(settings, pool_size=25, max_overflow=0) for _ in range(8)]
    makers = [make_sessionmaker(engine) for engine in engines]
    start = threading.Barrier(200)
    acknowledged: list[str] = []
    failures: list[BaseException] = []

    def write(n: int) -> None:
        try:
            start.wait()
            with unit_of_work(makers[n % 8]) as session:
                actor = session.scalars(select(User).where(User.username == trainer)).one()
                ticket = intake.receive(
                    session=session,
                    actor=actor,
                    at=wall_instant(),
                    data=schemas.TicketReceive(
                        drill=drill_id,
                        channel="app",
                        category="payment",
                        subject=f"writer {n}",
                        body="并发写入",
                    ),
                )
                key = ticket.key
            acknowledged.append(key)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(acknowledged) == 200
    with unit_of_work(makers[0], read_only=True) as session:
        stored = set(session.scalars(select(Ticket.id).where(Ticket.drill_id == drill_id)))
    for engine in engines:
        engine.dispose()
    assert {parse_ticket_key(k) for k in acknowledged} == stored


@pytest.mark.parametrize("way", ["api", "page"])
def test_an_action_refused_to_break_a_deadlock_is_a_conflict_to_try_again(
    app: Any, factory: Factory, session_factory, way: str
) -> None:
    """Another transaction holds the trainee's user row and then wants the ticket her
    claim has locked. On PostgreSQL that is a deadlock, and the claim's side is refused
    (the other's deadlock check is set to run later): she is told it met another change
    and is to try again, a conflict like any other (a 409 from the API, the ticket page's
    alert and reload), not a server error, and nothing of it is recorded. On SQLite
    writers take turns: the claim waits and goes through."""
    desk = factory.desk(trainees=1)
    agent = desk.trainees[0]
    key = desk.receive()["key"]
    ticket_id = parse_ticket_key(key)
    browser = Browser(app)
    assert browser.login(agent.username).status_code == 303

    def act() -> httpx.Response:
        if way == "api":
            return agent.post(f"/tickets/{key}/claim")
        return browser.act(desk.drill_id, key, "claim")

    bind = session_factory.kw["bind"]
    postgres = bind.dialect.name == "postgresql"
    answers: list[httpx.Response] = []
    claim = threading.Thread(target=lambda: answers.append(act()))
    with bind.connect() as other:
        if postgres:
            other.exec_driver_sql("SET deadlock_timeout = '10s'")
            other.execute(select(User.id).where(User.id == agent.user_id).with_for_update())
            claim.start()
            assert wait_for(lambda: lock_waiters(bind) == 1)
            other.execute(select(Ticket.id).where(Ticket.id == ticket_id).with_for_update())
        else:
            other.exec_driver_sql("SELECT 1")  # BEGIN IMMEDIATE: the write lock
            claim.start()
            claim.join(0.5)
            assert claim.is_alive()  # waiting for the other writer
        other.rollback()
    claim.join(30)
    [answer] = answers
    if postgres:
        if way == "api":
            assert answer.status_code == 409, answer.text
            assert answer.json()["error"] == "conflict"
            assert "try again" in answer.json()["detail"]
        else:
            assert answer.headers["HX-Trigger"] == "refresh-ticket", answer.text
            assert "changed by someone else at the same moment" in answer.text
        trail = agent.get(f"/tickets/{key}").json()["trail"]
        assert [e["type"] for e in trail] == ["receive"]
        answer = act()
    assert answer.status_code == 200, answer.text
    ticket = agent.get(f"/tickets/{key}").json()["ticket"]
    assert ticket["assignee"] == agent.username
