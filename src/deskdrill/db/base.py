"""Declarative base, a stable constraint naming convention and the column types we share."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, MetaData, Numeric, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no zone, so we store naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(DateTime(timezone=False))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; deskdrill stores aware UTC datetimes only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is UTC:
            return value
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    # On SQLite every datetime crosses as text, in the format SQLAlchemy's DateTime writes
    # ("YYYY-MM-DD HH:MM:SS.ffffff"). These two processors do that conversion with one C
    # call each instead of a regex and strftime: the SLA engine and the queue pages convert
    # thousands of datetimes per call.
    def bind_processor(self, dialect: Dialect) -> Any:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        return _sqlite_bind

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        return _sqlite_result


def _sqlite_bind(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is not UTC:
        if value.tzinfo is None:
            raise ValueError("naive datetime given; deskdrill stores aware UTC datetimes only")
        value = value.astimezone(UTC)
    return value.isoformat(" ", "microseconds")[:26]


def _sqlite_result(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        # Parsing the offset with the rest is several times cheaper than replace(tzinfo=).
        return datetime.fromisoformat(value + "+00:00")
    except ValueError:  # text written by other means, which carries an offset of its own
        parsed = datetime.fromisoformat(value)
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


Money = Numeric(12, 2, asdecimal=True)
_CENTS = Decimal("0.01")


def as_money(amount: Decimal) -> Decimal:
    """``amount`` to the cent, as a ``Money`` column gives it back, so that an object
    written in this session reads (and goes on the trail) as one loaded from the table."""
    return amount.quantize(_CENTS)


JSONType = JSON().with_variant(JSON(none_as_null=True), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), Decimal: Money}


def import_all_models() -> None:
    """Import every domain's models so that ``Base.metadata`` is complete (Alembic, tests)."""
    from deskdrill.accounts import models as _accounts  # noqa: F401
    from deskdrill.customers import models as _customers  # noqa: F401
    from deskdrill.drills import models as _drills  # noqa: F401
    from deskdrill.idempotency import models as _idempotency  # noqa: F401
    from deskdrill.simulation import models as _simulation  # noqa: F401
    from deskdrill.sla import models as _sla  # noqa: F401
    from deskdrill.tickets import models as _tickets  # noqa: F401
