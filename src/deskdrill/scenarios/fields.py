"""The building blocks of scenario files: durations with units, ids, money, and text in
one or both languages; and how long a bot's action takes."""

from __future__ import annotations

import math
import random
import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

_DURATION = re.compile(r"^(?:(\d{1,4})d)?(?:(\d{1,5})h)?(?:(\d{1,6})m)?(?:(\d{1,7})s)?$")
# The same with any number of digits (leading zeros, or too large a value to tell as such).
_UNBOUNDED = re.compile(r"^(?=\d)(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
MAX_DURATION = timedelta(days=30)
_DURATION_HELP = "a duration with units, such as 45s, 5m, 1h30m or 2d"


def _duration(value: Any) -> Any:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool) or not isinstance(value, str):
        shown = value.isoformat() if isinstance(value, date) else value  # datetime too
        raise ValueError(f"expected {_DURATION_HELP}, got {shown!r}")
    match = _DURATION.match(value.strip()) or _UNBOUNDED.match(value.strip())
    if not value.strip() or match is None:
        raise ValueError(f"expected {_DURATION_HELP}, got {value!r}")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    # In whole seconds first: timedelta itself stops at 999,999,999 days.
    if days * 86400 + hours * 3600 + minutes * 60 + seconds > MAX_DURATION.total_seconds():
        raise ValueError(f"at most {MAX_DURATION.days} days, got {value!r}")
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def format_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


Duration = Annotated[
    timedelta,
    BeforeValidator(_duration),
    PlainSerializer(format_duration, return_type=str),
    # "(?=\\d)": at least one part (the validator refuses an empty duration too).
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^(?=\\d)" + _DURATION.pattern.removeprefix("^"),
            "description": _DURATION_HELP,
        }
    ),
]
Id = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="letters, digits, '-', '_' and '.'",
    ),
]
Money = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", use_enum_values=True)


class Bilingual(Strict):
    """The same text in Simplified Chinese and English."""

    zh: str = Field(min_length=1, max_length=20_000)
    en: str = Field(min_length=1, max_length=20_000)


class Localized(Strict):
    """Text in one or both languages (a persona speaks its own)."""

    zh: str | None = Field(default=None, min_length=1, max_length=20_000)
    en: str | None = Field(default=None, min_length=1, max_length=20_000)

    @model_validator(mode="after")
    def _one_at_least(self) -> Localized:
        if self.zh is None and self.en is None:
            raise ValueError("give the text in zh, en or both")
        return self

    def get(self, language: str) -> str:
        found = self.zh if language == "zh" else self.en
        return found or self.en or self.zh or ""


def _localize(value: Any) -> Any:
    if isinstance(value, str):
        return {"zh": value, "en": value}
    if not isinstance(value, dict | Localized):
        raise ValueError(
            f"expected a text, or one per language ({{zh: ..., en: ...}}), got {value!r}"
        )
    return value


# One string stands for both languages; the schema says so, so that editors accept it.
Text = Annotated[
    Localized,
    BeforeValidator(
        _localize,
        json_schema_input_type=Annotated[str, Field(min_length=1, max_length=20_000)] | Localized,
    ),
]


class ShortLocalized(Localized):
    """A name: as a party's name is stored, at most 128 characters."""

    zh: str | None = Field(default=None, min_length=1, max_length=128)
    en: str | None = Field(default=None, min_length=1, max_length=128)


Name = Annotated[
    ShortLocalized,
    BeforeValidator(
        _localize,
        json_schema_input_type=Annotated[str, Field(min_length=1, max_length=128)] | ShortLocalized,
    ),
]


class Handling(Strict):
    """How long one action takes."""

    dist: Literal["fixed", "exponential", "lognormal"] = "lognormal"
    mean: Duration = Field(
        default=timedelta(seconds=90),
        description="a duration with units, such as 45s, 5m or 1h30m; at least 1s",
    )
    sd: Duration = Field(default=timedelta(seconds=45), description="lognormal only")

    @field_validator("mean")
    @classmethod
    def _at_least_a_second(cls, value: timedelta, info: ValidationInfo) -> timedelta:
        # A draw is 1s at least: a shorter mean would not be the mean the run has. A drill
        # stored before this rule keeps its scenario (read with the context "stored").
        stored = isinstance(info.context, dict) and info.context.get("stored")
        if value < timedelta(seconds=1) and not stored:
            raise ValueError(f"an action takes at least 1s, got {format_duration(value)}")
        return value

    def draw(self, rng: random.Random) -> timedelta:
        """One action's time (at least a second)."""
        mean = self.mean.total_seconds()
        if self.dist == "fixed" or mean <= 0:  # a stored mean of 0s: drawn as 1s
            seconds = mean
        elif self.dist == "exponential":
            seconds = rng.expovariate(1 / mean)
        else:
            sd = max(self.sd.total_seconds(), 1e-6)
            sigma2 = math.log(1 + (sd / mean) ** 2)
            seconds = rng.lognormvariate(math.log(mean) - sigma2 / 2, math.sqrt(sigma2))
        return timedelta(milliseconds=max(1000, int(seconds * 1000)))
