"""Scenario files over HTTP: their JSON Schema, and a check of a file's text."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from deskdrill.accounts.enums import Tier
from deskdrill.api.deps import CurrentUser, ManagerCaller, ManagerUser, Now, SessionDep
from deskdrill.api.errors import ERROR_RESPONSES
from deskdrill.core.clock import iso_ms
from deskdrill.core.errors import Invalid
from deskdrill.scenarios import library
from deskdrill.scenarios.load import ScenarioInvalid, parse_in_turn
from deskdrill.scenarios.model import SEED_MAX, Scenario
from deskdrill.scenarios.schema import json_schema
from deskdrill.scenarios.yamlsafe import Limits
from deskdrill.simulation import setup

router = APIRouter(prefix="/scenarios", tags=["scenarios"], responses=ERROR_RESPONSES)


@router.get("/schema")
def scenario_schema() -> dict[str, Any]:
    """The JSON Schema of scenario files, for editors' completion and checks."""
    return json_schema()


class Checked(BaseModel):
    valid: bool
    id: str | None = None
    title: dict[str, str] | None = None
    timeline: int = 0
    generators: int = 0
    expectations: int = 0
    problems: list[dict[str, Any]] = []


@router.post(
    "/validate",
    response_model=Checked,
    responses={422: {"model": Checked, "description": "the problems found"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/yaml": {"schema": {"type": "string"}}},
        }
    },
)
async def validate_scenario(request: Request, _user: ManagerCaller) -> Any:
    """Check a scenario file sent as the request body (YAML, UTF-8): every problem with its
    line, column and field. Trainers and admins only."""
    limits = Limits()
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limits.max_bytes:
            break  # parse() reports the size; the rest is not read
    name = request.headers.get("x-filename", "scenario.yaml")[:200]
    try:
        scenario = await run_in_threadpool(parse_in_turn, bytes(raw), name, limits)
    except ScenarioInvalid as invalid:
        body = Checked(valid=False, problems=[p.to_json() for p in invalid.problems])
        return JSONResponse(body.model_dump(), status_code=422)
    return Checked(
        valid=True,
        id=scenario.id,
        title=scenario.title.model_dump(),
        timeline=len(scenario.timeline),
        generators=len(scenario.generators),
        expectations=len(scenario.expectations),
    )


class ScenarioSummary(BaseModel):
    id: str
    title: dict[str, str]
    description: dict[str, str]
    difficulty: str
    tags: list[str]
    duration_minutes: int
    timeline: int
    generators: int


@router.get("", response_model=list[ScenarioSummary])
def list_scenarios(_user: CurrentUser) -> list[ScenarioSummary]:
    """The scenarios that ship with deskdrill."""
    return [_summary(scenario) for scenario in library.listed()]


def _summary(s: Scenario) -> ScenarioSummary:
    return ScenarioSummary(
        id=s.id,
        title=s.title.model_dump(),
        description=s.description.model_dump(),
        difficulty=s.difficulty,
        tags=s.tags,
        duration_minutes=int(s.duration.total_seconds() // 60),
        timeline=len(s.timeline),
        generators=len(s.generators),
    )


class SeatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str
    tier: Tier | None = Field(default=None, description="default: the person's own tier")


class ScenarioDrillCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=2, max_length=128, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    scenario: str | None = Field(default=None, description="the id of a shipped scenario")
    yaml: str | None = Field(
        default=None, max_length=Limits().max_bytes, description="or a scenario file's text"
    )
    trainees: list[SeatIn] = Field(default_factory=list, max_length=500)
    seed: int | None = Field(default=None, ge=0, le=SEED_MAX)


class ScenarioDrill(BaseModel):
    drill: int
    name: str
    scenario: str
    scheduled: int
    starts_at: str
    speed: float


@router.post("/drills", status_code=201, response_model=ScenarioDrill)
def create_drill(
    data: ScenarioDrillCreate, user: ManagerUser, session: SessionDep, at: Now
) -> ScenarioDrill:
    """A drill from a shipped scenario or from a file's text, in draft: its clock is set
    to the scenario's start and speed; start it with POST /drills/{id}/clock/start."""
    if (data.scenario is None) == (data.yaml is None):
        raise Invalid("give either a shipped scenario's id or a file's text", field="scenario")
    if data.yaml is not None:
        raw = data.yaml.encode()
        try:
            scenario = parse_in_turn(raw, "request", Limits())
        except ScenarioInvalid as invalid:
            problems = invalid.problems
            raise Invalid(
                f"the scenario is invalid: {problems[0]}",
                field="yaml",
                problems=[p.to_json() for p in problems],
            ) from None
    else:
        path, scenario = library.find(data.scenario or "")
        raw = path.read_bytes()
    drill = setup.create(
        session=session,
        scenario=scenario,
        digest=setup.source_digest(raw),
        name=data.name,
        roster=[setup.Seat(s.username, s.tier) for s in data.trainees],
        creator=user,
        now=at.wall,
        seed=data.seed,
    )
    return ScenarioDrill(
        drill=drill.id,
        name=drill.name,
        scenario=scenario.id,
        scheduled=setup.scheduled_count(session, drill.id),
        starts_at=iso_ms(scenario.start),
        speed=scenario.speed,
    )
