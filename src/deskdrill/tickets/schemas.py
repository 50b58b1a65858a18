"""Request and response shapes for tickets, named for their use."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from deskdrill.accounts.enums import Tier
from deskdrill.customers.schemas import OrderRead, PartyCreate, PartyRead
from deskdrill.tickets.enums import (
    Category,
    Channel,
    CompensationKind,
    OrderActionKind,
    Priority,
    ResolutionCode,
    Severity,
)

Text = Field(min_length=1, max_length=20000)
Reason = Field(min_length=1, max_length=2000)
Tag = Field(min_length=1, max_length=64, pattern=r"^[^\s,]+$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TicketReceive(Strict):
    """A new case arriving on a channel; the first customer message comes with it."""

    drill: int = Field(description="id of the drill that owns the ticket")
    channel: Channel
    category: Category
    subject: str = Field(min_length=1, max_length=512)
    body: str = Text
    priority: Priority | None = Field(
        default=None, description="default P1 for safety incidents, else P3"
    )
    severity: Severity | None = None
    party: str | PartyCreate | None = Field(
        default=None, description="ref of an existing party, or a new party to create"
    )
    order: str | None = Field(default=None, description="order number in this drill")
    tags: list[str] = Field(default_factory=list, max_length=32)

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: list[str]) -> list[str]:
        return _clean_tags(tags)


def _clean_tags(tags: list[str]) -> list[str]:
    cleaned = []
    for tag in tags:
        tag = tag.strip()
        if not tag or len(tag) > 64 or any(c.isspace() or c == "," for c in tag):
            raise ValueError(f"tag {tag!r} must be 1-64 characters without spaces or commas")
        if tag not in cleaned:
            cleaned.append(tag)
    return cleaned


class AssignIn(Strict):
    assignee: str = Field(description="username of a member of the drill")
    reason: str | None = Field(default=None, max_length=2000)


class TransferIn(Strict):
    assignee: str
    reason: str = Reason


class ReasonIn(Strict):
    reason: str = Reason


class OptionalReasonIn(Strict):
    reason: str | None = Field(default=None, max_length=2000)


class PriorityIn(Strict):
    priority: Priority
    reason: str = Reason


class MessageIn(Strict):
    body: str = Text


class ThirdPartyContactIn(Strict):
    party: Literal["merchant", "courier", "driver"] | str = Field(
        description="'merchant', 'courier' or 'driver' of the ticket's order, or a party ref"
    )
    body: str = Text


class ThirdPartyMessageIn(Strict):
    party: str = Field(description="'merchant', 'courier', 'driver' or a party ref")
    body: str = Text


class PendingIn(Strict):
    waiting_on: Literal["customer", "third_party"]
    reason: str | None = Field(default=None, max_length=2000)


class ComplaintRecord(Strict):
    """What an escalation hands over, so the next tier need not ask the customer again."""

    customer_asks: str = Field(min_length=1, max_length=4000)
    actions_taken: str = Field(min_length=1, max_length=4000)
    proposed_outcome: str = Field(min_length=1, max_length=4000)


class EscalateIn(Strict):
    tier: Tier
    reason: str = Reason
    complaint: ComplaintRecord
    assignee: str | None = None


class DeEscalateIn(Strict):
    tier: Tier
    reason: str = Reason


class CompensateIn(Strict):
    kind: CompensationKind
    amount: Decimal | None = Field(
        default=None,
        gt=0,
        max_digits=12,
        decimal_places=2,
        description="omit for a full refund of what is left",
    )
    reason: str = Reason
    item_sku: str | None = Field(default=None, description="counterfeit compensation: the item")
    multiple: int | None = Field(
        default=None,
        ge=1,
        le=10,
        description="counterfeit compensation: times the item price "
        "(default 10, the 假一赔十 rule)",
    )


class DecisionIn(Strict):
    note: str | None = Field(default=None, max_length=2000)


class FindingIn(Strict):
    kind: Literal[
        "counterfeit",
        "damaged",
        "wrong_item",
        "missing_item",
        "late_delivery",
        "weather_delay",
        "driver_misconduct",
        "other",
    ]
    item_sku: str | None = None
    evidence: str = Field(min_length=1, max_length=4000)


class OrderActionIn(Strict):
    kind: OrderActionKind
    reason: str = Reason
    new_address: str | None = Field(default=None, min_length=1, max_length=512)
    items: list[str] = Field(default_factory=list, description="SKUs concerned")


class ResolveIn(Strict):
    code: ResolutionCode
    summary: str = Field(min_length=1, max_length=4000)


class IncidentReportIn(Strict):
    """The record of a major incident, written by the person handling it."""

    what_happened: str = Field(min_length=1, max_length=8000)
    who_is_at_risk: str = Field(min_length=1, max_length=2000)
    actions_taken: str = Field(min_length=1, max_length=8000)
    handed_to: str = Field(min_length=1, max_length=256, description="team or person")
    handed_at: AwareDatetime | None = Field(
        default=None, description="when it was handed over (default: now, simulated)"
    )


class TagIn(Strict):
    add: list[str] = Field(default_factory=list, max_length=32)
    remove: list[str] = Field(default_factory=list, max_length=32)

    @field_validator("add", "remove")
    @classmethod
    def _tags(cls, tags: list[str]) -> list[str]:
        return _clean_tags(tags)


class LinkIn(Strict):
    other: str = Field(description="key of the other ticket, e.g. DD-000042")


class MergeIn(Strict):
    into: str = Field(description="key of the ticket that stays open")
    reason: str | None = Field(default=None, max_length=2000)


class TicketRead(BaseModel):
    key: str
    drill: int
    channel: str
    category: str
    severity: str | None
    subject: str
    priority: str
    status: str
    tier: str
    assignee: str | None
    tags: list[str]
    findings: list[dict[str, Any]]
    party: str | None
    order: str | None
    merged_into: str | None
    resolution_code: str | None
    resolution_summary: str | None
    received_at: datetime
    first_response_at: datetime | None
    escalated_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    updated_at: datetime
    version: int
    event_count: int


class MessageRead(BaseModel):
    kind: str
    author: str
    body: str
    sim_at: datetime
    event_seq: int


class EventRead(BaseModel):
    seq: int
    type: str
    actor: str
    sim_at: datetime
    wall_at: datetime
    payload: dict[str, Any]
    prev_hash: str
    hash: str


class CompensationRead(BaseModel):
    number: int
    kind: str
    amount: Decimal
    currency: str
    reason: str
    status: str
    item_sku: str | None
    multiple: int | None
    funded_by: str
    requested_by: str | None
    decided_by: str | None
    decision_note: str | None
    created_at: datetime
    decided_at: datetime | None
    paid_at: datetime | None


class TicketSummary(BaseModel):
    key: str
    subject: str
    channel: str
    category: str
    priority: str
    status: str
    tier: str
    assignee: str | None
    customer: str | None
    received_at: datetime


class TicketDetail(BaseModel):
    ticket: TicketRead
    party: PartyRead | None
    order: OrderRead | None
    messages: list[MessageRead]
    trail: list[EventRead]
    compensations: list[CompensationRead]
    links: list[dict[str, str]]
    earlier_tickets: list[TicketSummary]
    allowed_actions: list[str]


class QueuePage(BaseModel):
    items: list[TicketSummary]
    next_cursor: str | None


class VerifyResult(BaseModel):
    key: str
    ok: bool
    events_checked: int
    first_broken_seq: int | None
    reason: str | None
