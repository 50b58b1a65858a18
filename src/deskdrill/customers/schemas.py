from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from deskdrill.customers.enums import OrderKind, OrderStatus, PartyKind


class PartyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ref: str = Field(min_length=1, max_length=64)
    kind: PartyKind = PartyKind.consumer
    name: str = Field(min_length=1, max_length=128)
    phone: str | None = Field(default=None, max_length=32, pattern=r"^\+?[0-9 -]{5,31}$")
    email: str | None = Field(default=None, max_length=256, pattern=r"^[^@\s]+@[^@\s]+$")
    language: str = Field(default="zh", pattern=r"^(zh|en)$")
    tier: str = Field(default="regular", max_length=32)


class PartyRead(BaseModel):
    ref: str
    kind: PartyKind
    name: str
    phone: str | None
    email: str | None
    language: str
    tier: str
    masked: bool


class OrderItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=256)
    price: Decimal = Field(ge=0, max_digits=12, decimal_places=2)
    quantity: int = Field(default=1, ge=1, le=10000)


class OrderCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: str = Field(min_length=1, max_length=64)
    kind: OrderKind
    status: OrderStatus = OrderStatus.paid
    party: str = Field(description="ref of the customer or passenger")
    merchant: str | None = None
    courier: str | None = None
    driver: str | None = None
    items: list[OrderItem] = Field(default_factory=list)
    currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$")
    amount_paid: Decimal = Field(ge=0, max_digits=12, decimal_places=2)
    tracking_status: str | None = Field(default=None, max_length=128)
    shipping_address: str | None = Field(default=None, max_length=512)
    paid_at: datetime | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    route_from: str | None = Field(default=None, max_length=256)
    route_to: str | None = Field(default=None, max_length=256)
    distance_km: Decimal | None = Field(default=None, ge=0, max_digits=8, decimal_places=2)
    trip_started_at: datetime | None = None
    trip_ended_at: datetime | None = None

    @model_validator(mode="after")
    def _kind_fields(self) -> OrderCreate:
        if self.kind == OrderKind.ride and self.driver is None:
            raise ValueError("a ride needs a driver (field 'driver')")
        if self.kind != OrderKind.ride and not self.items:
            raise ValueError("a goods or food order needs at least one item (field 'items')")
        return self


class OrderRead(BaseModel):
    number: str
    kind: OrderKind
    status: OrderStatus
    party: str
    merchant: str | None
    courier: str | None
    driver: str | None
    items: list[OrderItem]
    currency: str
    amount_paid: Decimal
    refunded_total: Decimal
    compensated_total: Decimal
    refunds_awaiting_approval: Decimal
    refundable: Decimal
    tracking_status: str | None
    shipping_address: str | None
    paid_at: datetime | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    route_from: str | None
    route_to: str | None
    distance_km: Decimal | None
    trip_started_at: datetime | None
    trip_ended_at: datetime | None
