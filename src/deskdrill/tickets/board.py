"""A trainee's desk at one moment: the queues they work from, each row with its most
pressing SLA timer. Every list is a bounded, indexed read, so the desk costs the same in a
drill of 100 tickets or of 100,000.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from deskdrill.accounts.models import User
from deskdrill.customers.models import Party
from deskdrill.drills import service as drills
from deskdrill.sla.deadlines import policy_for
from deskdrill.sla.policy import SlaPolicy
from deskdrill.sla.view import Timer, TimerState, timers
from deskdrill.tickets.models import Ticket

ROWS = 50
SOON = timedelta(minutes=15)  # simulated: "breaching soon" looks this far ahead
LEVELS = ("L1", "L2", "supervisor", "incident_desk")
_RUNNING = (TimerState.ok, TimerState.warning, TimerState.breached)


@dataclass(frozen=True)
class Row:
    key: str
    subject: str
    category: str
    priority: str
    status: str
    tier: str
    channel: str
    customer: str | None
    assignee: str | None
    received_at: datetime
    timer: Timer | None  # the running timer closest to (or furthest past) its due time


@dataclass
class Board:
    tier: str
    mine: list[Row] = field(default_factory=list)
    unassigned: list[Row] = field(default_factory=list)
    escalated: list[Row] = field(default_factory=list)
    soon: list[Row] = field(default_factory=list)


def pressing(ticket: Ticket, policy: SlaPolicy, now: datetime) -> Timer | None:
    running = [t for t in timers(ticket, policy, now) if t.state in _RUNNING and t.due]
    return min(running, key=lambda t: t.seconds_left or 0, default=None)


def board(*, session: Session, user: User, drill_id: int, now: datetime) -> Board:
    """The desk of ``user`` in the drill (NotFound unless they may see it)."""
    drills.get_drill(session=session, drill_id=drill_id, user=user)
    tier = drills.tier_in(session=session, drill_id=drill_id, user=user)
    policy = policy_for(session, drill_id)
    active = select(Ticket).where(Ticket.drill_id == drill_id, Ticket.active.is_(True))
    by_urgency = (Ticket.priority, Ticket.received_at, Ticket.id)
    mine = active.where(Ticket.assignee_id == user.id).order_by(*by_urgency)
    unassigned = active.where(Ticket.assignee_id.is_(None), Ticket.tier == tier)
    above = [level for level in LEVELS if level != "L1"]
    escalated = active.where(Ticket.tier.in_(above)).order_by(*by_urgency)
    # Breaching soon: on my desk, or waiting in my tier's queue, next timer within SOON.
    soon = (
        select(Ticket)
        .where(
            Ticket.drill_id == drill_id,
            Ticket.sla_next_check.is_not(None),
            Ticket.sla_next_check <= now + SOON,
            Ticket.active.is_(True),
            or_(
                Ticket.assignee_id == user.id,
                and_(Ticket.assignee_id.is_(None), Ticket.tier == tier),
            ),
        )
        .order_by(Ticket.sla_next_check, Ticket.id)
    )

    def rows(query: Select[tuple[Ticket]]) -> list[Row]:
        return _rows(session, list(session.scalars(query.limit(ROWS))), policy, now)

    return Board(
        tier=tier,
        mine=rows(mine),
        unassigned=rows(unassigned.order_by(*by_urgency)),
        escalated=rows(escalated),
        soon=rows(soon),
    )


def _rows(session: Session, tickets: list[Ticket], policy: SlaPolicy, now: datetime) -> list[Row]:
    party_ids = {t.party_id for t in tickets if t.party_id}
    user_ids = {t.assignee_id for t in tickets if t.assignee_id}
    parties = (
        dict(session.execute(select(Party.id, Party.name).where(Party.id.in_(party_ids))).all())
        if party_ids
        else {}
    )
    names = (
        dict(session.execute(select(User.id, User.username).where(User.id.in_(user_ids))).all())
        if user_ids
        else {}
    )
    return [
        Row(
            key=t.key,
            subject=t.subject,
            category=t.category,
            priority=t.priority,
            status=t.status,
            tier=t.tier,
            channel=t.channel,
            customer=parties.get(t.party_id),
            assignee=names.get(t.assignee_id),
            received_at=t.received_at,
            timer=pressing(t, policy, now),
        )
        for t in tickets
    ]
