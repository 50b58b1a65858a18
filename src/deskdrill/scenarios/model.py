"""The scenario language: what a trainer writes in a scenario file, as pydantic models.

Times inside a scenario are durations from its start (``at: 12m``) written with units:
``45s``, ``5m``, ``1h30m``, ``2d``. Text a person reads is either one string or both
languages (``{zh: ..., en: ...}``); titles and descriptions need both. Unknown keys are
errors everywhere. Cross-references (a ticket's persona and order, a reply's macro...)
are checked by ``scenarios.references`` once the shapes are right.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import (
    AwareDatetime,
    Field,
    field_validator,
    model_validator,
)

from deskdrill.accounts.enums import Tier
from deskdrill.customers.enums import OrderKind, OrderStatus
from deskdrill.customers.schemas import OrderItem
from deskdrill.scenarios.fields import (
    Bilingual,
    Duration,
    Handling,
    Id,
    Localized,
    Money,
    Name,
    Strict,
    Text,
)
from deskdrill.settings import Cap
from deskdrill.sla.policy import POLICIES, SlaPolicy
from deskdrill.tickets.enums import (
    Category,
    Channel,
    CompensationKind,
    OrderActionKind,
    Priority,
    ResolutionCode,
    Severity,
)

FORMAT = 1


# --- catalogue -------------------------------------------------------------------------


class Persona(Strict):
    """A simulated customer: how they write, and how long they wait before chasing."""

    id: Id
    name: Name
    kind: Literal["consumer", "passenger"] = "consumer"
    language: Literal["zh", "en"] = "zh"
    tone: Literal["polite", "neutral", "curt", "angry"] = "neutral"
    patience: Duration = Field(
        default=timedelta(minutes=10), description="unanswered this long, they chase"
    )

    give_up_after: int = Field(
        default=3, ge=1, le=20, description="chases before they abandon the ticket"
    )
    reply_after: Duration = Field(
        default=timedelta(minutes=1), description="how long they take to answer an agent"
    )
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9 -]{5,31}$")
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$")
    tier: str = Field(default="regular", max_length=32)


class ThirdParty(Strict):
    """A merchant, courier or driver who answers 'contact third party' after a delay."""

    id: Id
    kind: Literal["merchant", "courier", "driver"]
    name: Name
    reply_after: Duration = Field(default=timedelta(minutes=5))
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9 -]{5,31}$")


class Order(Strict):
    id: Id = Field(description="the order number shown to agents")
    kind: OrderKind
    customer: Id = Field(description="a persona id")
    merchant: Id | None = None
    courier: Id | None = None
    driver: Id | None = None
    items: list[OrderItem] = Field(default_factory=list, max_length=200)
    amount: Money = Field(description="amount paid")
    currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$")
    status: OrderStatus = OrderStatus.paid
    tracking: str | None = Field(default=None, max_length=128)
    address: str | None = Field(default=None, max_length=512)
    paid: Duration | None = Field(default=None, description="before the scenario start")
    shipped: Duration | None = Field(default=None, description="before the scenario start")
    delivered: Duration | None = Field(default=None, description="before the scenario start")
    route: tuple[str, str] | None = Field(default=None, description="a ride: from, to")

    @model_validator(mode="after")
    def _kind_fields(self) -> Order:
        if self.kind == OrderKind.ride and self.driver is None:
            raise ValueError("a ride needs a driver")
        if self.kind != OrderKind.ride and not self.items:
            raise ValueError("a goods or food order needs at least one item")
        if self.items:
            total = sum((i.price * i.quantity for i in self.items), Decimal(0))
            if self.amount > total:
                raise ValueError(f"amount {self.amount} is more than the items' total {total}")
        return self


class Article(Strict):
    """A knowledge-base article or written policy agents can search."""

    id: Id
    title: Bilingual
    body: Bilingual
    tags: list[str] = Field(default_factory=list, max_length=50)


class Macro(Strict):
    """A standard reply. Placeholders in braces are filled from the ticket:
    {customer}, {agent}, {order}, {amount}, {ticket}."""

    id: Id
    kind: Literal["greeting", "solution", "transfer", "closing", "other"]
    title: Bilingual
    text: Bilingual

    @field_validator("text")
    @classmethod
    def _known_placeholders(cls, value: Bilingual) -> Bilingual:
        for language in ("zh", "en"):
            for name in re.findall(r"\{([^{}]*)\}", getattr(value, language)):
                if name not in PLACEHOLDERS:
                    raise ValueError(
                        f"unknown placeholder {{{name}}} in {language}; known: "
                        + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
                    )
        return value


PLACEHOLDERS = ("customer", "agent", "order", "amount", "ticket")


class Rules(Strict):
    """Company policies as checkable rules (used by bots and by the drill score)."""

    return_window_days: int = Field(
        default=7, ge=0, le=365, description="no-reason returns, counted from delivery"
    )
    counterfeit_multiple: int = Field(
        default=10, ge=1, le=100, description="compensation: this many times the item price"
    )
    weather_delay_coupon: Money = Field(
        default=Decimal(20), description="coupon on top of the refund after a weather delay"
    )


# --- what happens ----------------------------------------------------------------------


class Fact(Strict):
    """Something true about the case that agents only learn by asking a third party."""

    text: Text
    revealed_by: Id = Field(description="the third party (id) who tells it when contacted")


class Entitlement(Strict):
    """What the customer is entitled to: the outcome the score checks."""

    refund: Money | Literal["full"] | None = None
    coupon: Money | None = None
    counterfeit_compensation: bool = False
    order_action: OrderActionKind | None = None
    resolution: list[ResolutionCode] = Field(default_factory=list)


class Expectation(Strict):
    """What a good handling of a ticket (or of every ticket in a category) does.

    Judged on the final ticket, order and compensation records and on the trail, never on
    words: only greeting/closing macros and forbidden phrases look at what was written.
    """

    ticket: Id | None = Field(default=None, description="a timeline ticket id")
    category: Category | None = None
    points: int = Field(default=10, ge=1, le=1000)
    escalate_to: Tier | None = None
    escalate_within: Duration | None = None
    entitled: Entitlement | None = None
    max_refund: Money | None = None
    required_actions: list[
        Literal["contact_third_party", "reply", "escalate", "incident_report", "order_action"]
    ] = Field(default_factory=list)
    greeting: bool = Field(default=False, description="a greeting macro opens the first reply")
    closing: bool = Field(default=False, description="a closing macro ends the last reply")
    forbidden_phrases: list[Text] = Field(default_factory=list, max_length=100)
    resolve_within: Duration | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Expectation:
        if (self.ticket is None) == (self.category is None):
            raise ValueError("an expectation applies to either a ticket or a category")
        if (self.escalate_within is None) != (self.escalate_to is None):
            raise ValueError("escalate_to and escalate_within go together")
        return self


class Reply(Strict):
    """A customer reply to an agent message, chosen by the first rule that matches."""

    when_keywords: list[str] = Field(default_factory=list, max_length=50)
    when_action: (
        Literal["refund", "coupon", "compensation", "escalate", "order_action", "none"] | None
    ) = None
    say: Text
    mood: int = Field(default=0, ge=-3, le=3, description="change in mood (-3 to +3)")


class Injection(Strict):
    """A ticket that arrives at a given moment of the scenario."""

    id: Id
    at: Duration
    channel: Channel = Channel.chat
    category: Category
    persona: Id
    order: Id | None = None
    subject: Text
    message: Text
    priority: Priority = Priority.P3
    severity: Severity | None = None
    facts: list[Fact] = Field(default_factory=list, max_length=20)
    replies: list[Reply] = Field(default_factory=list, max_length=50)
    wrong_answer_reopens: bool = Field(
        default=True, description="closed without what the customer is entitled to: reopen"
    )


class ProfileWindow(Strict):
    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM, sim time")
    end: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")
    factor: float = Field(gt=0, le=100, allow_inf_nan=False)


class Template(Strict):
    """One kind of generated ticket; ``weight`` is its share of the mix."""

    category: Category
    weight: float = Field(default=1, gt=0, le=1_000_000, allow_inf_nan=False)
    channel: Channel = Channel.chat
    priority: Priority = Priority.P3
    subject: Text
    message: Text
    personas: list[Id] = Field(default_factory=list, description="empty: any persona")
    orders: list[Id] = Field(default_factory=list, description="empty: a fresh order")
    order_kind: OrderKind = OrderKind.goods
    amount: tuple[Money, Money] = (Decimal(20), Decimal(200))
    facts: list[Fact] = Field(default_factory=list, max_length=20)


class Generator(Strict):
    """Poisson arrivals: ``per_hour`` on average, times the profile factor of the hour."""

    id: str = Field(
        min_length=1,
        max_length=32,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="short: generated order numbers start with it",
    )
    start: Duration = timedelta(0)
    end: Duration | None = Field(default=None, description="default: the scenario's end")
    per_hour: float = Field(gt=0, le=10_000, allow_inf_nan=False)
    profile: list[ProfileWindow] = Field(default_factory=list, max_length=48)
    templates: list[Template] = Field(min_length=1, max_length=200)


class Reactions(Strict):
    """How simulated customers behave when no ticket says otherwise."""

    chase: Text = Field(
        default_factory=lambda: Localized(zh="请问有人在处理吗？", en="Is anyone looking at this?")
    )
    chase_angry: Text = Field(
        default_factory=lambda: Localized(
            zh="已经等了很久了，再不处理我要投诉！",
            en="I have been waiting far too long. I will file a complaint.",
        )
    )
    abandon: Text = Field(
        default_factory=lambda: Localized(zh="算了，不等了。", en="Forget it, I give up.")
    )
    reopen: Text = Field(
        default_factory=lambda: Localized(
            zh="问题没有解决，请重新处理。", en="This is not solved. Please look again."
        )
    )


class Incident(Strict):
    """A major event: tickets of this category (or this ticket) must reach ``tier`` within
    ``within`` and cannot be closed without an incident report."""

    ticket: Id | None = None
    category: Category | None = None
    severity: Severity = Severity.sev1
    tier: Tier = Tier.incident_desk
    within: Duration = timedelta(minutes=5)
    report_required: bool = True

    @model_validator(mode="after")
    def _one_target(self) -> Incident:
        if (self.ticket is None) == (self.category is None):
            raise ValueError("an incident rule applies to either a ticket or a category")
        return self


SEED_MAX = 2**63 - 1  # what SQLite and PostgreSQL store in a BIGINT
_AGENT = r"(bot|careful|sloppy)(:\d+)?(@[A-Za-z0-9_]+)?"
AGENTS = rf"^\s*{_AGENT}(\s*,\s*{_AGENT})*\s*$"
MAX_AGENTS = 1000  # bots in one group


def agent_groups(text: str) -> list[tuple[Literal["careful", "sloppy"], int, Tier]]:
    """``careful:8,sloppy:2,careful:1@L2`` (``bot`` means careful; one bot at L1 unless
    said) as (kind, count, tier); anything else is a ValueError in a trainer's words,
    so that a scenario's ``headless.agents`` is refused when it is validated, not when
    it is run."""
    if not text.strip():
        raise ValueError("name at least one agent, e.g. careful:4")
    groups: list[tuple[Literal["careful", "sloppy"], int, Tier]] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            raise ValueError(f"{text.strip()!r}: an empty entry between commas")
        spec, at, tier = part.partition("@")
        kind, colon, count = spec.partition(":")
        kind = "careful" if kind == "bot" else kind
        if kind not in ("careful", "sloppy"):
            raise ValueError(f"{part!r}: agents are careful (or bot) and sloppy")
        if colon and (not count.isdigit() or not 1 <= int(count) <= MAX_AGENTS):
            raise ValueError(f"{part!r}: the count must be a whole number from 1 to {MAX_AGENTS}")
        try:
            level = Tier(tier) if at else Tier.L1
        except ValueError:
            tiers = ", ".join(t.value for t in Tier)
            raise ValueError(f"{part!r}: unknown tier {tier!r} (tiers: {tiers})") from None
        groups.append((kind, int(count) if colon else 1, level))  # type: ignore[arg-type]
    return groups


class Headless(Strict):
    """Defaults for headless runs of this scenario (``--agents`` and ``--plan`` override
    them): who works it, and how long an action takes."""

    agents: str = Field(
        default="careful:4",
        description="e.g. careful:8,sloppy:2",
        json_schema_extra={"pattern": AGENTS},  # for editors; references.check says what is wrong
    )
    handling: Handling = Field(default_factory=Handling)


class Team(Strict):
    assignment: Literal["pull", "round_robin", "least_loaded", "skill_based"] = "pull"
    max_concurrent: int = Field(default=5, ge=1, le=100, description="tickets per person")
    skills: dict[str, list[Category]] = Field(
        default_factory=dict, description="skill-based: a person's skills by username"
    )


class Scenario(Strict):
    format: Literal[1] = Field(default=FORMAT, description="the scenario format version")
    id: Id
    title: Bilingual
    description: Bilingual
    duration: Duration
    start: AwareDatetime = Field(description="the simulated moment the scenario starts")
    speed: float = Field(
        default=1, ge=0.1, le=600, allow_inf_nan=False, description="default clock speed"
    )
    seed: int = Field(default=0, ge=0, le=SEED_MAX)
    tags: list[str] = Field(default_factory=list, max_length=50)
    difficulty: Literal["intro", "easy", "medium", "hard", "expert"] = "medium"
    sla_policy: str | SlaPolicy = Field(
        default="default", description="a shipped policy's name, or a policy of its own"
    )
    team: Team = Field(default_factory=Team)
    limits: dict[str, dict[CompensationKind, Cap]] = Field(
        default_factory=dict, description="per level (L1, L2, supervisor...): caps that differ"
    )
    personas: list[Persona] = Field(min_length=1, max_length=10_000)
    third_parties: list[ThirdParty] = Field(default_factory=list, max_length=10_000)
    orders: list[Order] = Field(default_factory=list, max_length=100_000)
    articles: list[Article] = Field(default_factory=list, max_length=1000)
    macros: list[Macro] = Field(default_factory=list, max_length=1000)
    rules: Rules = Field(default_factory=Rules)
    timeline: list[Injection] = Field(default_factory=list, max_length=100_000)
    generators: list[Generator] = Field(default_factory=list, max_length=50)
    reactions: Reactions = Field(default_factory=Reactions)
    incidents: list[Incident] = Field(default_factory=list, max_length=1000)
    expectations: list[Expectation] = Field(default_factory=list, max_length=10_000)
    headless: Headless = Field(default_factory=Headless)

    @field_validator("sla_policy")
    @classmethod
    def _known_policy(cls, value: str | SlaPolicy) -> str | SlaPolicy:
        if isinstance(value, str) and value not in POLICIES:
            raise ValueError(f"no SLA policy named {value!r}; shipped: {', '.join(POLICIES)}")
        return value

    @field_validator("limits")
    @classmethod
    def _known_levels(cls, value: dict[str, Any]) -> dict[str, Any]:
        levels = [str(t) for t in Tier]
        unknown = [repr(name) for name in value if name not in levels]
        if unknown:
            said = "level" if len(unknown) == 1 else "levels"
            raise ValueError(f"unknown {said} {', '.join(unknown)}; levels: {', '.join(levels)}")
        return value

    @model_validator(mode="after")
    def _something_happens(self) -> Scenario:
        if not self.timeline and not self.generators:
            raise ValueError("a scenario needs a timeline, generators, or both")
        return self
