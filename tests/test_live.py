"""Live pages: the watcher tells the open pages of a drill what changed in it, whichever
process made the change (it reads the database), and nothing about other drills."""

from __future__ import annotations

import asyncio
from typing import Any

from deskdrill.web.live import LiveHub, stream
from tests.support.factories import Factory


async def _next(inbox: asyncio.Queue[set[str]], timeout: float = 5.0) -> set[str]:
    return await asyncio.wait_for(inbox.get(), timeout)


def test_open_pages_hear_of_new_tickets_claims_and_clock_changes(
    factory: Factory, session_factory: Any
) -> None:
    desk, other = factory.desk(trainees=1), factory.desk(trainees=1)

    async def scenario() -> None:
        hub = LiveHub(session_factory, interval=0.05)
        page, elsewhere = hub.subscribe(desk.drill_id), hub.subscribe(other.drill_id)
        await asyncio.sleep(0.2)  # the watcher's first look sets its marks
        ticket = await asyncio.to_thread(desk.receive, subject="Arrives while the page is open")
        number = int(ticket["key"].split("-")[1])
        assert await _next(page) == {"queue", f"t-{number}"}
        await asyncio.to_thread(desk.trainees[0].ok, f"/tickets/{ticket['key']}/claim")
        assert f"t-{number}" in await _next(page)
        await asyncio.to_thread(desk.trainer.ok, f"/drills/{desk.drill_id}/clock/start")
        assert "clock" in await _next(page)
        assert elsewhere.empty()  # the other drill's page heard nothing
        hub.unsubscribe(desk.drill_id, page)
        hub.unsubscribe(other.drill_id, elsewhere)
        assert hub.pages == 0
        await hub.stop()

    asyncio.run(scenario())


def test_the_event_stream_names_what_changed(factory: Factory, session_factory: Any) -> None:
    desk = factory.desk(trainees=1)

    async def scenario() -> list[str]:
        hub = LiveHub(session_factory, interval=0.05)
        gone = asyncio.Event()

        async def is_gone() -> bool:
            return gone.is_set()

        chunks = stream(hub, desk.drill_id, is_gone)
        lines = [await chunks.__anext__()]  # retry advice, sent at once
        await asyncio.sleep(0.2)
        await asyncio.to_thread(desk.receive)
        lines.append(await asyncio.wait_for(chunks.__anext__(), 5))
        gone.set()
        await chunks.aclose()
        assert hub.pages == 0
        await hub.stop()
        return lines

    retry, first = asyncio.run(scenario())
    assert retry == "retry: 2000\n\n"
    assert first == "event: queue\ndata: queue\n\n"
