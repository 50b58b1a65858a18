"""The state of each SLA timer of a ticket at a moment of simulated time.

``clocks`` lists the timers that apply to a ticket as plain tuples; the API view
(``timers``), the next-check computation and the engine all start from it, so they agree
on what is running, and the engine, which does this for thousands of tickets per step,
pays for no more than the tuples.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple

from deskdrill.sla.policy import SlaPolicy
from deskdrill.tickets.enums import Status


class TimerState(StrEnum):
    ok = "ok"
    warning = "warning"
    breached = "breached"
    met = "met"
    paused = "paused"


@dataclass(frozen=True, slots=True)
class Timer:
    """One timer at one moment, as the API shows it."""

    name: str
    due: datetime | None
    target_seconds: int
    seconds_left: int | None  # SLA time: open time only, with business hours
    state: TimerState
    warn_at: datetime | None = None  # when a running timer turns to warning


class Clock(NamedTuple):
    """One timer of a ticket: its due moment (already moved on by a running pause), the
    target, when the work it times was done (or None), and whether it stands paused."""

    name: str
    due: datetime | None
    target: timedelta
    done: datetime | None
    paused: bool

    @property
    def can_fire(self) -> bool:
        """Due, not paused, and not done in time (a late one still records its miss)."""
        return (
            self.due is not None and not self.paused and (self.done is None or self.done > self.due)
        )


_DONE = (Status.resolved, Status.closed)


def clocks(ticket: Any, policy: SlaPolicy, now: datetime) -> list[Clock]:
    """The timers that apply to ``ticket`` (a Ticket or a row with the same columns)."""
    priority, channel, category = ticket.priority, ticket.channel, ticket.category
    target = policy.target
    result = [
        Clock(
            "first_response",
            ticket.first_response_due,
            target(priority, "first_response", channel, category),
            ticket.first_response_at,
            False,
        )
    ]
    if ticket.next_response_due is not None:
        result.append(
            Clock(
                "next_response",
                ticket.next_response_due,
                target(priority, "next_response", channel, category),
                None,
                False,
            )
        )
    paused = ticket.paused_since is not None
    resolution_due = ticket.resolution_due
    if paused and resolution_due is not None:
        # Frozen: the time left stays what it was when the wait began.
        resolution_due = policy.add(resolution_due, policy.between(ticket.paused_since, now))
    result.append(
        Clock(
            "resolution",
            resolution_due,
            target(priority, "resolution", channel, category),
            ticket.resolved_at if ticket.status in _DONE else None,
            paused,
        )
    )
    if ticket.escalation_due is not None:
        rule = policy.escalate.get(category)
        if rule is not None:
            done = ticket.escalated_at if ticket.tier == rule.tier else None
            result.append(Clock("escalation", ticket.escalation_due, rule.target, done, False))
    if ticket.update_due is not None and policy.keep_informed_every:
        result.append(Clock("keep_informed", ticket.update_due, policy.keep_informed, None, False))
    return result


def moments(clock: Clock, policy: SlaPolicy) -> tuple[datetime, datetime]:
    """(warning, breach) moments of a timer that can fire."""
    assert clock.due is not None
    return policy.subtract(clock.due, clock.target * (1 - policy.warning_at)), clock.due


def _timer(clock: Clock, now: datetime, policy: SlaPolicy) -> Timer:
    name, due, target, done, paused = clock
    target_s = int(target.total_seconds())
    if due is None:
        state = TimerState.paused if paused else TimerState.met
        return Timer(name, None, target_s, None, state)
    if done is not None:
        state = TimerState.met if done <= due else TimerState.breached
        return Timer(name, due, target_s, None, state)
    left = int(policy.between(now, due).total_seconds())
    warn_at = moments(clock, policy)[0]
    if paused:
        state = TimerState.paused
    elif now > due:
        state = TimerState.breached
    elif now >= warn_at:
        state = TimerState.warning
    else:
        state = TimerState.ok
    return Timer(name, due, target_s, left, state, warn_at)


def timers(ticket: Any, policy: SlaPolicy, now: datetime) -> list[Timer]:
    """Each timer that applies to the ticket, with time left in simulated seconds."""
    return [_timer(clock, now, policy) for clock in clocks(ticket, policy, now)]
