"""Live pages: server-sent events that tell an open page what changed in its drill.

One watcher per server process looks at the database a few times a second while pages
are open: the newest trail events and notices, and the clocks of the drills being
watched. Because it reads the database, it sees changes made by any process or host.
Each page is sent event names only (``queue``: the drill's shared lists changed;
``mine``: a ticket on this person's desk did; ``clock``, ``notice`` and ``t-<ticket id>``);
the page fetches the fragments it shows, through the same access checks as any other
request.

Nothing is missed between a page's rendering and its connection: the page says which
marks it was rendered at (``since``), and if anything happened after them its stream
starts with ``resync`` (refresh everything). An id skipped by what the watcher read (a
transaction that took it but had not committed yet, possible with PostgreSQL) is looked
for again for a while, so a late commit is still announced.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from deskdrill.core import tasks
from deskdrill.db.engine import unit_of_work
from deskdrill.tickets import changes

KEEPALIVE_SECONDS = 15.0
QUEUE_LIMIT = 64  # a page that stops reading is sent a full refresh instead of a backlog
GAP_LOOKS = 50  # at 0.2 s a look: a transaction may take 10 s to commit and still be heard
MAX_GAP_SPAN = 5000
EVERYTHING = frozenset({"resync", "queue", "clock", "notice"})


def since_mark(marks: changes.Marks) -> str:
    return f"{marks.event}.{marks.notice}"


def _parse_since(value: str | None) -> changes.Marks | None:
    try:
        event, notice = (value or "").split(".")
        return changes.Marks(event=int(event), notice=int(notice))
    except ValueError:
        return None


@dataclass
class LiveHub:
    factory: sessionmaker[Session]
    interval: float = 0.2
    _pages: dict[int, set[asyncio.Queue[frozenset[str]]]] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None
    _ready: asyncio.Event = field(default_factory=asyncio.Event)
    _top: changes.Marks | None = None
    _gaps: dict[int, int] = field(default_factory=dict)  # missing event id -> looks left
    # Called with a drill's id when it changed, before its pages are told (caches of the
    # drill's pages forget what they hold).
    on_change: list[Callable[[int], None]] = field(default_factory=list)
    _clocks: dict[int, tuple[Any, ...]] = field(default_factory=dict)

    async def subscribe(self, drill_id: int) -> asyncio.Queue[frozenset[str]]:
        """A page's inbox; when this returns, every later change will be announced to it."""
        inbox: asyncio.Queue[frozenset[str]] = asyncio.Queue(QUEUE_LIMIT)
        self._pages.setdefault(drill_id, set()).add(inbox)
        if self._task is None or self._task.done():
            # One watcher, however many pages open at once: it is started before anything
            # is awaited, and the others wait for its first look (which sets the marks).
            self._ready = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._watch(self._ready))
        await self._ready.wait()
        return inbox

    def unsubscribe(self, drill_id: int, inbox: asyncio.Queue[frozenset[str]]) -> None:
        pages = self._pages.get(drill_id)
        if pages is not None:
            pages.discard(inbox)
            if not pages:
                del self._pages[drill_id]

    @property
    def pages(self) -> int:
        return sum(len(p) for p in self._pages.values())

    def changed_since(self, drill_id: int, since: changes.Marks) -> bool:
        with unit_of_work(self.factory, read_only=True) as session:
            return changes.drill_changed_since(session, drill_id, since)

    async def stop(self) -> None:
        await tasks.cancel(self._task)
        self._task = None

    async def _watch(self, ready: asyncio.Event) -> None:
        try:
            with contextlib.suppress(Exception):  # no database yet: the next look is first
                await run_in_threadpool(self._look, list(self._pages))  # sets the marks
            ready.set()
            while self._pages:
                await asyncio.sleep(self.interval)
                try:
                    found = await run_in_threadpool(self._look, list(self._pages))
                except Exception:  # the database is restarting, say: look again next time
                    found = {}
                for drill_id, names in found.items():
                    for forget in self.on_change:
                        forget(drill_id)
                    for inbox in list(self._pages.get(drill_id, ())):
                        _post(inbox, frozenset(names))
        finally:
            ready.set()
            self._top = None
            self._gaps.clear()

    def _look(self, drill_ids: list[int]) -> dict[int, set[str]]:
        found: dict[int, set[str]] = {}
        with unit_of_work(self.factory, read_only=True) as session:
            top = changes.marks(session)
            clocks = changes.clocks(session, drill_ids)
            before = self._top
            if before is not None:
                recent = changes.events_after(session, before.event)
                recent += changes.events_in(session, sorted(self._gaps))
                for _event_id, drill_id, ticket_id, assignee_id in recent:
                    names = found.setdefault(drill_id, {"queue"})
                    names.add(f"t-{ticket_id}")
                    if assignee_id is not None:
                        names.add(f"a-{assignee_id}")
                self._mind_gaps(before.event, [r[0] for r in recent])
                if len(recent) >= changes.MAX_CHANGES:  # a flood: refresh every page
                    found = {drill_id: set(EVERYTHING) for drill_id in drill_ids}
                    top = changes.Marks(event=max(r[0] for r in recent), notice=top.notice)
                if top.notice > before.notice:
                    for drill_id in changes.noticed_drills(session, before.notice, top.notice):
                        found.setdefault(drill_id, set()).add("notice")
        for drill_id, clock in clocks.items():
            if drill_id in self._clocks and self._clocks[drill_id] != clock:
                found.setdefault(drill_id, set()).add("clock")
        self._clocks = clocks
        self._top = top
        return found

    def _mind_gaps(self, before: int, seen: list[int]) -> None:
        """Ids skipped by what was read (taken by transactions not yet committed, or rolled
        back) are looked for again for ``GAP_LOOKS`` looks; found ones were announced."""
        found = set(seen)
        for event_id in list(self._gaps):
            if event_id in found or self._gaps[event_id] <= 1:
                del self._gaps[event_id]
            else:
                self._gaps[event_id] -= 1
        newest = max((e for e in found if e > before), default=before)
        if newest - before <= MAX_GAP_SPAN:
            for event_id in range(before + 1, newest):
                if event_id not in found:
                    self._gaps[event_id] = GAP_LOOKS


