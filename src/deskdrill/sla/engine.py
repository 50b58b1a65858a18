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
from functools import cache
from typing import Any

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.orm.util import identity_key

from deskdrill.accounts.models import User
from deskdrill.core.clock import Instant, iso_ms
from deskdrill.db.base import UTCDateTime
from deskdrill.db.bulk import (
    Processor,
    bind_processor,
    insert_returning,
    insert_rows,
    update_rows,
)
from deskdrill.db.deferred import Deferred
from deskdrill.sla.deadlines import policy_for
from deskdrill.sla.models import Notification, SlaFiring
from deskdrill.sla.policy import SlaPolicy
from deskdrill.sla.view import clocks, moments
from deskdrill.tickets.enums import Status
from deskdrill.tickets.models import Ticket, TicketEvent, ticket_key
from deskdrill.tickets.next_checks import NextChecks
from deskdrill.tickets.recording import Trail, record
from deskdrill.tickets.trail import GENESIS, encoded_event_hash

# A thousand due items (the busiest minute of a large drill) in one write transaction.
BATCH = 1000
SYSTEM = "sla-engine"


_TICKETS = Ticket.__table__
# Only what the timers need: no subjects, tags or findings to decode.
_ENGINE_COLUMNS = [
    _TICKETS.c[name]
    for name in (
        "id",
        "drill_id",
        "assignee_id",
        "priority",
        "channel",
        "category",
        "status",
        "tier",
        "first_response_due",
        "first_response_at",
        "next_response_due",
        "resolution_due",
        "resolved_at",
        "paused_since",
        "escalation_due",
        "escalated_at",
        "update_due",
        "sla_next_check",
        "event_count",
        "head_hash",
        "version",
    )
]
_FIRINGS = SlaFiring.__table__
_EVENTS = TicketEvent.__table__
_NOTICES = Notification.__table__
_FIRING_KEY = ("ticket_id", "timer", "kind", "due")
_EVENT_COLUMNS = ("ticket_id", "seq", "type", "actor", "sim_at", "wall_at", "payload")
_EVENT_COLUMNS += ("prev_hash", "hash")
_NOTICE_COLUMNS = ("drill_id", "user_id", "role", "ticket_id", "kind", "message", "sim_at")
_NOTICE_COLUMNS += ("wall_at",)
_RECORDED = ("event_count", "head_hash", "version", "sla_next_check")
_DONE = (Status.resolved, Status.closed)


_DUE = (
    select(*_ENGINE_COLUMNS)
    .where(
        _TICKETS.c.drill_id == bindparam("drill"),
        _TICKETS.c.sla_next_check <= bindparam("upto", type_=UTCDateTime()),
    )
    .order_by(_TICKETS.c.sla_next_check, _TICKETS.c.id)
    .limit(BATCH)
    # FOR NO KEY UPDATE (the lock its UPDATE takes anyway), not FOR UPDATE, which also
    # holds up others' inserts that refer to the ticket: a trainee's note then waited on
    # the engine while the engine waited on the trainee, and PostgreSQL broke the deadlock.
    .with_for_update(skip_locked=True, key_share=True)
)


def step(session: Session, drill_id: int, now: Instant) -> int:
    """Process what is due in one drill up to ``now.sim``; returns the firings recorded."""
    return batch(session, drill_id, now)[0]


