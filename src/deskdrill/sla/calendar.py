"""Business hours: SLA time that runs only while the desk is open.

A calendar has a time zone, working weekdays, an opening and a closing time, and
holidays. ``add`` moves a moment on by so much open time, ``subtract`` back, and
``between`` measures the open time between two moments. Without a calendar (the
default, 24x7) these are plain arithmetic; policies call them so that every timer follows
the same clock.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# A walk across the calendar gives up after this many days: a calendar with a year
# of holidays and no open day would otherwise never end.
MAX_DAYS = 3 * 366
_ZERO = timedelta(0)


class NoOpenTime(ValueError):
    """The calendar has not enough open time within ``MAX_DAYS`` of a moment."""


# Policies are checked from here: every target must be reachable within MAX_DAYS.
REFERENCE = datetime(2026, 1, 1, tzinfo=UTC)


class BusinessHours(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    timezone: str = Field(default="UTC", description="an IANA zone, e.g. Asia/Shanghai")
    days: list[str] = Field(
        default_factory=lambda: list(DAYS[:5]), min_length=1, description="open weekdays"
    )
    opens: time = time(9, 0)
    closes: time = time(18, 0)
    holidays: list[date] = Field(default_factory=list, max_length=1000)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. Asia/Shanghai, UTC)") from None
        return value

    @field_validator("days")
    @classmethod
    def _known_days(cls, value: list[str]) -> list[str]:
        unknown = [d for d in value if d not in DAYS]
        if unknown:
            raise ValueError(f"unknown day {unknown[0]!r}; days are {', '.join(DAYS)}")
        return sorted(set(value), key=DAYS.index)

    @model_validator(mode="after")
    def _opens_before_closing(self) -> BusinessHours:
        if self.opens.tzinfo is not None or self.closes.tzinfo is not None:
            raise ValueError("opens and closes are local times, without a zone")
        if self.opens >= self.closes:
            raise ValueError("the desk must open before it closes (opens < closes)")
        return self

    @cached_property
    def _zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def _open_days(self) -> frozenset[int]:
        return frozenset(DAYS.index(d) for d in self.days)

    @cached_property
    def _closed_dates(self) -> frozenset[date]:
        return frozenset(self.holidays)

    def _window(self, day: date) -> tuple[datetime, datetime] | None:
        """The open hours of a local date, as aware UTC moments (None: closed all day)."""
        if day.weekday() not in self._open_days or day in self._closed_dates:
            return None
        start = datetime.combine(day, self.opens, self._zone).astimezone(UTC)
        end = datetime.combine(day, self.closes, self._zone).astimezone(UTC)
        if end <= start:  # both in or around a daylight-saving jump: no open time that day
            return None
        return start, end

    def _local_day(self, moment: datetime) -> date:
        return moment.astimezone(self._zone).date()

    def add(self, start: datetime, amount: timedelta) -> datetime:
        """The moment ``amount`` of open time after ``start``."""
        if amount < _ZERO:
            return self.subtract(start, -amount)
        moment, left = start.astimezone(UTC), amount
        day = self._local_day(moment)
        for _ in range(MAX_DAYS):
            window = self._window(day)
            if window is not None and moment < window[1]:
                begin = max(moment, window[0])
                if begin + left <= window[1]:
                    return (begin + left).astimezone(start.tzinfo)
                left -= window[1] - begin
                moment = window[1]
            day += timedelta(days=1)
        raise NoOpenTime(f"no open time within {MAX_DAYS} days after {start.isoformat()}")

    def subtract(self, end: datetime, amount: timedelta) -> datetime:
        """The moment ``amount`` of open time before ``end``."""
        if amount < _ZERO:
            return self.add(end, -amount)
        moment, left = end.astimezone(UTC), amount
        day = self._local_day(moment)
        for _ in range(MAX_DAYS):
            window = self._window(day)
            if window is not None and moment > window[0]:
                finish = min(moment, window[1])
                if finish - left >= window[0]:
                    return (finish - left).astimezone(end.tzinfo)
                left -= finish - window[0]
                moment = window[0]
            day -= timedelta(days=1)
        raise NoOpenTime(f"no open time within {MAX_DAYS} days before {end.isoformat()}")

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Open time from ``start`` to ``end`` (negative when ``end`` comes first)."""
        if end < start:
            return -self.between(end, start)
        total, day = _ZERO, self._local_day(start)
        last = self._local_day(end)
        while day <= last:  # bounded by the span itself
            window = self._window(day)
            if window is not None:
                total += max(_ZERO, min(end, window[1]) - max(start, window[0]))
            day += timedelta(days=1)
        return total
