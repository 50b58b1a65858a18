"""Live pages: the watcher tells the open pages of a drill what changed in it, whichever
process made the change (it reads the database), and nothing about other drills; a page
that connects after something changed is told to refresh."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

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
from deskdrill.tickets import changes, intake
from deskdrill.tickets.schemas import TicketReceive
from deskdrill.web.live import GAP_LOOKS, LiveHub, since_mark, stream
from tests.support.factories import Factory
from tests.support.pgserver import PgServer

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """In a thread of its own: the browser tests' driver may hold this thread's loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def _next(inbox: asyncio.Queue[frozenset[str]], timeout: float = 5.0) -> frozenset[str]:
    return await asyncio.wait_for(inbox.get(), timeout)


async def _until(inbox: asyncio.Queue[frozenset[str]], name: str) -> set[str]:
    """Every name heard up to the first announcement that has ``name``: a write made in the
    background (an SLA deadline, say) may commit late and be announced on its own first."""
    heard: set[str] = set()
    while name not in heard:
        heard |= await _next(inbox)
    return heard


def test_open_pages_hear_of_new_tickets_claims_and_clock_changes(
    factory: Factory, session_factory: Any
) -> None:
    desk, other = factory.desk(trainees=1), factory.desk(trainees=1)

    async def scenario() -> None:
        hub = LiveHub(session_factory, interval=0.05)
        page = await hub.subscribe(desk.drill_id)
        elsewhere = await hub.subscribe(other.drill_id)
        ticket = await asyncio.to_thread(desk.receive, subject="Arrives while the page is open")
        number = int(ticket["key"].split("-")[1])
        assert await _until(page, f"t-{number}") == {"queue", f"t-{number}"}
        trainee = desk.trainees[0]
        await asyncio.to_thread(trainee.ok, f"/tickets/{ticket['key']}/claim")
        assert f"t-{number}" in await _until(page, f"a-{trainee.user_id}")
        await asyncio.to_thread(desk.trainer.ok, f"/drills/{desk.drill_id}/clock/start")
        assert "clock" in await _until(page, "clock")
        assert elsewhere.empty()  # the other drill's page heard nothing
        hub.unsubscribe(desk.drill_id, page)
        hub.unsubscribe(other.drill_id, elsewhere)
        assert hub.pages == 0
        await hub.stop()

    run(scenario())


def _marks(session_factory: Any) -> str:
    with unit_of_work(session_factory, read_only=True) as session:
        return since_mark(changes.marks(session))


def test_the_event_stream_names_what_changed_and_resyncs_a_late_page(
    factory: Factory, session_factory: Any
) -> None:
    desk = factory.desk(trainees=1)

    async def scenario() -> list[str]:
        hub = LiveHub(session_factory, interval=0.05)

        async def never_gone() -> bool:
            return False

        me = desk.trainees[0].user_id
        chunks = stream(hub, desk.drill_id, me, _marks(session_factory), never_gone)
        lines = [await chunks.__anext__()]  # retry advice, sent at once
        await asyncio.to_thread(desk.receive)
        lines.append(await asyncio.wait_for(chunks.__anext__(), 5))
        await chunks.aclose()
        assert hub.pages == 0
        # A page rendered before a change, connecting after it, is told to refresh.
        rendered = _marks(session_factory)
        await asyncio.to_thread(desk.receive)
        late = stream(hub, desk.drill_id, me, rendered, never_gone)
        lines += [await late.__anext__(), await asyncio.wait_for(late.__anext__(), 5)]
        await late.aclose()
        await hub.stop()
        return lines

    retry, first, retry_again, resync = run(scenario())
    assert retry == retry_again == "retry: 2000\n\n"
    assert first == "event: queue\ndata: queue\n\n"
    assert resync == "event: resync\ndata: resync\n\n"


def test_a_page_hears_mine_only_for_its_own_tickets(factory: Factory, session_factory: Any) -> None:
    desk = factory.desk(trainees=2)
    ticket = desk.receive()
    first, second = desk.trainees

    async def scenario() -> tuple[list[str], list[str]]:
        hub = LiveHub(session_factory, interval=0.05)

        async def never_gone() -> bool:
            return False

        since = _marks(session_factory)
        pages = [stream(hub, desk.drill_id, who.user_id, since, never_gone)
                 for who in (first, second)]  # fmt: skip
        for page in pages:
            assert await page.__anext__() == "retry: 2000\n\n"
        await asyncio.to_thread(first.ok, f"/tickets/{ticket['key']}/claim")
        heard = []
        for page in pages:
            names = []
            while "event: queue\ndata: queue\n\n" not in names:
                names.append(await asyncio.wait_for(page.__anext__(), 5))
            heard.append(names)
            await page.aclose()
        await hub.stop()
        return heard[0], heard[1]

    mine, theirs = run(scenario())
    assert "event: mine\ndata: mine\n\n" in mine
    assert not any("mine" in line for line in theirs)


