from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from deskdrill.customers.enums import OrderKind, OrderStatus, PartyKind
from deskdrill.db.base import Base, JSONType


class Party(Base):
    """Anyone a ticket can be about or addressed to: customers, drivers, merchants, couriers."""

    __tablename__ = "parties"
    __table_args__ = (UniqueConstraint("drill_id", "ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    drill_id: Mapped[int] = mapped_column(ForeignKey("drills.id", ondelete="CASCADE"))
    ref: Mapped[str] = mapped_column(String(64))
    kind: Mapped[PartyKind] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(128))
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(256))
    language: Mapped[str] = mapped_column(String(8), default="zh")
    tier: Mapped[str] = mapped_column(String(32), default="regular")
    created_at: Mapped[datetime]


class Order(Base):
    """A goods or food order, or a ride trip, so that cases refer to real records."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("drill_id", "number"),
        Index("ix_orders_party_id", "party_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    drill_id: Mapped[int] = mapped_column(ForeignKey("drills.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(64))
    kind: Mapped[OrderKind] = mapped_column(String(16))
    status: Mapped[OrderStatus] = mapped_column(String(16))
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id", ondelete="CASCADE"))
    merchant_id: Mapped[int | None] = mapped_column(ForeignKey("parties.id", ondelete="SET NULL"))
    courier_id: Mapped[int | None] = mapped_column(ForeignKey("parties.id", ondelete="SET NULL"))
    driver_id: Mapped[int | None] = mapped_column(ForeignKey("parties.id", ondelete="SET NULL"))
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    amount_paid: Mapped[Decimal]
    refunded_total: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    compensated_total: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    tracking_status: Mapped[str | None] = mapped_column(String(128))
    shipping_address: Mapped[str | None] = mapped_column(String(512))
    paid_at: Mapped[datetime | None]
    shipped_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    route_from: Mapped[str | None] = mapped_column(String(256))
    route_to: Mapped[str | None] = mapped_column(String(256))
    distance_km: Mapped[Decimal | None]
    trip_started_at: Mapped[datetime | None]
    trip_ended_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
