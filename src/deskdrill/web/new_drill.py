"""A trainer starts a drill from a scenario in the browser: a shipped scenario or the
trainer's own file (uploaded or pasted), and a roster of trainees, each at a tier. A file
with problems is shown again with each problem's line, column and field, and nothing is
created; a drill that is created opens on its desk, its clock set to the scenario's start
and waiting for the trainer to start it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from deskdrill.accounts import service as accounts
from deskdrill.accounts.enums import Role, Tier
from deskdrill.accounts.models import User
from deskdrill.core.clock import utc_now
from deskdrill.core.errors import DomainError, Forbidden, Invalid
from deskdrill.db.engine import unit_of_work
from deskdrill.drills.schemas import check_name
from deskdrill.scenarios import library
from deskdrill.scenarios.load import Problem, ScenarioInvalid, parse_in_turn
from deskdrill.scenarios.model import SEED_MAX, Scenario
from deskdrill.scenarios.yamlsafe import Limits
from deskdrill.simulation import setup
from deskdrill.web.render import render
from deskdrill.web.session import FormUser, WebUser

router = APIRouter(include_in_schema=False)
PATH = "/drills/new"
TEMPLATE = "new_drill.html"


@dataclass
class Filled:
    """What the form holds: shown again, as given, when something in it is wrong."""

    name: str = ""
    source: str = "shipped"  # or "own"
    scenario: str = ""
    text: str = ""
    raw: bytes | None = None  # an uploaded file's bytes, read as they are
    seed: str = ""
    check_only: bool = False
    seats: dict[str, str] = field(default_factory=dict)  # username: tier ("" = their own)
    problems: list[Problem] = field(default_factory=list)
    error: str = ""
    error_field: str = ""
    checked: Scenario | None = None  # a file checked and found right


def _manager(user: User) -> None:
    if user.role not in (Role.trainer, Role.admin):
        raise Forbidden("only trainers and admins start drills")


@router.get(PATH, response_class=HTMLResponse)
def new_drill_form(request: Request, user: WebUser) -> Response:
    _manager(user)
    return _page(request, Filled())


@router.post(PATH, response_class=HTMLResponse)
async def create_drill(request: Request, user: FormUser) -> Response:
    _manager(user)
    limits = Limits()
    filled = await _filled(await request.form(), limits)
    return await run_in_threadpool(_create, request, user, filled, limits)


async def _filled(form: FormData, limits: Limits) -> Filled:
    def text(name: str, *, strip: bool = True) -> str:
        value = form.get(name)  # a file where text was expected counts as none
        if not isinstance(value, str):
            return ""
        return value.strip() if strip else value

    filled = Filled(
        name=text("name"),
        source="own" if text("source") == "own" else "shipped",
        scenario=text("scenario"),
        text=text("yaml", strip=False),
        seed=text("seed"),
        check_only=text("action") == "check",
    )
    upload = form.get("file")
    if filled.source == "own" and isinstance(upload, UploadFile) and upload.filename:
        # One byte past the limit is enough for the size check to say so. The bytes are
        # checked as they are (a file that is not UTF-8 is told so); the text box shows
        # what could be read of them.
        filled.raw = await upload.read(limits.max_bytes + 1)
        filled.text = filled.raw.decode("utf-8", errors="replace")
    for username in form.getlist("trainee"):
        if isinstance(username, str) and username:
            tier = form.get(f"tier:{username}")
            filled.seats[username] = tier if isinstance(tier, str) else ""
    return filled


def _create(request: Request, user: User, filled: Filled, limits: Limits) -> Response:
    try:
        if filled.check_only:  # the file alone: nothing is made
            filled.checked = _scenario(filled, limits)[0]
            return _page(request, filled)
        check_name(filled.name)
        seed = _seed(filled.seed)
        scenario, raw = _scenario(filled, limits)
        roster = _roster(filled.seats)
        with unit_of_work(request.app.state.session_factory) as session:
            drill = setup.create(
                session=session,
                scenario=scenario,
                digest=setup.source_digest(raw),
                name=filled.name,
                roster=roster,
                creator=session.get_one(User, user.id),
                now=utc_now(),
                seed=seed,
            )
            drill_id = drill.id
    except IntegrityError:  # another drill of that name made at the same moment
        filled.error = f"a drill named {filled.name!r} already exists"
        filled.error_field = "name"
        return _page(request, filled, status=409)
    except ScenarioInvalid as invalid:
        filled.problems = invalid.problems
        return _page(request, filled, status=422)
    except DomainError as refused:
        filled.error, filled.error_field = refused.message, str(refused.extra.get("field") or "")
        return _page(request, filled, status=refused.status)
    return RedirectResponse(f"/drills/{drill_id}", status_code=303)


def _roster(seats: dict[str, str]) -> list[setup.Seat]:
    tiers = {t.value: t for t in Tier}
    if any(tier and tier not in tiers for tier in seats.values()):
        raise Invalid("choose a tier from the list", field="trainees")
    return [setup.Seat(name, tiers[tier] if tier else None) for name, tier in seats.items()]


def _seed(given: str) -> int | None:
    if not given:
        return None
    if not (given.isascii() and given.isdigit()) or int(given) > SEED_MAX:
        raise Invalid(f"the seed is a whole number from 0 to {SEED_MAX}", field="seed")
    return int(given)


def _scenario(filled: Filled, limits: Limits) -> tuple[Scenario, bytes]:
    if filled.source == "own":
        raw = filled.raw if filled.raw is not None else filled.text.encode()
        if not raw.strip():
            raise Invalid("upload a scenario file or paste its text", field="yaml")
        return parse_in_turn(raw, "your file", limits), raw
    if not filled.scenario:
        raise Invalid("choose a scenario", field="scenario")
    path, scenario = library.find(filled.scenario)
    return scenario, path.read_bytes()


def _page(request: Request, filled: Filled, *, status: int = 200) -> Response:
    with unit_of_work(request.app.state.session_factory, read_only=True) as session:
        trainees = [
            u
            for u in accounts.list_users(session=session)
            if u.role == Role.trainee and u.active and not setup.is_bot(u)
        ]
        people = [(u.username, u.display_name, str(u.tier)) for u in trainees]
    context: dict[str, Any] = {
        "filled": filled,
        "scenarios": library.listed(),
        "people": people,
        "tiers": [t.value for t in Tier],
        "max_kib": Limits().max_bytes // 1024,
    }
    return render(request, TEMPLATE, context, status=status)