def batch(session: Session, drill_id: int, now: Instant) -> tuple[int, bool]:
    """``step``, and whether it took a full batch (so more may be due up to ``now``).

    Knowing that saves asking the due index again right after the step, which on
    PostgreSQL walks the index entries of every row the step has just moved.

    Set-based (see ``db.bulk``): one read of the due rows, one insert that claims every
    firing (rows already claimed, by an earlier step or another process, are skipped;
    ``_claim_all`` tells which were ours), then one statement each for the events, the
    notices and the tickets.
    """
    session.flush()
    connection = session.connection()
    rows = connection.execute(_DUE, {"drill": drill_id, "upto": now.sim}).all()
    if not rows:
        return 0, False
    policy = policy_for(session, drill_id)  # read only when there is work for it
    # Remembered for the step: a breach moment is also its due time and its key.
    when = cache(bind_processor(connection.dialect, UTCDateTime()))
    wall = when(now.wall)
    plans = [_plan(row, policy, now.sim) for row in rows]
    claimed = _claim_all(connection, plans, when, wall)
    events, notices, recorded, moved, acting = [], [], [], [], []
    for row, firings, following in plans:
        mine = (
            firings
            if claimed is None
            else [f for f in firings if (row.id, *f[:2], f[3]) in claimed]
        )
        if not mine:
            moved.append((when(following), row.id))
            continue
        if len(mine) > 1:
            mine.sort(key=_in_order)
        head, count = row.head_hash or GENESIS, row.event_count
        for timer, kind, moment, due in mine:
            count += 1
            # The payload {"timer", "due"} as text, written directly: timer names are
            # identifiers and ISO times need no escaping. The hash covers the canonical
            # form (sorted keys, no spaces); the stored form is what the JSON column
            # writes for the same dict, as for every other event.
            due_text = due.isoformat()
            canonical = f'{{"due":"{due_text}","timer":"{timer}"}}'
            payload = f'{{"timer": "{timer}", "due": "{due_text}"}}'
            type_ = _TYPES[kind]
            digest = encoded_event_hash(
                seq=count,
                type=type_,
                actor=SYSTEM,
                sim_text=_iso_ms(due_text, due) if moment is due else iso_ms(moment),
                payload_json=canonical,
                prev_hash=head,
            )
            at = when(moment)
            events.append((row.id, count, type_, SYSTEM, at, wall, payload, head, digest))
            head = digest
            if kind == "breach":
                notify, other = _actions_on_miss(policy, timer)
                if notify:
                    notices.append(_notice(row, timer, at, wall))
                if other:
                    acting.append((row.id, timer, moment))
        recorded.append((count, head, row.version + 1, when(following), row.id, row.version))
    Deferred.flush(session)  # events put off first: the trail's ids stay in time order
    insert_rows(connection, _EVENTS, _EVENT_COLUMNS, events)
    Trail.note(session, ((e[0], e[2]) for e in events))
    insert_rows(connection, _NOTICES, _NOTICE_COLUMNS, notices)
    changed = update_rows(connection, _TICKETS, _RECORDED, ("id", "version"), recorded)
    if changed not in (-1, len(recorded)):
        raise StaleDataError("a ticket changed while the SLA engine recorded its firings")
    update_rows(connection, _TICKETS, ("sla_next_check",), ("id",), moved)
    NextChecks.noted(session, drill_id, ((row.id, following) for row, _, following in plans))
    _forget(session, [r[4] for r in recorded], [m[1] for m in moved])
    for ticket_id, timer, moment in acting:
        _act(session, ticket_id, timer, policy, Instant(sim=moment, wall=now.wall))
    return len(events), len(rows) == BATCH


Firing = tuple[str, str, datetime, datetime]  # timer, kind, moment, due
_TYPES = {"warning": "sla_warning", "breach": "sla_breach"}


def _in_order(firing: Firing) -> tuple[datetime, bool]:
    """Simulated-time order; of a warning and a breach at one moment, the warning first."""
    return firing[2], firing[1] == "breach"


def _iso_ms(iso: str, moment: datetime) -> str:
    """``iso_ms`` from the moment's ``isoformat()`` (UTC), which the caller holds already."""
    return f"{iso[:23]}Z" if moment.microsecond else f"{iso[:19]}.000Z"


def _actions_on_miss(policy: SlaPolicy, timer: str) -> tuple[bool, bool]:
    """Whether a miss of ``timer`` notifies, and whether it has other actions."""
    actions = policy.on_breach.get(timer, ())
    return "notify" in actions, any(a != "notify" for a in actions)


def _forget(session: Session, recorded: list[int], moved: list[int]) -> None:
    """The rows were written past the ORM: expire what the session holds of them, so a
    session that lives on (the headless runner's) reads them again instead of writing a
    stale version or trail head."""
    if not session.identity_map:
        return
    for ids, attributes in ((recorded, None), (moved, ["sla_next_check"])):
        for ticket_id in ids:
            held = session.identity_map.get(identity_key(Ticket, ticket_id))
            if held is not None:
                session.expire(held, attributes)


