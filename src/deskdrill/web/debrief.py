"""The debrief: a trainee's score with the evidence on the trail, their SLA attainment and
their response times against the targets. Live during the drill, final after it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from deskdrill.accounts.enums import Role
from deskdrill.accounts.models import User
from deskdrill.core.clock import utc_now
from deskdrill.core.errors import NotFound
from deskdrill.db.engine import unit_of_work
from deskdrill.drills import service as drills
from deskdrill.simulation.score import score
from deskdrill.simulation.world import scenario_of
from deskdrill.sla.catch_up import behind, catch_up_within
from deskdrill.sla.personal import personal_sla
from deskdrill.web import charts, i18n
from deskdrill.web.render import language, render
from deskdrill.web.session import WebUser
from deskdrill.web.workspace import PAGE_WAIT, clock_view, visible

router = APIRouter(include_in_schema=False)


@router.get("/drills/{drill_id}/debrief", response_class=HTMLResponse)
async def debrief(
    request: Request, drill_id: int, user: WebUser, who: str | None = None
) -> Response:
    await visible(request, user, drill_id)
    # A page: after a long jump it shows the debrief so far, says so, and asks again.
    factory = request.app.state.session_factory
    done = await run_in_threadpool(
        lambda: catch_up_within(factory, drill_id, utc_now(), PAGE_WAIT, wait=0.0)
    )
    return await run_in_threadpool(_debrief, request, user, drill_id, who, done)


def _debrief(request: Request, user: User, drill_id: int, who: str | None, done: bool) -> Response:
    i18n.use(language(request))
    manager = user.role != Role.trainee
    # A trainee sees their own debrief only; trainers, admins and QA anyone's.
    person = who if manager and who else user.username
    with unit_of_work(request.app.state.session_factory, read_only=True) as session:
        drill = drills.get_drill(session=session, drill_id=drill_id, user=user)
        members = drills.member_names(session=session, drill=drill) if manager else []
        if manager and who and who not in members:
            raise NotFound(f"{who} is not a member of this drill")
        view = clock_view(session, drill)
        scenario = scenario_of(session, drill_id)
        result: dict[str, Any] | None = None
        if scenario is not None:
            only = None if manager and not who else person
            result = score(session, drill_id, scenario).to_json(only=only)
            result["names"] = {i: _name(e) for i, e in enumerate(scenario.expectations)}

        sla = personal_sla(session, drill_id, person, view["sim_now"])
        chart = charts.against_targets(
            i18n._("First response time against the target (simulated seconds)"),
            [(t.key, t.first_response_s, t.first_response_target_s) for t in sla.tickets[:40]],
            unit="s",
            legend=(i18n._("within target"), i18n._("over target"), i18n._("target")),
        )
        return render(
            request,
            "debrief.html",
            {"drill": drill, "clock": view, "person": person, "result": result,
             "sla": sla, "chart": chart, "manager": manager, "members": members,
             "behind": None if done else behind(session, drill_id, utc_now())},
        )  # fmt: skip


def _name(expectation: Any) -> str:
    """An expectation as a reader knows it: its ticket, or its category in their words."""
    if expectation.ticket:
        return str(expectation.ticket)
    return i18n.word(expectation.category) if expectation.category else ""
