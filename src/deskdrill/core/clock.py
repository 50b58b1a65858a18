"""Time as a value: domain code receives ``now`` and never reads the wall clock itself."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from deskdrill.core.errors import Invalid, InvalidTransition


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
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    # "2026-11-23T15:07:00.123+00:00": milliseconds truncate, as the stored hashes expect.
    return value.isoformat(timespec="milliseconds")[:23] + "Z"


class ClockState(StrEnum):
    draft = "draft"
    running = "running"
    paused = "paused"
    finished = "finished"


_MS = timedelta(milliseconds=1)


def _truncate_ms(value: datetime) -> datetime:
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


@dataclass(frozen=True, slots=True)
class DrillClock:
    """A drill's simulated clock, derived and never ticked.

    While running, ``sim = anchor_sim + (wall - anchor_wall) * speed``; otherwise it is
    frozen at ``anchor_sim``. Every change re-anchors at the current moment, so the
    persisted anchors alone give the same simulated time after a restart. A draft drill
    has no clock yet and follows the wall clock.
    """

    state: ClockState = ClockState.draft
    speed: Decimal = Decimal(1)
    anchor_sim: datetime | None = None
    anchor_wall: datetime | None = None

    def sim_now(self, wall: datetime) -> datetime:
        if self.state == ClockState.draft:
            # A draft may carry its planned start (a scenario's): time stands there.
            return self.anchor_sim or _truncate_ms(wall)
        if self.anchor_sim is None or self.anchor_wall is None:
            return _truncate_ms(wall)
        if self.state != ClockState.running:
            return self.anchor_sim
        elapsed_ms = (wall - self.anchor_wall) // _MS
        return self.anchor_sim + int(Decimal(elapsed_ms) * self.speed) * _MS

    def instant(self, wall: datetime) -> Instant:
        return Instant(sim=self.sim_now(wall), wall=wall)

    def _anchored(self, wall: datetime, **changes: object) -> DrillClock:
        return replace(self, anchor_sim=self.sim_now(wall), anchor_wall=wall, **changes)

    def start(
        self, wall: datetime, *, at: datetime | None = None, speed: Decimal | None = None
    ) -> DrillClock:
        self._require({ClockState.draft}, "start")
        if at is not None and self.anchor_sim is not None and at != self.anchor_sim:
            # A scenario's tickets, orders and deliveries are scheduled from its start.
            planned = self.anchor_sim.astimezone(UTC).isoformat(timespec="seconds")
            raise Invalid(
                f"the drill is planned to start at {planned} (its scenario's start: what it "
                "schedules counts from then); start it without a start moment",
                field="at",
            )
        return DrillClock(
            ClockState.running,
            self._speed(speed or self.speed),
            _truncate_ms((at or self.anchor_sim or wall).astimezone(UTC)),
            wall,
        )

    def pause(self, wall: datetime) -> DrillClock:
        self._require({ClockState.running}, "pause")
        return self._anchored(wall, state=ClockState.paused)

    def resume(self, wall: datetime) -> DrillClock:
        self._require({ClockState.paused}, "resume")
        return self._anchored(wall, state=ClockState.running)

    def with_speed(self, wall: datetime, speed: Decimal) -> DrillClock:
        self._require({ClockState.draft, ClockState.running, ClockState.paused}, "change speed")
        return (
            self._anchored(wall, speed=self._speed(speed))
            if self.anchor_sim
            else replace(self, speed=self._speed(speed))
        )

    def jump(self, wall: datetime, by: timedelta) -> DrillClock:
        self._require({ClockState.running, ClockState.paused}, "jump")
        if by <= timedelta(0):
            raise Invalid("the clock only jumps forward", field="seconds")
        if by > MAX_JUMP:
            raise Invalid(f"a jump is at most {MAX_JUMP.days} days", field="seconds")
        anchored = self._anchored(wall)
        assert anchored.anchor_sim is not None
        return replace(anchored, anchor_sim=anchored.anchor_sim + by // _MS * _MS)

    def finish(self, wall: datetime) -> DrillClock:
        self._require({ClockState.running, ClockState.paused}, "finish")
        return self._anchored(wall, state=ClockState.finished)

    def _require(self, states: set[ClockState], action: str) -> None:
        if self.state not in states:
            allowed = ", ".join(sorted(states))
            raise InvalidTransition(
                f"cannot {action} a clock that is {self.state}; {action} works when it is "
                f"{allowed}",
                current_state=str(self.state),
            )

    @staticmethod
    def _speed(speed: Decimal) -> Decimal:
        if not MIN_SPEED <= speed <= MAX_SPEED:
            raise Invalid(f"speed must be between {MIN_SPEED} and {MAX_SPEED}", field="speed")
        return speed


MIN_SPEED = Decimal("0.1")
MAX_SPEED = Decimal(600)
MAX_JUMP = timedelta(days=7)  # the longest skip of simulated time, by API, web or CLI
