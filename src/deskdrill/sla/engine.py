"""The SLA engine step: record every warning and breach that has fallen due, in
simulated-time order, exactly once.

Each firing has a stable key (ticket, timer, warning or breach, due time) held by a unique
constraint, so running the step twice, or in two processes at once, never records one
twice. A breach event is stamped with the simulated moment the target was missed (its due
time); the wall time of processing is on the event too. The step reads only tickets whose
``sla_next_check`` has come (an index), so its cost follows the number of due items, not
the number of open tickets.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from deskdrill.accounts.models import User
from deskdrill.core.clock import Instant
from deskdrill.sla.deadlines import next_check, policy_for
from deskdrill.sla.models import Notification, SlaFiring
from deskdrill.sla.policy import SlaPolicy
from deskdrill.sla.view import Timer, TimerState, timers
from deskdrill.tickets.models import Ticket
from deskdrill.tickets.recording import append_event, record

BATCH = 500
SYSTEM = "sla-engine"


def step(session: Session, drill_id: int, now: Instant) -> int:
    """Process what is due in one drill up to ``now.sim``; returns the firings recorded."""
    policy = policy_for(session, drill_id)
    due = session.scalars(
        select(Ticket)
        .where(Ticket.drill_id == drill_id, Ticket.sla_next_check <= now.sim)
        .order_by(Ticket.sla_next_check, Ticket.id)
        .limit(BATCH)
        .with_for_update(skip_locked=True)
    ).all()
    fired = 0
    for ticket in due:
        fired += _fire(session, ticket, policy, now)
        ticket.sla_next_check = next_check(ticket, policy, after=now.sim)
    session.flush()
    return fired


def _moments(timer: Timer, policy: SlaPolicy) -> list[tuple[str, datetime]]:
    """The warning and breach moments of a running timer."""
    if timer.due is None or timer.state in (TimerState.met, TimerState.paused):
        return []
    warn = timer.due - timedelta(seconds=timer.target_seconds * (1 - policy.warning_at))
    return [("warning", warn), ("breach", timer.due)]


def _fire(session: Session, ticket: Ticket, policy: SlaPolicy, now: Instant) -> int:
    count = 0
    events: list[tuple[datetime, str, Timer]] = []
    for timer in timers(ticket, policy, now.sim):
        for kind, moment in _moments(timer, policy):
            if moment <= now.sim:
                events.append((moment, kind, timer))
    for moment, kind, timer in sorted(events, key=lambda e: (e[0], e[1] == "breach")):
        assert timer.due is not None
        if not _claim(session, ticket, timer.name, kind, timer.due, now.wall):
            continue
        append_event(
            session,
            ticket,
            type=f"sla_{kind}",
            actor=SYSTEM,
            at=Instant(sim=moment, wall=now.wall),
            payload={"timer": timer.name, "due": timer.due.isoformat()},
        )
        if kind == "breach":
            # What the policy does about a miss happens just after it.
            at = Instant(sim=moment + timedelta(milliseconds=1), wall=now.wall)
            for action in policy.on_breach.get(timer.name, []):
                ACTIONS[action](session, ticket, timer, policy, at)
        count += 1
    return count


def _claim(
    session: Session, ticket: Ticket, timer: str, kind: str, due: datetime, wall: datetime
) -> bool:
    """Take the stable key of a firing; False when it was already recorded."""
    exists = session.scalar(
        select(SlaFiring.id).where(
            SlaFiring.ticket_id == ticket.id,
            SlaFiring.timer == timer,
            SlaFiring.kind == kind,
            SlaFiring.due == due,
        )
    )
    if exists is not None:
        return False
    try:
        with session.begin_nested():
            session.add(
                SlaFiring(ticket_id=ticket.id, timer=timer, kind=kind, due=due, fired_wall=wall)
            )
    except IntegrityError:
        return False
    return True


# Acts on the trail under this name; never a row in the users table.
SYSTEM_ACTOR = User(username=SYSTEM, role="admin", tier="supervisor")
NEXT_TIER = {"L1": "L2", "L2": "supervisor", "supervisor": "incident_desk"}
HIGHER = {"P4": "P3", "P3": "P2", "P2": "P1"}


def _notify(session: Session, ticket: Ticket, timer: Timer, policy: SlaPolicy, at: Instant) -> None:
    message = f"{ticket.key}: {timer.name.replace('_', ' ')} target missed"
    session.add(
        Notification(
            drill_id=ticket.drill_id,
            user_id=ticket.assignee_id,
            role=None if ticket.assignee_id else "trainer",
            ticket_id=ticket.id,
            kind="sla_breach",
            message=message,
            sim_at=at.sim,
            wall_at=at.wall,
        )
    )


def _bump(session: Session, ticket: Ticket, timer: Timer, policy: SlaPolicy, at: Instant) -> None:
    higher = HIGHER.get(ticket.priority)
    if higher is None or not ticket.active:
        return
    record(
        session,
        ticket,
        action="change_priority",
        actor=SYSTEM_ACTOR,
        at=at,
        payload={"from": ticket.priority, "reason": f"{timer.name} target missed"},
        changes={"priority": higher},
    )


def _escalate(
    session: Session, ticket: Ticket, timer: Timer, policy: SlaPolicy, at: Instant
) -> None:
    rule = policy.escalate.get(ticket.category)
    target = rule.tier if rule is not None else NEXT_TIER.get(ticket.tier)
    if target is None or target == ticket.tier or not ticket.active:
        return
    changes: dict[str, object] = {"tier": target, "assignee": None}
    if ticket.escalated_at is None:
        changes["escalated_at"] = at.sim
    record(
        session,
        ticket,
        action="escalate",
        actor=SYSTEM_ACTOR,
        at=at,
        payload={
            "from": ticket.tier,
            "to": target,
            "reason": f"{timer.name} target missed",
            "automatic": True,
        },
        changes=changes,
    )


ACTIONS: dict[str, Callable[[Session, Ticket, Timer, SlaPolicy, Instant], None]] = {
    "notify": _notify,
    "bump_priority": _bump,
    "escalate": _escalate,
}
