"""Time as a value: domain code receives ``now`` and never reads the wall clock itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


def utc_now() -> datetime:
    """Wall-clock time, truncated to milliseconds so it round-trips through every database."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


@dataclass(frozen=True, slots=True)
class Instant:
    """The moment an action happens: simulated time (drives SLA, hashed) and wall time."""

    sim: datetime
    wall: datetime


def wall_instant() -> Instant:
    now = utc_now()
    return Instant(sim=now, wall=now)


def iso_ms(value: datetime) -> str:
    """Canonical text for a UTC instant, millisecond precision: ``2026-11-23T15:07:00.123Z``."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
