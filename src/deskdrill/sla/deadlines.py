"""Keeping a ticket's SLA deadlines current after every change.

Rules, in simulated time:
- first response: due at receipt + target for the priority (and channel); a priority
  change moves it; the first reply meets it.
- next response: a customer message after the first reply starts it; a reply meets it.
- resolution: due at receipt + target, plus the time spent in paused statuses
  (pending_customer, and pending_third_party if the policy says so); reopening starts a
  fresh window.
- escalation: categories that must go up at once (safety incidents) are due at the
  given tier within the given time.
- keep informed: while waiting on a third party, an update to the customer is due every
  N minutes; each reply restarts it.
"""

from __future__ import annotations

from collections.abc import Set
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from deskdrill.db.kept import held_one
from deskdrill.drills.models import Drill
from deskdrill.sla.models import SlaFiring
from deskdrill.sla.policy import SlaPolicy, policy_from_settings
from deskdrill.sla.view import clocks, moments
from deskdrill.tickets.enums import Status
from deskdrill.tickets.models import Ticket
from deskdrill.tickets.next_checks import NextChecks
from deskdrill.tickets.recording import AFTER_CHANGE, Change

_MS = timedelta(milliseconds=1)
_REOPENING = {"reopen", "customer_message"}
_DONE = (Status.resolved, Status.closed)
ENGINE = "sla-engine"


def policy_for(session: Session, drill_id: int) -> SlaPolicy:
    """The drill's policy (the drill row from the session when it holds it already)."""
    return policy_from_settings(held_one(session, Drill, drill_id).settings)


def follow(session: Session, ticket: Ticket, change: Change) -> None:
    """The AFTER_CHANGE hook: bring the deadlines up to date with what just happened.

    The next check is the earliest warning or breach not yet recorded. A timer still late
    (first response missed, no reply yet) keeps moments in the past that the engine has
    recorded already: only then are the ticket's recorded firings read, so that the engine
    is not woken for them again."""
    policy = policy_for(session, ticket.drill_id)
    update(ticket, change, policy)
    found = next_check(ticket, policy, after=None)
    if found is not None and found <= change.at.sim and ticket.id is not None:
        recorded = {
            tuple(row) for row in session.connection().execute(_RECORDED, {"ticket": ticket.id})
        }
        if recorded:
            found = next_check(ticket, policy, after=None, recorded=recorded)
    ticket.sla_next_check = found
    if ticket.id is not None:  # a new ticket's is noted as it is inserted
        NextChecks.noted(session, ticket.drill_id, ((ticket.id, found),))


_RECORDED = select(SlaFiring.timer, SlaFiring.kind, SlaFiring.due).where(
    SlaFiring.ticket_id == bindparam("ticket")
)
_KINDS = ("warning", "breach")


def next_check(
    ticket: Any,
    policy: SlaPolicy,
    *,
    after: datetime | None,
    recorded: Set[tuple[str, str, datetime]] = frozenset(),
) -> datetime | None:
    """The earliest warning or breach moment still to come (after ``after``, if given) of
    the ticket's running timers, leaving out the ``recorded`` firings (timer, kind, due);
    None when nothing can fall due."""
    if ticket.status in _DONE:
        return None
    found: datetime | None = None
    for clock in clocks(ticket, policy, after or ticket.updated_at):
        if not clock.can_fire:
            continue
        for kind, moment in zip(_KINDS, moments(clock, policy), strict=True):
            if (
                (after is None or moment > after)
                and (found is None or moment < found)
                and (not recorded or (clock.name, kind, clock.due) not in recorded)
            ):
                found = moment
    return found


def _target(policy: SlaPolicy, ticket: Ticket, kind: str) -> timedelta:
    return policy.target(ticket.priority, kind, ticket.channel, ticket.category)


def update(ticket: Ticket, change: Change, policy: SlaPolicy) -> None:
    at, action = change.at.sim, change.action
    resolution = _target(policy, ticket, "resolution")
    if action == "receive":
        received = ticket.received_at
        ticket.first_response_due = policy.add(received, _target(policy, ticket, "first_response"))
        ticket.resolution_due = policy.add(received, resolution)
        rule = policy.escalate.get(ticket.category)
        if rule is not None:
            ticket.escalation_due = policy.add(received, rule.target)
        return
    _pause_or_resume(ticket, change, policy)
    if action == "change_priority" and change.actor != ENGINE:
        # A priority bumped by the engine after a miss keeps its deadlines: otherwise the
        # shorter targets would count the same lateness again.
        received = ticket.received_at
        ticket.first_response_due = policy.add(received, _target(policy, ticket, "first_response"))
        if ticket.paused_since is None and ticket.resolution_due is not None:
            ticket.resolution_due = policy.add(received, resolution + ticket.paused_ms * _MS)
        if ticket.awaiting_reply_since is not None:
            ticket.next_response_due = policy.add(
                ticket.awaiting_reply_since, _target(policy, ticket, "next_response")
            )
    elif action == "reply":
        ticket.awaiting_reply_since = ticket.next_response_due = None
        if ticket.status == Status.pending_third_party and policy.keep_informed_every:
            ticket.update_due = policy.add(at, policy.keep_informed)
    elif (
        action == "customer_message"
        and ticket.first_response_at is not None
        and ticket.awaiting_reply_since is None
    ):
        ticket.awaiting_reply_since = at
        ticket.next_response_due = policy.add(at, _target(policy, ticket, "next_response"))
    if action in _REOPENING and change.before in _DONE:
        # From resolved or closed alike: the time it stood done counts for no timer.
        ticket.resolution_due, ticket.paused_ms = policy.add(at, resolution), 0
    if ticket.status == Status.pending_third_party and change.before != Status.pending_third_party:
        if policy.keep_informed_every:
            ticket.update_due = policy.add(at, policy.keep_informed)
    elif ticket.status != Status.pending_third_party:
        ticket.update_due = None


def _pause_or_resume(ticket: Ticket, change: Change, policy: SlaPolicy) -> None:
    at = change.at.sim
    paused = ticket.status in policy.pause_on
    if paused and ticket.paused_since is None:
        ticket.paused_since = at
    elif not paused and ticket.paused_since is not None:
        # SLA time spent waiting (open time only, with business hours) is given back.
        held = max(policy.between(ticket.paused_since, at), timedelta(0))
        ticket.paused_ms += held // _MS
        if ticket.resolution_due is not None:
            ticket.resolution_due = policy.add(ticket.resolution_due, held // _MS * _MS)
        ticket.paused_since = None


def install() -> None:
    """Register with the tickets domain (idempotent)."""
    if follow not in AFTER_CHANGE:
        AFTER_CHANGE.append(follow)