def test_skipped_ids_are_looked_for_again_for_a_while(session_factory: Any) -> None:
    hub = LiveHub(session_factory)
    hub._mind_gaps(10, [11, 13, 14])
    assert set(hub._gaps) == {12}
    hub._mind_gaps(14, [12, 15])  # 12 committed late: found, and no longer missing
    assert hub._gaps == {}
    hub._mind_gaps(15, [17])
    for _ in range(GAP_LOOKS):
        hub._mind_gaps(17, [])
    assert hub._gaps == {}  # 16 never came (rolled back): forgotten after a while


def test_a_late_commit_on_postgresql_is_still_announced(pg_server: PgServer) -> None:
    """On PostgreSQL a transaction can take an event id and commit after a later one."""
    url = pg_server.create_database(f"live_{time.time_ns()}")
    migrate.upgrade(url)
    engine = make_engine(Settings(env="test", database_url=url))
    factory = make_sessionmaker(engine)
    try:
        with unit_of_work(factory) as session:
            trainer = accounts.create_user(
                session=session, now=utc_now(),
                data=UserCreate(username="late-trainer", password="password-1", role=Role.trainer),
            )  # fmt: skip
            drill = drills.create_drill(
                session=session, creator=trainer, now=utc_now(),
                data=DrillCreate(name="late", title="Late commits", members=[]),
            ).id  # fmt: skip

        def receive(session: Session, subject: str) -> int:
            actor = session.scalars(select(User).where(User.username == "late-trainer")).one()
            data = TicketReceive(drill=drill, channel="chat", category="order",
                                 subject=subject, body="…")  # fmt: skip
            return intake.receive(session=session, data=data, actor=actor, at=wall_instant()).id

        async def scenario() -> tuple[frozenset[str], frozenset[str]]:
            hub = LiveHub(factory, interval=0.05)
            page = await hub.subscribe(drill)
            slow = factory()
            early = receive(slow, "takes its id first, commits last")
            slow.flush()
            later = await asyncio.to_thread(_committed, factory, receive)
            first = await _next(page)
            assert f"t-{later}" in first and f"t-{early}" not in first
            slow.commit()
            slow.close()
            second = await _next(page)
            assert f"t-{early}" in second  # the late commit, announced all the same
            await hub.stop()
            return first, second

        first, second = run(scenario())
        assert "queue" in first and "queue" in second
    finally:
        engine.dispose()


def _committed(factory: Any, receive: Any) -> int:
    with unit_of_work(factory) as session:
        return int(receive(session, "takes a later id, commits first"))


def test_pages_opening_at_once_share_one_watcher(factory: Factory, session_factory: Any) -> None:
    desk = factory.desk(trainees=1)

    async def scenario() -> list[list[frozenset[str]]]:
        hub = LiveHub(session_factory, interval=0.05)
        inboxes = await asyncio.gather(*(hub.subscribe(desk.drill_id) for _ in range(20)))
        await asyncio.to_thread(desk.receive)
        heard = [[await _next(inbox)] for inbox in inboxes]
        await asyncio.sleep(0.5)  # ten more looks: nothing else may be announced
        for inbox, names in zip(inboxes, heard, strict=True):
            while not inbox.empty():
                names.append(inbox.get_nowait())
        await hub.stop()
        return heard

    for names in run(scenario()):
        assert len(names) == 1 and "queue" in names[0], names  # once, not once per watcher


def test_a_change_makes_the_pages_caches_forget_the_drill(
    factory: Factory, session_factory: Any
) -> None:
    desk = factory.desk(trainees=1)
    forgotten: list[int] = []

    async def scenario() -> None:
        hub = LiveHub(session_factory, interval=0.05, on_change=[forgotten.append])
        page = await hub.subscribe(desk.drill_id)
        await asyncio.to_thread(desk.receive)
        await _next(page)
        await hub.stop()

    run(scenario())
    assert forgotten == [desk.drill_id]
