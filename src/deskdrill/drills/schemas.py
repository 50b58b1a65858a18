from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from deskdrill.core.clock import MAX_JUMP
from deskdrill.core.errors import Invalid
from deskdrill.sla.policy import DEFAULT_POLICY, POLICIES, SlaPolicy


class CapOverride(BaseModel):
    model_config = ConfigDict(extra="forbid")
    per_action: Decimal = Field(ge=0)
    per_ticket: Decimal = Field(ge=0)


class DrillSettings(BaseModel):
    """Per-drill overrides; ``compensation_caps[level][kind]`` replaces the global cap."""

    model_config = ConfigDict(extra="forbid")
    compensation_caps: dict[str, dict[str, CapOverride]] = Field(default_factory=dict)
    sla_policy: str | SlaPolicy = Field(
        default=DEFAULT_POLICY.name,
        description="the name of a shipped policy, or a whole policy of the drill's own",
    )
    titles: dict[Literal["zh", "en"], Annotated[str, Field(min_length=1, max_length=256)]] = Field(
        default_factory=dict,
        description="the title in each language the pages are read in (default: title)",
    )

    @field_validator("sla_policy")
    @classmethod
    def _known_policy(cls, value: str | SlaPolicy) -> str | SlaPolicy:
        if isinstance(value, str) and value not in POLICIES:
            raise ValueError(f"no SLA policy named {value!r}; shipped: {', '.join(POLICIES)}")
        return value


DrillName = Annotated[str, Field(min_length=2, max_length=128, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
_DRILL_NAME: TypeAdapter[str] = TypeAdapter(DrillName)


def check_name(name: str) -> None:
    """Invalid, with a sentence, unless ``name`` is one a drill can have."""
    try:
        _DRILL_NAME.validate_python(name)
    except ValidationError:
        raise Invalid(
            "the drill's name is 2 to 128 lower-case letters, digits, - and _, starting "
            f"with a letter or digit, got {name!r}",
            field="name",
        ) from None


class DrillCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: DrillName
    title: str = Field(min_length=1, max_length=256)
    description: str = Field(default="", max_length=10000)
    settings: DrillSettings = Field(default_factory=DrillSettings)
    members: list[str] = Field(default_factory=list)


class DrillRead(BaseModel):
    id: int
    name: str
    title: str
    description: str
    settings: dict[str, Any]
    created_at: datetime
    members: list[str]


class ClockRead(BaseModel):
    state: str
    speed: Decimal
    sim_now: datetime
    wall_now: datetime


class ClockStart(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at: AwareDatetime | None = Field(default=None, description="simulated start; default: now")
    speed: Decimal | None = Field(default=None, description="e.g. 1, 10, 60")


class ClockSpeed(BaseModel):
    model_config = ConfigDict(extra="forbid")
    speed: Decimal


class ClockJump(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: int = Field(
        gt=0, le=int(MAX_JUMP.total_seconds()), description="simulated seconds to skip"
    )
