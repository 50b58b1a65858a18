"""The ticket page: conversation, party and order, SLA, trail, and every action a trainee
takes on a ticket, each through the same ticket services (and checks) as the API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from deskdrill.accounts.models import User
from deskdrill.core.clock import utc_now
from deskdrill.core.errors import Invalid, NotFound
from deskdrill.db.engine import unit_of_work
from deskdrill.drills import clock
from deskdrill.drills.models import Drill
from deskdrill.scenarios import macros
from deskdrill.simulation.world import scenario_of
from deskdrill.sla.catch_up import behind
from deskdrill.sla.deadlines import policy_for
from deskdrill.sla.view import timers
from deskdrill.tickets import changes, compensation, queries, schemas, service, workflow
from deskdrill.tickets.enums import CompensationKind, OrderActionKind, ResolutionCode
from deskdrill.tickets.models import Ticket
from deskdrill.web import i18n, live
from deskdrill.web.render import language, render
from deskdrill.web.session import FormUser, WebUser
from deskdrill.web.workspace import caught_up, clock_view, fresh, visible

router = APIRouter(include_in_schema=False)
BASE = "/drills/{drill_id}/tickets/{key}"


def _ticket(session: Session, user: User, drill_id: int, key: str) -> Ticket:
    ticket = service.get_ticket(session=session, key=key, user=user)
    if ticket.drill_id != drill_id:
        raise NotFound(f"no ticket {key} in drill {drill_id}")
    return ticket


def _caps(request: Request, session: Session, ticket: Ticket, user: User) -> dict[str, Any]:
    caps = compensation.caps_for(
        session, ticket.drill_id, request.app.state.settings.compensation_caps
    )
    level = compensation.authority(session, ticket.drill_id, user)
    return dict(caps.get(level, {})) if level else {}


def _view(request: Request, session: Session, user: User, ticket: Ticket) -> dict[str, Any]:
    drill = session.get_one(Drill, ticket.drill_id)
    view = clock_view(session, drill)
    detail = queries.detail(session=session, ticket=ticket, user=user)
    policy = policy_for(session, ticket.drill_id)
    values = {
        "customer": detail.party.name if detail.party else "",
        "agent": user.display_name or user.username,
        "order": detail.order.number if detail.order else "",
        "amount": f"{detail.order.amount_paid}" if detail.order else "",
        "ticket": ticket.key,
    }
    scenario = scenario_of(session, ticket.drill_id)
    articles = []
    if scenario is not None:
        lang = "zh" if language(request) == "zh" else "en"
        articles = [(getattr(a.title, lang), getattr(a.body, lang)) for a in scenario.articles]
    return {
        "drill": drill,
        "clock": view,
        "t": detail.ticket,
        "detail": detail,
        "timers": timers(ticket, policy, view["sim_now"]),
        "macros": macros.filled(scenario, language(request), values),
        "articles": articles,
        "caps": _caps(request, session, ticket, user),
        "mine": ticket.assignee_id == user.id,
        "manager": str(user.role) in ("trainer", "admin"),
        "tiers": ["L1", "L2", "supervisor", "incident_desk"],
        "priorities": ["P1", "P2", "P3", "P4"],
        "codes": [c.value for c in ResolutionCode],
        "kinds": [k.value for k in CompensationKind],
        "order_actions": [k.value for k in OrderActionKind],
        "since": live.since_mark(changes.marks(session)),
        "shown": shown(ticket, view),
    }


@router.get(BASE, response_class=HTMLResponse)
def ticket_page(request: Request, drill_id: int, key: str, user: WebUser) -> Response:
    return fresh(
        request, user, drill_id, lambda: _read(request, user, drill_id, key, "ticket.html")
    )


@router.get(BASE + "/view", response_class=HTMLResponse)
def ticket_view(
    request: Request, drill_id: int, key: str, user: WebUser, seen: str | None = None
) -> Response:
    """The ticket as it is now; 204 (the page keeps what it shows) when it is still the
    version the page has, on the same clock: a page hears of its own actions too."""
    template = "partials/ticket_view.html"
    return fresh(
        request, user, drill_id, lambda: _read(request, user, drill_id, key, template, seen)
    )


def shown(ticket: Ticket, clock: dict[str, Any], behind: datetime | None = None) -> str:
    """What a rendered view shows, as far as a refresh is concerned. A view that says the
    drill is catching up names the moment recorded up to: it is redrawn as that moves on,
    and once the drill has caught up."""
    mark = f"-{behind.timestamp():.0f}" if behind is not None else ""
    return f"{ticket.version}-{clock['state']}-{clock['rate']}{mark}"


def _read(
    request: Request, user: User, drill_id: int, key: str, template: str, seen: str | None = None
) -> Response:
    with unit_of_work(request.app.state.session_factory, read_only=True) as session:
        ticket = _ticket(session, user, drill_id, key)
        catching_up = getattr(request.state, "catching_up", False)
        upto = behind(session, drill_id, utc_now()) if catching_up else None
        if seen is not None:
            clock_now = clock_view(session, session.get_one(Drill, ticket.drill_id))
            if seen == shown(ticket, clock_now, upto):
                return Response(status_code=204)
        context = _view(request, session, user, ticket)
        if upto is not None:
            context["behind"] = upto
            context["shown"] = shown(ticket, context["clock"], upto)
        return render(request, template, context)


# Each action: the service, the input model (None: no input), and how form fields map to
# the model (nested fields are written "complaint.customer_asks"; lists comma-separated).
@dataclass(frozen=True)
class Action:
    operation: Callable[..., Any]
    model: type[BaseModel] | None = None
    lists: tuple[str, ...] = ()


ACTIONS: dict[str, Action] = {
    "claim": Action(service.claim),
    "unassign": Action(service.unassign, schemas.OptionalReasonIn),
    "reply": Action(service.reply, schemas.MessageIn),
    "note": Action(service.note, schemas.MessageIn),
    "priority": Action(service.change_priority, schemas.PriorityIn),
    "pending": Action(workflow.set_pending, schemas.PendingIn),
    "resume": Action(workflow.resume, schemas.OptionalReasonIn),
    "escalate": Action(workflow.escalate, schemas.EscalateIn),
    "third-party": Action(service.contact_third_party, schemas.ThirdPartyContactIn),
    "compensate": Action(compensation.compensate, schemas.CompensateIn),
    "incident-report": Action(workflow.incident_report, schemas.IncidentReportIn),
    "order-action": Action(compensation.order_action, schemas.OrderActionIn, lists=("items",)),
    "resolve": Action(workflow.resolve, schemas.ResolveIn),
    "close": Action(workflow.close),
    "reopen": Action(workflow.reopen, schemas.ReasonIn),
    "tags": Action(workflow.tag, schemas.TagIn, lists=("add", "remove")),
    "reveal": Action(workflow.reveal_contact, schemas.ReasonIn),
}
_NOT_INPUT = {"csrf_token", "version"}


def _input(action: Action, form: dict[str, str]) -> BaseModel | None:
    if action.model is None:
        return None
    raw: dict[str, Any] = {}
    for name, value in form.items():
        if name in _NOT_INPUT or value.strip() == "":
            continue
        if name in action.lists:
            raw[name] = [v.strip() for v in value.replace("，", ",").split(",") if v.strip()]
            continue
        head, _, rest = name.partition(".")
        if rest:
            raw.setdefault(head, {})[rest] = value
        else:
            raw[name] = value
    try:
        return action.model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())) or "form"
        raise Invalid(f"{field}: {first.get('msg', 'invalid')}", field=field) from None


@router.post(BASE + "/do/{name}", response_class=HTMLResponse)
async def act(request: Request, drill_id: int, key: str, name: str, user: FormUser) -> Response:
    action = ACTIONS.get(name)
    if action is None:
        raise NotFound(f"no ticket action {name!r}")
    await visible(request, user, drill_id)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    version = form.get("version", "")
    data = _input(action, form)
    expected = (
        int(version) if version.isascii() and version.isdigit() and len(version) < 10 else None
    )
    await caught_up(request, drill_id)
    return await run_in_threadpool(_do, request, user, drill_id, key, name, action, data, expected)


def _do(
    request: Request,
    user: User,
    drill_id: int,
    key: str,
    name: str,
    action: Action,
    data: BaseModel | None,
    expected: int | None,
) -> Response:
    with unit_of_work(request.app.state.session_factory) as session:
        ticket = _ticket(session, user, drill_id, key)
        at = clock.instant(session, drill_id, utc_now(), acting=True)
        kwargs: dict[str, Any] = {"session": session, "ticket": ticket, "actor": user, "at": at}
        if data is not None:
            kwargs["data"] = data
        if name != "reveal":
            kwargs["expected_version"] = expected
        if name == "compensate":
            kwargs["caps"] = compensation.caps_for(
                session, drill_id, request.app.state.settings.compensation_caps
            )
        result = action.operation(**kwargs)
        session.flush()
        i18n.use(language(request))
        context = _view(request, session, user, ticket)
        context["done"] = _done_message(name, result)
        if not request.headers.get("hx-request"):
            return RedirectResponse(request.url_for("ticket_page", drill_id=drill_id, key=key), 303)
        # The composer empties itself once its message is on the ticket (see workspace.js).
        sent = {"HX-Trigger": "composer-sent"} if name in ("reply", "note") else None
        return render(request, "partials/ticket_view.html", context, headers=sent)


def _done_message(name: str, result: Any) -> str:
    if name == "compensate" and getattr(result, "status", None) == "requested":
        return i18n._(
            "Above your limit: the request for %(amount)s waits for approval by someone "
            "whose limit covers it."
        ) % {"amount": f"{Decimal(result.amount):,.2f}"}
    return i18n._("Done.")
