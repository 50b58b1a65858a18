"""A trainee's desk at one moment: the queues they work from, each row with its most
pressing SLA timer. Every list is a bounded, indexed read, so the desk costs the same in a
drill of 100 tickets or of 100,000.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Select, and_, bindparam, func, or_, select
from sqlalchemy.orm import Session

from deskdrill.accounts.models import User
from deskdrill.customers.models import Party
from deskdrill.drills import service as drills
from deskdrill.sla.deadlines import policy_for
from deskdrill.sla.policy import SlaPolicy
from deskdrill.sla.view import Timer, TimerState, timers
from deskdrill.tickets.models import Ticket, TicketEvent, ticket_key

ROWS = 50
T = TypeVar("T")
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
    mark: int = 0  # the newest trail event when it was read: the shared lists' version
    mine: list[Row] = field(default_factory=list)
    unassigned: list[Row] = field(default_factory=list)
    escalated: list[Row] = field(default_factory=list)
    soon: list[Row] = field(default_factory=list)


def pressing(ticket: Any, policy: SlaPolicy, now: datetime) -> Timer | None:
    running = [t for t in timers(ticket, policy, now) if t.state in _RUNNING and t.due]
    return min(running, key=lambda t: t.seconds_left or 0, default=None)


_T = Ticket.__table__
# What a row shows and what its timers need: no trail heads, tags or findings to decode.
_COLUMNS = [_T.c[name] for name in (
    "id", "subject", "category", "priority", "status", "tier", "channel", "received_at",
    "assignee_id", "first_response_due", "first_response_at", "next_response_due",
    "resolution_due", "resolved_at", "paused_since", "escalation_due", "escalated_at",
    "update_due",
)]  # fmt: skip
_LISTED = (
    select(*_COLUMNS, Party.name.label("customer"), User.username.label("assignee"))
    .select_from(_T)
    .outerjoin(Party, Party.id == _T.c.party_id)
    .outerjoin(User, User.id == _T.c.assignee_id)
)


class Shared:
    """The drill-wide lists (a tier's unassigned queue, the escalated tickets) are the same
    for everyone at that tier: when a new ticket makes every open desk refresh at once,
    they are read once. An entry is good for one state of the trail (``mark``) and at most
    ``ttl`` seconds; the pages' countdowns move on by themselves in between."""

    def __init__(self, ttl: float = 2.0, size: int = 256) -> None:
        self.ttl, self.size = ttl, size
        self._entries: dict[tuple[Any, ...], tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...], make: Callable[[], T]) -> T:
        now = time.monotonic()
        with self._lock:
            found = self._entries.get(key)
        if found is not None and now - found[0] <= self.ttl:
            return found[1]  # type: ignore[no-any-return]
        rows = make()
        with self._lock:
            if len(self._entries) >= self.size:
                self._entries.clear()
            self._entries[key] = (now, rows)
        return rows

    def forget(self, drill_id: int) -> None:
        """Drop a drill's entries (its tickets changed in a way the key may not show: a
        transaction that took its event id early and committed late)."""
        with self._lock:
            for key in [k for k in self._entries if k[1] == drill_id]:
                del self._entries[key]


SHARED = Shared()


def _lists() -> dict[str, Select[Any]]:
    """The four lists as statements built once; a request only binds its values."""
    drill, me, tier = bindparam("drill"), bindparam("me"), bindparam("tier")
    active = _LISTED.where(_T.c.drill_id == drill, _T.c.active.is_(True))
    by_urgency = (_T.c.priority, _T.c.received_at, _T.c.id)
    above = [level for level in LEVELS if level != "L1"]
    # Breaching soon: on my desk, or waiting in my tier's queue, next timer within SOON.
    soon = _LISTED.where(
        _T.c.drill_id == drill,
        _T.c.sla_next_check.is_not(None),
        _T.c.sla_next_check <= bindparam("until", type_=_T.c.sla_next_check.type),
        _T.c.active.is_(True),
        or_(_T.c.assignee_id == me, and_(_T.c.assignee_id.is_(None), _T.c.tier == tier)),
    ).order_by(_T.c.sla_next_check, _T.c.id)
    return {
        "mine": active.where(_T.c.assignee_id == me).order_by(*by_urgency).limit(ROWS),
        "unassigned": active.where(_T.c.assignee_id.is_(None), _T.c.tier == tier)
        .order_by(*by_urgency)
        .limit(ROWS),
        "escalated": active.where(_T.c.tier.in_(above)).order_by(*by_urgency).limit(ROWS),
        "soon": soon.limit(ROWS),
    }


_LISTS = _lists()
_MARK = select(func.max(TicketEvent.id))


def board(
    *,
    session: Session,
    user: User,
    drill_id: int,
    now: datetime,
    own: bool = True,
    shared: bool = True,
) -> Board:
    """The desk of ``user`` in the drill (NotFound unless they may see it): their own lists
    (mine, breaching soon) and the drill-wide ones (unassigned at their tier, escalated)."""
    drills.get_drill(session=session, drill_id=drill_id, user=user)
    tier = drills.tier_in(session=session, drill_id=drill_id, user=user)
    policy = policy_for(session, drill_id)
    values = {"drill": drill_id, "me": user.id, "tier": tier, "until": now + SOON}

    def rows(name: str) -> list[Row]:
        return [_row(r, policy, now) for r in session.execute(_LISTS[name], values)]

    found = Board(tier=tier, mark=session.scalar(_MARK) or 0)
    if own:
        found.mine, found.soon = rows("mine"), rows("soon")
    if shared:
        key = (drill_id, tier, found.mark)
        found.unassigned = SHARED.get(("unassigned", *key), lambda: rows("unassigned"))
        found.escalated = SHARED.get(("escalated", *key), lambda: rows("escalated"))
    return found


def _row(r: Any, policy: SlaPolicy, now: datetime) -> Row:
    return Row(
        key=ticket_key(r.id),
        subject=r.subject,
        category=r.category,
        priority=r.priority,
        status=r.status,
        tier=r.tier,
        channel=r.channel,
        customer=r.customer,
        assignee=r.assignee,
        received_at=r.received_at,
        timer=pressing(r, policy, now),
    )
