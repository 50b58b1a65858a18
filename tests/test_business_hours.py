"""SLA timers in business hours: they run only while the desk is open (time zone, open
weekdays, opening and closing time, holidays); 24x7 stays the default."""

from __future__ import annotations

import time as clock
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from deskdrill.sla.calendar import DAYS, BusinessHours, NoOpenTime
from deskdrill.sla.policy import POLICIES
from tests.support.factories import Factory

BEIJING = timezone(timedelta(hours=8))
OFFICE = BusinessHours(timezone="Asia/Shanghai", holidays=[date(2026, 4, 6)])  # a Monday


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def second(text: str) -> datetime:
    """A moment from the API to the second (the paused clock stood a few ms after its
    start, and everything is stamped in its time)."""
    return at(text).replace(microsecond=0)


class TestCalendar:
    def test_time_runs_only_while_the_desk_is_open(self) -> None:
        thursday = at("2026-04-02T17:58:00+08:00")
        assert OFFICE.add(thursday, timedelta(minutes=1)) == at("2026-04-02T17:59:00+08:00")
        # Two minutes on Thursday, then Friday morning.
        assert OFFICE.add(thursday, timedelta(minutes=3)) == at("2026-04-03T09:01:00+08:00")
        friday = at("2026-04-03T17:30:00+08:00")
        # Over the weekend and the Monday holiday, to Tuesday.
        assert OFFICE.add(friday, timedelta(hours=1)) == at("2026-04-07T09:30:00+08:00")
        assert OFFICE.between(friday, at("2026-04-07T09:30:00+08:00")) == timedelta(hours=1)
        assert OFFICE.subtract(at("2026-04-07T09:30:00+08:00"), timedelta(hours=1)) == friday
        # Before opening, time starts at the opening; a full day is nine hours.
        early = at("2026-04-02T06:00:00+08:00")
        assert OFFICE.add(early, timedelta(hours=9)) == at("2026-04-02T18:00:00+08:00")
        assert OFFICE.between(at("2026-04-04T10:00:00+08:00"), at("2026-04-05T10:00:00+08:00")) == (
            timedelta(0)
        )  # a weekend: nothing

    @settings(max_examples=200, deadline=None)
    @given(
        start=st.datetimes(
            min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
        ),
        minutes=st.integers(min_value=0, max_value=60 * 24 * 20),
    )
    def test_adding_and_measuring_agree(self, start: datetime, minutes: int) -> None:
        amount = timedelta(minutes=minutes)
        end = OFFICE.add(start, amount)
        assert end >= start
        assert OFFICE.between(start, end) == amount
        assert OFFICE.between(end, start) == -amount
        # Back from the end lands where the open time began (the start, or the next opening).
        assert OFFICE.between(start, OFFICE.subtract(end, amount)) == timedelta(0)

    def test_a_calendar_says_what_is_wrong(self) -> None:
        cases = [
            ({"timezone": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
            ({"days": ["mon", "funday"]}, "unknown day 'funday'"),
            ({"opens": "18:00", "closes": "09:00"}, "open before it closes"),
            ({"days": []}, "at least 1"),
        ]
        for fields, message in cases:
            with pytest.raises(ValidationError, match=message):
                BusinessHours.model_validate(fields)
        closed = BusinessHours(days=["mon"], holidays=[date(2026, 1, 5) + timedelta(weeks=w)
                                                       for w in range(200)])  # fmt: skip
        with pytest.raises(NoOpenTime):
            closed.add(datetime(2026, 1, 1, tzinfo=UTC), timedelta(minutes=1))

    def test_the_shipped_office_hours_policy(self) -> None:
        policy = POLICIES["office-hours-cn"]
        assert policy.business_hours is not None
        assert (policy.business_hours.opens, policy.business_hours.closes) == (time(9), time(18))
        assert POLICIES["default"].business_hours is None


class OfficeDrill:
    """A drill on the office-hours policy whose clock starts at ``start`` and is paused."""

    def __init__(self, factory: Factory, start: str, policy: Any = "office-hours-cn") -> None:
        self.desk = factory.desk(settings={"sla_policy": policy})
        self.trainer, self.agent = self.desk.trainer, self.desk.trainees[0]
        self.clock = f"/drills/{self.desk.drill_id}/clock"
        self.trainer.ok(f"{self.clock}/start", {"at": start})
        self.trainer.ok(f"{self.clock}/pause")

    def jump_to(self, moment: str) -> None:
        now = second(self.trainer.get(f"{self.clock}").json()["sim_now"])
        self.trainer.ok(f"{self.clock}/jump", {"seconds": int((at(moment) - now).total_seconds())})

    def timers(self, key: str) -> dict[str, dict[str, Any]]:
        response = self.agent.get(f"/tickets/{key}/sla")
        assert response.status_code == 200, response.text
        return {t["name"]: t for t in response.json()["timers"]}


def test_a_ticket_late_on_friday_is_due_after_the_weekend(factory: Factory) -> None:
    drill = OfficeDrill(factory, "2026-04-03T17:58:00+08:00")  # Friday, two minutes to six
    key = drill.desk.receive(priority="P3")["key"]
    first = drill.timers(key)["first_response"]
    assert second(first["due"]) == at("2026-04-06T09:01:00+08:00")  # Monday, one minute in
    assert (first["seconds_left"], first["state"]) == (180, "ok")
    drill.jump_to("2026-04-05T23:00:00+08:00")  # Sunday night: no time has run
    assert drill.timers(key)["first_response"]["seconds_left"] == 60
    drill.jump_to("2026-04-06T09:00:20+08:00")  # 135 s of open time: the warning
    assert drill.timers(key)["first_response"]["state"] == "warning"
    drill.jump_to("2026-04-06T09:01:01+08:00")
    assert drill.timers(key)["first_response"]["state"] == "breached"
    trail = drill.trainer.get(f"/tickets/{key}").json()["trail"]
    breach = next(e for e in trail if e["type"] == "sla_breach")
    assert second(breach["sim_at"]) == at("2026-04-06T09:01:00+08:00")  # stamped when missed


def test_waiting_on_the_customer_gives_back_open_time_only(factory: Factory) -> None:
    drill = OfficeDrill(factory, "2026-04-02T17:00:00+08:00")  # Thursday
    key = drill.desk.receive(priority="P2")["key"]  # resolution: 4 hours
    drill.agent.ok(f"/tickets/{key}/claim")
    assert second(drill.timers(key)["resolution"]["due"]) == at("2026-04-03T12:00:00+08:00")
    drill.agent.ok(f"/tickets/{key}/pending", {"waiting_on": "customer"})
    drill.jump_to("2026-04-03T10:00:00+08:00")  # waited 1 h Thursday + 1 h Friday
    paused = drill.timers(key)["resolution"]
    assert paused["state"] == "paused"
    drill.agent.ok(f"/tickets/{key}/resume", {})
    assert second(drill.timers(key)["resolution"]["due"]) == at("2026-04-03T14:00:00+08:00")


def test_a_drill_can_carry_its_own_calendar_and_a_bad_one_is_refused(factory: Factory) -> None:
    own = {**POLICIES["default"].model_dump(mode="json"), "name": "night-shift",
           "business_hours": {"timezone": "UTC", "days": ["mon", "tue", "wed", "thu", "fri",
                                                          "sat", "sun"],
                              "opens": "22:00", "closes": "23:59"}}  # fmt: skip
    drill = OfficeDrill(factory, "2026-04-02T21:59:00+00:00", policy=own)
    key = drill.desk.receive(priority="P3")["key"]
    assert second(drill.timers(key)["first_response"]["due"]) == at("2026-04-02T22:03:00+00:00")
    bad = {**own, "business_hours": {"timezone": "Nowhere/Land"}}
    answer = drill.trainer.post("/drills", {"name": f"bad-{key}", "title": "Bad",
                                            "settings": {"sla_policy": bad}})  # fmt: skip
    assert answer.status_code == 422
    assert "unknown time zone 'Nowhere/Land'" in answer.text


def test_a_calendar_too_narrow_for_the_targets_is_refused(factory: Factory) -> None:
    trainer = factory.desk(trainees=1).trainer
    narrow = {**POLICIES["default"].model_dump(mode="json"), "name": "saturdays",
              "business_hours": {"days": ["sat"], "opens": "09:00", "closes": "10:00"}}  # fmt: skip
    narrow["targets"]["P4"]["resolution"] = 525_600  # a year of open time: 168 years of Saturdays
    answer = trainer.post("/drills", {"name": f"narrow-{clock.time_ns()}", "title": "Narrow",
                                      "settings": {"sla_policy": narrow}})  # fmt: skip
    assert answer.status_code == 422
    assert "needs more open time than the calendar has" in answer.text


def test_a_long_wait_is_measured_in_full() -> None:
    start = at("2026-01-05T09:00:00+08:00")
    years = OFFICE.between(start, start + timedelta(days=4 * 365))
    assert years > OFFICE.between(start, start + timedelta(days=3 * 365)) > timedelta(0)


def test_a_daylight_saving_jump_inside_the_hours_costs_no_open_time() -> None:
    new_york = BusinessHours(timezone="America/New_York", days=list(DAYS), opens=time(2, 15),
                             closes=time(3, 0))  # fmt: skip
    before = at("2026-03-07T03:00:00-05:00")  # the evening before the clocks go forward
    # 2026-03-08 02:15 to 03:00 does not exist there: the next open time is on the 9th.
    assert new_york.add(before, timedelta(minutes=10)) == at("2026-03-09T02:25:00-04:00")
    assert new_york.between(before, at("2026-03-09T02:25:00-04:00")) == timedelta(minutes=10)
