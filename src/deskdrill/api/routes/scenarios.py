"""Scenario files over HTTP: their JSON Schema, and a check of a file's text."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from deskdrill.api.deps import ManagerUser
from deskdrill.api.errors import ERROR_RESPONSES
from deskdrill.scenarios.load import ScenarioInvalid, parse
from deskdrill.scenarios.schema import json_schema
from deskdrill.scenarios.yamlsafe import Limits

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
async def validate_scenario(request: Request, _user: ManagerUser) -> Any:
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
        scenario = await run_in_threadpool(parse, bytes(raw), name, limits)
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