def _plan(row: Any, policy: SlaPolicy, now: datetime) -> tuple[Any, list[Firing], datetime | None]:
    """The firings of one ticket reached by ``now``, and its next check after ``now``.

    Only moments from the ticket's next check on: those before it were claimed when that
    check was set (the engine sets it past every moment it has claimed; a change sets it
    to the earliest moment of the running timers, which no moment precedes). Proposing
    them again would only collide with their stored keys."""
    firings: list[Firing] = []
    following: datetime | None = None
    if row.status in _DONE:
        return row, firings, None
    since = row.sla_next_check
    for clock in clocks(row, policy, now):
        if not clock.can_fire:
            continue
        warn, due = moments(clock, policy)
        for kind, moment in (("warning", warn), ("breach", due)):
            if moment <= now:
                if moment >= since:
                    firings.append((clock.name, kind, moment, due))
            elif following is None or moment < following:
                following = moment
    return row, firings, following


def _claim_all(
    connection: Connection, plans: list[Any], when: Processor, wall: Any
) -> set[tuple[int, str, str, datetime]] | None:
    """Insert every firing's stable key at once; those inserted now are ours to record.
    Returns their keys, or None when every one was inserted (the usual case)."""
    rows = [
        (row.id, timer, kind, when(due), wall, str(row.priority))
        for row, firings, _ in plans
        for timer, kind, _, due in firings
    ]
    if not rows:
        return None
    columns = (*_FIRING_KEY, "fired_wall", "priority")
    if connection.dialect.name == "sqlite":
        # This transaction holds SQLite's only write lock: when every row went in, all
        # are ours; otherwise ours are those with ids past the newest one before.
        newest = connection.exec_driver_sql(f"SELECT max(id) FROM {_FIRINGS.name}").scalar()
        inserted = insert_rows(connection, _FIRINGS, columns, rows, skip_conflicts_on=_FIRING_KEY)
        if inserted == len(rows):
            return None
        found: list[Any] = connection.exec_driver_sql(
            f"SELECT {', '.join(_FIRING_KEY)} FROM {_FIRINGS.name} WHERE id > ?", (newest or 0,)
        ).all()
    else:
        # Another process may claim at the same moment: the rows that come back are ours.
        found = insert_returning(
            connection, _FIRINGS, columns, rows, skip_conflicts_on=_FIRING_KEY,
            returning=_FIRING_KEY,
        )  # fmt: skip
        if len(found) == len(rows):
            return None
    keys = {
        (row.id, timer, kind, when(due)): (row.id, timer, kind, due)
        for row, firings, _ in plans
        for timer, kind, _, due in firings
    }
    return {keys[tuple(key)] for key in found}


def _notice(row: Any, timer: str, moment: Any, wall: Any) -> tuple[Any, ...]:
    message = f"{ticket_key(row.id)}: {_missed(timer)}"
    role = None if row.assignee_id else "trainer"
    return (row.drill_id, row.assignee_id, role, row.id, "sla_breach", message, moment, wall)


@cache
def _missed(timer: str) -> str:
    return f"{timer.replace('_', ' ')} target missed"


def _act(session: Session, ticket_id: int, timer_name: str, policy: SlaPolicy, at: Instant) -> None:
    """The policy's other actions for a miss, just after it, through the ticket service."""
    ticket = session.get(Ticket, ticket_id, populate_existing=True)
    assert ticket is not None
    moment = Instant(sim=at.sim + timedelta(milliseconds=1), wall=at.wall)
    for action in policy.on_breach.get(timer_name, []):
        if action != "notify":
            ACTIONS[action](session, ticket, timer_name, policy, moment)


# Acts on the trail under this name; never a row in the users table.
SYSTEM_ACTOR = User(username=SYSTEM, role="admin", tier="supervisor")
NEXT_TIER = {"L1": "L2", "L2": "supervisor", "supervisor": "incident_desk"}
HIGHER = {"P4": "P3", "P3": "P2", "P2": "P1"}


def _bump(session: Session, ticket: Ticket, timer: str, policy: SlaPolicy, at: Instant) -> None:
    higher = HIGHER.get(ticket.priority)
    if higher is None or not ticket.active:
        return
    record(
        session,
        ticket,
        action="change_priority",
        actor=SYSTEM_ACTOR,
        at=at,
        payload={"from": ticket.priority, "reason": f"{timer} target missed"},
        changes={"priority": higher},
    )


def _escalate(session: Session, ticket: Ticket, timer: str, policy: SlaPolicy, at: Instant) -> None:
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
            "reason": f"{timer} target missed",
            "automatic": True,
        },
        changes=changes,
    )


ACTIONS: dict[str, Callable[[Session, Ticket, str, SlaPolicy, Instant], None]] = {
    "bump_priority": _bump,
    "escalate": _escalate,
}
