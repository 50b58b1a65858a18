"""SLA policies: targets per priority (and channel for the first response), pauses,
warnings, a keep-the-customer-informed timer, must-escalate rules and, optionally, the
business hours the timers run in (24x7 without them).

A drill chooses a policy by name in its settings (``{"sla_policy": "default"}``) or carries
one inline (``{"sla_policy": {...}}``); scenario files will define their own.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator

from deskdrill.core.errors import Invalid
from deskdrill.sla.calendar import MAX_DAYS, REFERENCE, BusinessHours, NoOpenTime
from deskdrill.tickets.enums import Category, Channel, Priority

# A target in minutes: positive and finite, at most a year.
_SPAN = re.compile(r"^(?=\d)(?:(\d{1,4})d)?(?:(\d{1,6})h)?(?:(\d{1,7})m)?(?:(\d{1,9})s)?$")


def _minutes(value: Any) -> Any:
    """A number of minutes, or the same as a duration with units (``90s``, ``1h30m``), as
    every other time in a scenario file is written."""
    if not isinstance(value, str):
        return value
    found = _SPAN.match(value.strip())
    if found is None:
        try:
            return float(value)
        except ValueError:
            raise ValueError(
                "expected minutes (such as 30) or a duration with units (such as 45s, 5m or "
                f"1h30m), got {value!r}"
            ) from None
    days, hours, minutes, seconds = (int(g or 0) for g in found.groups())
    return days * 1440 + hours * 60 + minutes + seconds / 60


Minutes = Annotated[
    float,
    Field(gt=0, le=525_600, allow_inf_nan=False),
    BeforeValidator(_minutes),
    WithJsonSchema(
        mode="validation",  # what a file may hold; the API gives numbers back
        json_schema={
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0, "maximum": 525_600},
                {"type": "string", "pattern": _SPAN.pattern},
            ],
            "description": "minutes (30), or a duration with units (45s, 5m, 1h30m)",
        },
    ),
]
BreachAction = Literal["notify", "bump_priority", "escalate"]
PRIORITIES = tuple(Priority)


class PriorityTargets(BaseModel):
    model_config = ConfigDict(extra="forbid")
    first_response: Minutes = Field(gt=0, description="chat, app and phone")
    first_response_email: Minutes = Field(gt=0)
    next_response: Minutes = Field(gt=0)
    resolution: Minutes = Field(gt=0)


class TargetOverrides(BaseModel):
    """Targets of one priority for a channel or a category; those left out are inherited."""

    model_config = ConfigDict(extra="forbid")
    first_response: Minutes | None = Field(default=None, gt=0)
    next_response: Minutes | None = Field(default=None, gt=0)
    resolution: Minutes | None = Field(default=None, gt=0)


class EscalationRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tier: str = "incident_desk"
    within: Minutes = Field(gt=0)

    @cached_property
    def target(self) -> timedelta:
        return timedelta(minutes=self.within)


class SlaPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    targets: dict[str, PriorityTargets]
    warning_at: float = Field(
        default=0.75, gt=0, lt=1, allow_inf_nan=False, description="share of the target"
    )
    pause_on: list[str] = Field(default_factory=lambda: ["pending_customer"])
    keep_informed_every: Minutes | None = Field(
        default=None, gt=0, description="while waiting on a third party, update the customer"
    )
    escalate: dict[str, EscalationRule] = Field(default_factory=dict)
    on_breach: dict[str, list[BreachAction]] = Field(
        default_factory=dict,
        description="per timer: notify (the assignee, or the trainers when unassigned), "
        "bump_priority (one step up, to P1 at most), escalate (to the next tier, or to "
        "the tier of the category's escalation rule)",
    )

    by_channel: dict[Channel, dict[str, TargetOverrides]] = Field(
        default_factory=dict,
        description="per channel, per priority: targets that differ from the base ones",
    )
    business_hours: BusinessHours | None = Field(
        default=None,
        description="when the timers run (time zone, open weekdays, opening and closing "
        "time, holidays); none: around the clock",
    )
    by_category: dict[Category, dict[str, TargetOverrides]] = Field(
        default_factory=dict,
        description="per category, per priority: targets that differ from the base and "
        "channel ones (the category wins)",
    )

    @model_validator(mode="after")
    def _known_priorities(self) -> SlaPolicy:
        missing = sorted(set(PRIORITIES) - set(self.targets))
        if missing:
            raise ValueError(f"targets are missing for {', '.join(missing)}")
        for where, table in (("by_channel", self.by_channel), ("by_category", self.by_category)):
            for key, per_priority in table.items():
                unknown = sorted(set(per_priority) - set(PRIORITIES))
                if unknown:
                    raise ValueError(f"{where}.{key}: unknown priority {', '.join(unknown)}")
        if self.business_hours is not None:
            self._reachable(self.business_hours)
        return self

    def _reachable(self, hours: BusinessHours) -> None:
        """Every target fits in the calendar's open time (within ``MAX_DAYS``), so no
        deadline can ever fail to exist once the policy is accepted."""
        longest = max(
            [v for t in self.targets.values() for v in t.model_dump().values()]
            + [v for table in (self.by_channel, self.by_category) for per in table.values()
               for o in per.values() for v in o.model_dump().values() if v is not None]
            + [r.within for r in self.escalate.values()]
            + [self.keep_informed_every or 0]
        )  # fmt: skip
        for start in (REFERENCE, REFERENCE.replace(year=REFERENCE.year + 1)):
            try:
                hours.add(start, timedelta(minutes=longest))
            except NoOpenTime:
                raise ValueError(
                    f"business_hours: a target of {longest:g} minutes needs more open time "
                    f"than the calendar has in {MAX_DAYS} days; open more days or hours, or "
                    "shorten the targets"
                ) from None

    def add(self, start: datetime, amount: timedelta) -> datetime:
        """The moment ``amount`` of SLA time after ``start`` (open time, with a calendar)."""
        hours = self.business_hours
        return start + amount if hours is None else hours.add(start, amount)

    def subtract(self, end: datetime, amount: timedelta) -> datetime:
        hours = self.business_hours
        return end - amount if hours is None else hours.subtract(end, amount)

    def between(self, start: datetime, end: datetime) -> timedelta:
        """SLA time from ``start`` to ``end`` (negative when ``end`` comes first)."""
        hours = self.business_hours
        return end - start if hours is None else hours.between(start, end)

    @cached_property
    def keep_informed(self) -> timedelta:
        return timedelta(minutes=self.keep_informed_every or 0)

    @cached_property
    def _lookup(self) -> dict[tuple[str, str, str, str], timedelta]:
        return {}

    def target(
        self, priority: str, kind: str, channel: str = "chat", category: str = ""
    ) -> timedelta:
        """The target for one timer; memoised, since the engine asks thousands of times."""
        key = (priority, kind, channel, category)
        found = self._lookup.get(key)
        if found is None:
            found = self._lookup[key] = timedelta(minutes=self._minutes(*key))
        return found

    def _minutes(self, priority: str, kind: str, channel: str, category: str) -> float:
        for table, key in ((self.by_category, category), (self.by_channel, channel)):
            override = table.get(key, {}).get(priority)
            if override is not None and getattr(override, kind) is not None:
                return float(getattr(override, kind))
        targets = self.targets[priority]
        if kind == "first_response" and channel == "email":
            return targets.first_response_email
        return float(getattr(targets, kind))


def _p(first: Minutes, email: Minutes, following: Minutes, resolve: Minutes) -> PriorityTargets:
    return PriorityTargets(
        first_response=first,
        first_response_email=email,
        next_response=following,
        resolution=resolve,
    )


DEFAULT_POLICY = SlaPolicy(
    name="default",
    targets={
        "P1": _p(1, 15, 2, 60),
        "P2": _p(1, 60, 5, 4 * 60),
        "P3": _p(3, 4 * 60, 15, 24 * 60),
        "P4": _p(10, 8 * 60, 60, 72 * 60),
    },
    keep_informed_every=30,
    escalate={"safety_incident": EscalationRule(tier="incident_desk", within=5)},
    on_breach={
        "first_response": ["notify"],
        "next_response": ["notify"],
        "keep_informed": ["notify"],
        "resolution": ["notify", "bump_priority"],
        "escalation": ["notify", "escalate"],
    },
)

# The default targets, counted only while a desk in China is open: Monday to Friday,
# 09:00 to 18:00 Beijing time.
OFFICE_HOURS_POLICY = DEFAULT_POLICY.model_copy(
    update={
        "name": "office-hours-cn",
        "business_hours": BusinessHours(timezone="Asia/Shanghai"),
    }
)

POLICIES = {p.name: p for p in (DEFAULT_POLICY, OFFICE_HOURS_POLICY)}


# Inline policies parsed before, by their canonical JSON: a scenario drill's policy is
# read before every change of every ticket, and validating it each time cost more than
# the change itself. Policies are never mutated, so one instance can serve every caller.
_PARSED: dict[str, SlaPolicy] = {}
_PARSED_MAX = 256


def policy_from_settings(settings: dict[str, Any] | None) -> SlaPolicy:
    chosen = (settings or {}).get("sla_policy", DEFAULT_POLICY.name)
    if isinstance(chosen, dict):
        key = json.dumps(chosen, sort_keys=True, default=str)
        found = _PARSED.get(key)
        if found is None:
            found = SlaPolicy.model_validate(chosen)
            if len(_PARSED) >= _PARSED_MAX:
                _PARSED.clear()
            _PARSED[key] = found
        return found
    if chosen not in POLICIES:
        raise Invalid(f"no SLA policy named {chosen!r}", field="sla_policy")
    return POLICIES[chosen]
