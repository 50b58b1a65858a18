"""SLA policies: targets per priority (and channel for the first response), pauses,
warnings, a keep-the-customer-informed timer and must-escalate rules.

A drill chooses a policy by name in its settings (``{"sla_policy": "default"}``) or carries
one inline (``{"sla_policy": {...}}``); scenario files will define their own.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from deskdrill.core.errors import Invalid

Minutes = float
BreachAction = Literal["notify", "bump_priority", "escalate"]


class PriorityTargets(BaseModel):
    model_config = ConfigDict(extra="forbid")
    first_response: Minutes = Field(gt=0, description="chat, app and phone")
    first_response_email: Minutes = Field(gt=0)
    next_response: Minutes = Field(gt=0)
    resolution: Minutes = Field(gt=0)


class EscalationRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tier: str = "incident_desk"
    within: Minutes = Field(gt=0)


class SlaPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    targets: dict[str, PriorityTargets]
    warning_at: float = Field(default=0.75, gt=0, lt=1, description="share of the target")
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

    def target(self, priority: str, kind: str, channel: str = "chat") -> timedelta:
        targets = self.targets[priority]
        if kind == "first_response" and channel == "email":
            return timedelta(minutes=targets.first_response_email)
        return timedelta(minutes=getattr(targets, kind))


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

POLICIES = {DEFAULT_POLICY.name: DEFAULT_POLICY}


def policy_from_settings(settings: dict[str, Any] | None) -> SlaPolicy:
    chosen = (settings or {}).get("sla_policy", DEFAULT_POLICY.name)
    if isinstance(chosen, dict):
        return SlaPolicy.model_validate(chosen)
    if chosen not in POLICIES:
        raise Invalid(f"no SLA policy named {chosen!r}", field="sla_policy")
    return POLICIES[chosen]
