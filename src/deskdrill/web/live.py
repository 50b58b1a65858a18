"""Live pages: server-sent events that tell an open page what changed in its drill.

One watcher per server process looks at the database a few times a second while pages
are open: the newest trail event and notice, and the clocks of the drills being watched.
Because it reads the database, it sees changes made by any process or host. Each page is
sent event names only (``queue``, ``clock``, ``notice`` and ``t-<ticket id>``); the page
fetches the fragments it shows, through the same access checks as any other request.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from deskdrill.db.engine import unit_of_work
from deskdrill.tickets import changes

KEEPALIVE_SECONDS = 15.0
QUEUE_LIMIT = 64  # a page that stops reading is sent a full refresh instead of a backlog


@dataclass
class LiveHub:
    factory: sessionmaker[Session]
    interval: float = 0.2
    _pages: dict[int, set[asyncio.Queue[set[str]]]] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None
    _marks: changes.Marks | None = None
    _clocks: dict[int, tuple[Any, ...]] = field(default_factory=dict)

    def subscribe(self, drill_id: int) -> asyncio.Queue[set[str]]:
        inbox: asyncio.Queue[set[str]] = asyncio.Queue(QUEUE_LIMIT)
        self._pages.setdefault(drill_id, set()).add(inbox)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._watch())
        return inbox

    def unsubscribe(self, drill_id: int, inbox: asyncio.Queue[set[str]]) -> None:
        pages = self._pages.get(drill_id)
        if pages is not None:
            pages.discard(inbox)
            if not pages:
                del self._pages[drill_id]

    @property
    def pages(self) -> int:
        return sum(len(p) for p in self._pages.values())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _watch(self) -> None:
        while self._pages:
            try:
                found = await run_in_threadpool(self._look, list(self._pages))
            except Exception:  # the database is restarting, say: look again next time
                found = {}
            for drill_id, names in found.items():
                for inbox in list(self._pages.get(drill_id, ())):
                    _post(inbox, names)
            await asyncio.sleep(self.interval)
        self._marks = None

    def _look(self, drill_ids: list[int]) -> dict[int, set[str]]:
        found: dict[int, set[str]] = {}
        with unit_of_work(self.factory, read_only=True) as session:
            now = changes.marks(session)
            clocks = changes.clocks(session, drill_ids)
            before = self._marks
            if before is not None:
                if now.event > before.event:
                    for drill_id, ticket_id in changes.changed_tickets(
                        session, before.event, now.event
                    ):
                        found.setdefault(drill_id, {"queue"}).add(f"t-{ticket_id}")
                if now.notice > before.notice:
                    for drill_id in changes.noticed_drills(session, before.notice, now.notice):
                        found.setdefault(drill_id, set()).add("notice")
        for drill_id, clock in clocks.items():
            if drill_id in self._clocks and self._clocks[drill_id] != clock:
                found.setdefault(drill_id, set()).add("clock")
        self._clocks = clocks
        self._marks = now
        return found


def _post(inbox: asyncio.Queue[set[str]], names: set[str]) -> None:
    try:
        inbox.put_nowait(names)
    except asyncio.QueueFull:
        while not inbox.empty():
            inbox.get_nowait()
        inbox.put_nowait({"queue", "clock", "notice"})


async def stream(hub: LiveHub, drill_id: int, is_gone: Any) -> AsyncIterator[str]:
    """The text/event-stream of one open page."""
    inbox = hub.subscribe(drill_id)
    try:
        yield "retry: 2000\n\n"
        while not await is_gone():
            try:
                names = await asyncio.wait_for(inbox.get(), timeout=KEEPALIVE_SECONDS)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            for name in sorted(names):
                yield f"event: {name}\ndata: {name}\n\n"
    finally:
        hub.unsubscribe(drill_id, inbox)