def _post(inbox: asyncio.Queue[frozenset[str]], names: frozenset[str]) -> None:
    try:
        inbox.put_nowait(names)
    except asyncio.QueueFull:
        while not inbox.empty():
            inbox.get_nowait()
        inbox.put_nowait(EVERYTHING)


def _for_page(names: frozenset[str], user_id: int) -> list[str]:
    """What one person's page is told: ``mine`` when a ticket of theirs changed, nothing
    about other people's desks."""
    mine = f"a-{user_id}"
    told = {n for n in names if not n.startswith("a-")}
    if mine in names or "resync" in names:
        told.add("mine")
    return sorted(told)


async def stream(
    hub: LiveHub,
    drill_id: int,
    user_id: int,
    since: str | None,
    is_gone: Callable[[], Awaitable[bool]],
) -> AsyncIterator[str]:
    """The text/event-stream of one person's open page, rendered at the marks ``since``."""
    inbox = await hub.subscribe(drill_id)
    try:
        rendered = _parse_since(since)
        behind = rendered is None or await run_in_threadpool(hub.changed_since, drill_id, rendered)
        yield "retry: 2000\n\n"
        if behind:
            yield "event: resync\ndata: resync\n\n"
        while not await is_gone():
            try:
                names = await asyncio.wait_for(inbox.get(), timeout=KEEPALIVE_SECONDS)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            for name in _for_page(names, user_id):
                yield f"event: {name}\ndata: {name}\n\n"
    finally:
        hub.unsubscribe(drill_id, inbox)
