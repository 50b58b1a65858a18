"""The trainee's desk: the drills they belong to, and one drill's live queues."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from deskdrill.accounts.models import User
from deskdrill.api.deps import SessionDep
from deskdrill.core.clock import utc_now
from deskdrill.core.errors import DomainError
from deskdrill.db.engine import unit_of_work
from deskdrill.drills import clock
from deskdrill.drills import service as drills
from deskdrill.drills.models import Drill
from deskdrill.simulation.world import scenario_of
from deskdrill.sla import notices
from deskdrill.sla.catch_up import behind, catch_up_within, is_due
from deskdrill.sla.deadlines import policy_for
from deskdrill.sla.policy import SlaPolicy
from deskdrill.tickets import board, changes
from deskdrill.web import i18n, live
from deskdrill.web.render import language, render
from deskdrill.web.session import WebUser
from deskdrill.web.templating import display_zone, templates

router = APIRouter(include_in_schema=False)


# After a long clock jump the engine has hours of simulated work to record. A page shows
# what is recorded once it has waited PAGE_WAIT, saying the drill is catching up (the engine
# loop and the next refresh go on); an action, which must follow everything before its
# moment, waits ACTION_WAIT and is then refused, to be tried again.
PAGE_WAIT = 1.0
ACTION_WAIT = 10.0
CATCHING_UP = "the drill is still catching up after a clock jump; try again in a moment"


class CatchingUp(DomainError):
    status = 503
    code = "catching_up"


async def caught_up(request: Request, drill_id: int) -> None:
    """Let the engine record what has fallen due before the page acts on it, or refuse."""
    factory = request.app.state.session_factory
    if not await run_in_threadpool(catch_up_within, factory, drill_id, utc_now(), ACTION_WAIT):
        raise CatchingUp(CATCHING_UP)


def clock_view(session: Session, drill: Drill) -> dict[str, Any]:
    """The clock as the page shows it, and how fast its script should move it: a draft
    without a planned start follows the wall clock, a paused or finished one stands."""
    state = clock.clock_of(drill)
    wall = utc_now()
    now = state.sim_now(wall)
    policy = policy_for(session, drill.id)
    zone = drill_zone(session, drill, policy)
    display_zone.set(zone)
    moving = state.sim_now(wall + timedelta(seconds=1)) > now
    return {
        "state": state.state.value,
        "speed": state.speed,
        "rate": (state.speed if state.state.value == "running" else 1) if moving else 0,
        "sim_now": now,
        "running": moving,
        # With business hours, time left is open time: the page's script, which only
        # knows the clock, then leaves the server's figure as it is.
        "business_hours": policy.business_hours is not None,
        "offset_minutes": int((zone.utcoffset(now) or timedelta(0)).total_seconds() // 60),
    }


def drill_zone(session: Session, drill: Drill, policy: SlaPolicy) -> tzinfo:
    """Where a drill's times are read: its business hours' zone, else its scenario's
    start, else UTC."""
    hours = policy.business_hours
    if hours is not None:
        return ZoneInfo(hours.timezone)
    scenario = scenario_of(session, drill.id)
    if scenario is not None and scenario.start.tzinfo is not None:
        return scenario.start.tzinfo
    return UTC


@router.get("/drills", response_class=HTMLResponse)
def drill_list(request: Request, user: WebUser, session: SessionDep) -> Response:
    found = drills.list_drills(session=session, user=user)
    rows = [(d, clock.clock_of(d).state.value) for d in found]
    return render(request, "drills.html", {"drills": rows})


# The drill-wide queues of a desk, rendered once per state of the trail and language and
# shared by everyone at that tier (their rows are shared the same way, see tickets.board).
SECTIONS = board.Shared()


# Which lists each page or fragment shows: (the person's own, the drill-wide ones).
PARTS = {
    "desk.html": (True, True),
    "partials/desk_mine.html": (True, False),
    "partials/desk_shared.html": (False, True),
    "partials/notices.html": (False, False),
}


def _desk(session: Session, user: User, drill_id: int, lang: str, template: str) -> dict[str, Any]:
    drill = drills.get_drill(session=session, drill_id=drill_id, user=user)
    view = clock_view(session, drill)
    now: datetime = view["sim_now"]
    own, shared = PARTS[template]
    desk = board.board(
        session=session, user=user, drill_id=drill_id, now=now, own=own, shared=shared
    )
    i18n.use(lang)
    queue = templates.env.get_template("partials/macros.html").module.queue  # type: ignore[attr-defined]
    unassigned = escalated = None
    if shared:
        unassigned = SECTIONS.get(
            ("unassigned", drill_id, desk.tier, desk.mark, lang),
            lambda: queue(
                i18n._("Unassigned") + f" · {desk.tier}", desk.unassigned, drill, view,
                i18n._("The queue is empty."), "q-unassigned",
            ),
        )  # fmt: skip
        escalated = SECTIONS.get(
            ("escalated", drill_id, desk.mark, lang),
            lambda: queue(
                i18n._("Escalated"), desk.escalated, drill, view, i18n._("No escalated tickets."),
                "q-escalated",
            ),
        )  # fmt: skip
    return {
        "drill": drill,
        "clock": view,
        "board": desk,
        "unassigned": unassigned,
        "escalated": escalated,
        "notices": notices.latest(session=session, user=user, drill_id=drill_id)
        if template in ("desk.html", "partials/notices.html")
        else [],
        "since": live.since_mark(changes.marks(session)) if template == "desk.html" else "",
    }


# Pages are put together a few at a time: when every open desk refreshes at once, a few
# threads taking turns at the interpreter finish all of them sooner than forty contending.
RENDERING = threading.BoundedSemaphore(4)


def fresh(request: Request, user: User, drill_id: int, work: Callable[[], Response]) -> Response:
    """Check access, let the engine catch up (for PAGE_WAIT at most: see above), then
    ``work``, which finds in ``request.state.catching_up`` whether that was enough."""
    factory = request.app.state.session_factory
    with unit_of_work(factory, read_only=True) as session:
        drills.get_drill(session=session, drill_id=drill_id, user=user)
        due = is_due(session, drill_id, utc_now())
    # Outside RENDERING, and without waiting for a catch-up another thread is at (the
    # engine loop's may take minutes): the page then shows what is recorded so far.
    request.state.catching_up = due and not catch_up_within(
        factory, drill_id, utc_now(), PAGE_WAIT, wait=0.0
    )
    with RENDERING:
        return work()


@router.get("/drills/{drill_id}", response_class=HTMLResponse)
def desk_page(request: Request, drill_id: int, user: WebUser) -> Response:
    return fresh(
        request, user, drill_id, lambda: _render_desk(request, user, drill_id, "desk.html")
    )


@router.get("/drills/{drill_id}/desk", response_class=HTMLResponse)
def desk_fragment(request: Request, drill_id: int, user: WebUser) -> Response:
    """The drill-wide part of the desk (clock, my tier's queue, escalations)."""
    template = "partials/desk_shared.html"
    return fresh(request, user, drill_id, lambda: _render_desk(request, user, drill_id, template))


@router.get("/drills/{drill_id}/mine", response_class=HTMLResponse)
def mine_fragment(request: Request, drill_id: int, user: WebUser) -> Response:
    """The person's own part of the desk (my tickets, breaching soon)."""
    template = "partials/desk_mine.html"
    return fresh(request, user, drill_id, lambda: _render_desk(request, user, drill_id, template))


@router.get("/drills/{drill_id}/notices", response_class=HTMLResponse)
def notices_fragment(request: Request, drill_id: int, user: WebUser) -> Response:
    with RENDERING:
        return _render_desk(request, user, drill_id, "partials/notices.html")


async def visible(request: Request, user: User, drill_id: int) -> None:
    """NotFound unless the user may see the drill (others' drills are not revealed)."""

    def check() -> None:
        with unit_of_work(request.app.state.session_factory, read_only=True) as session:
            drills.get_drill(session=session, drill_id=drill_id, user=user)

    await run_in_threadpool(check)


def _render_desk(request: Request, user: User, drill_id: int, template: str) -> Response:
    with unit_of_work(request.app.state.session_factory, read_only=True) as session:
        context = _desk(session, user, drill_id, language(request), template)
        if getattr(request.state, "catching_up", False):
            context["behind"] = behind(session, drill_id, utc_now())
        return render(request, template, context)


@router.get("/drills/{drill_id}/live")
async def live_events(
    request: Request, drill_id: int, user: WebUser, since: str | None = None
) -> Response:
    """Server-sent events: the names of what changed in the drill (see ``web.live``)."""
    await visible(request, user, drill_id)
    hub: live.LiveHub = request.app.state.live_hub
    return StreamingResponse(
        live.stream(hub, drill_id, user.id, since, request.is_disconnected),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
