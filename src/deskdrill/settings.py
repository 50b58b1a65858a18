"""One place for configuration: environment variables with the ``DESKDRILL_`` prefix."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "dev-only-insecure-secret-change-me"

CompensationKind = Literal["refund", "coupon", "goodwill_credit", "counterfeit_compensation"]


class Cap(BaseModel):
    """Limit on one compensation kind for one authority level (amounts in the order currency)."""

    per_action: Decimal
    per_ticket: Decimal


def _caps(refund: int, coupon: int, credit: int, counterfeit: int) -> dict[str, Cap]:
    def cap(n: int) -> Cap:
        return Cap(per_action=Decimal(n), per_ticket=Decimal(n * 2))

    return {
        "refund": cap(refund),
        "coupon": cap(coupon),
        "goodwill_credit": cap(credit),
        "counterfeit_compensation": cap(counterfeit),
    }


def default_caps() -> dict[str, dict[str, Cap]]:
    """Per authority level: trainees act at their tier (L1, L2, supervisor, incident_desk)."""
    return {
        "L1": _caps(200, 20, 10, 0),
        "L2": _caps(1000, 50, 50, 0),
        "supervisor": _caps(5000, 200, 200, 20000),
        "incident_desk": _caps(5000, 200, 500, 0),
        "trainer": _caps(100000, 1000, 1000, 100000),
        "admin": _caps(1000000, 10000, 10000, 1000000),
    }


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DESKDRILL_", env_nested_delimiter="__")

    env: Literal["dev", "test", "prod"] = "prod"
    database_url: str = "sqlite:///./var/deskdrill.db"
    secret_key: str = DEFAULT_SECRET
    host: str = "127.0.0.1"
    port: int = 8000
    sqlite_busy_timeout_ms: int = 30000
    # Page cache per SQLite connection, in MiB (SQLite's own default is 2 MiB, fewer pages
    # than one SLA engine step touches in a large drill).
    sqlite_cache_mib: int = Field(default=64, ge=1)
    # Connections per process: enough for every worker thread (40) to hold one while the
    # request transactions (at most 24 at once, see api.deps) hold theirs.
    db_pool_size: int = 10
    db_max_overflow: int = 60
    idempotency_ttl_hours: int = 24
    idempotency_lock_seconds: int = 60
    token_ttl_days: int = 30
    token_cache_seconds: float = 5.0
    # Seconds between rounds of the SLA engine in each server process (0: no loop; reads
    # still catch up lazily).
    engine_interval_seconds: float = 1.0
    # Browser session cookies carry Secure: always (true), never (false), or when the
    # request came over HTTPS (unset; behind a TLS proxy, set true or forward the scheme).
    cookie_secure: bool | None = None
    compensation_caps: dict[str, dict[str, Cap]] = Field(default_factory=default_caps)

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if self.env == "prod" and self.secret_key == DEFAULT_SECRET:
            raise ValueError(
                "DESKDRILL_SECRET_KEY is still the built-in development value; set it to a long "
                "random string (python -c 'import secrets; print(secrets.token_urlsafe(48))')"
                " or set DESKDRILL_ENV=dev for a local trial"
            )
        if len(self.secret_key) < 16:
            raise ValueError("DESKDRILL_SECRET_KEY must be at least 16 characters")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
