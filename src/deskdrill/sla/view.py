"""The state of each SLA timer of a ticket at a moment of simulated time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from deskdrill.sla.policy import SlaPolicy
from deskdrill.tickets.enums import Status
from deskdrill.tickets.models import Ticket


class TimerState(StrEnum):
    ok = "ok"
    warning = "warning"
    breached = "breached"
    met = "met"
    paused = "paused"


@dataclass(frozen=True, slots=True)
class Timer:
    """One timer at one moment (a plain dataclass: the engine builds thousands of them)."""

    name: str
    due: datetime | None
    target_seconds: int
    seconds_left: int | None
    state: TimerState


def _timer(
    name: str,
    due: datetime | None,
    target: timedelta,
    done: datetime | None,
    now: datetime,
    warning_at: float,
    *,
    paused: bool = False,
) -> Timer:
    target_s = int(target.total_seconds())
    if due is None:
        return Timer(
            name=name,
            due=None,
            target_seconds=target_s,
            seconds_left=None,
            state=TimerState.paused if paused else TimerState.met,
        )
    left = int((due - now).total_seconds())
    if done is not None:
        state = TimerState.met if done <= due else TimerState.breached
        return Timer(name=name, due=due, target_seconds=target_s, seconds_left=None, state=state)
    if paused:
        state = TimerState.paused
    elif now > due:
        state = TimerState.breached
    elif left <= target_s * (1 - warning_at):
        state = TimerState.warning
    else:
        state = TimerState.ok
    return Timer(name=name, due=due, target_seconds=target_s, seconds_left=left, state=state)


def timers(ticket: Ticket, policy: SlaPolicy, now: datetime) -> list[Timer]:
    """Each timer that applies to the ticket, with time left in simulated seconds."""
    priority, warn = ticket.priority, policy.warning_at
    result = [
        _timer(
            "first_response",
            ticket.first_response_due,
            policy.target(priority, "first_response", ticket.channel),
            ticket.first_response_at,
            now,
            warn,
        ),
    ]
    if ticket.next_response_due is not None:
        result.append(
            _timer(
                "next_response",
                ticket.next_response_due,
                policy.target(priority, "next_response"),
                None,
                now,
                warn,
            )
        )
    resolved = ticket.resolved_at if ticket.status in (Status.resolved, Status.closed) else None
    paused = ticket.paused_since is not None
    resolution_due = ticket.resolution_due
    if paused and resolution_due is not None:
        # Frozen: the time left stays what it was when the wait began.
        resolution_due = resolution_due + (now - ticket.paused_since)
    result.append(
        _timer(
            "resolution",
            resolution_due,
            policy.target(priority, "resolution"),
            resolved,
            now,
            warn,
            paused=paused,
        )
    )
    rule = policy.escalate.get(ticket.category)
    if rule is not None and ticket.escalation_due is not None:
        done = ticket.escalated_at if ticket.tier == rule.tier else None
        result.append(
            _timer(
                "escalation", ticket.escalation_due, timedelta(minutes=rule.within), done, now, warn
            )
        )
    if ticket.update_due is not None and policy.keep_informed_every:
        result.append(
            _timer(
                "keep_informed",
                ticket.update_due,
                timedelta(minutes=policy.keep_informed_every),
                None,
                now,
                warn,
            )
        )
    return result
