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
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from deskdrill.accounts.models import User
from deskdrill.core.clock import Instant
from deskdrill.sla.deadlines import next_check, policy_for
from deskdrill.sla.models import Notification, SlaFiring
from deskdrill.sla.policy import SlaPolicy
from deskdrill.sla.view import Timer, TimerState, timers
from deskdrill.tickets.models import Ticket, TicketEvent, ticket_key
from deskdrill.tickets.recording import record
from deskdrill.tickets.trail import GENESIS, event_hash

BATCH = 500
SYSTEM = "sla-engine"


_TICKETS = Ticket.__table__
_UPDATE_TICKET = (
    _TICKETS.update()
    .where(_TICKETS.c.id == bindparam("tid"), _TICKETS.c.version == bindparam("old_version"))
    .values(
        event_count=bindparam("new_count"),
        head_hash=bindparam("new_head"),
        version=bindparam("new_version"),
        sla_next_check=bindparam("next"),
    )
)
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
        "received_at",
        "updated_at",
        "first_response_due",
        "first_response_at",
        "next_response_due",
        "resolution_due",
        "resolved_at",
        "paused_since",
        "escalation_due",
        "escalated_at",
        "update_due",
        "event_count",
        "head_hash",
        "version",
    )
]
_MOVE_CHECK = (
    _TICKETS.update()
    .where(_TICKETS.c.id == bindparam("tid"))
    .values(sla_next_check=bindparam("next"))
)


def step(session: Session, drill_id: int, now: Instant) -> int:
    """Process what is due in one drill up to ``now.sim``; returns the firings recorded.

    Set-based: one read of the due rows, one insert that claims every firing (rows already
    claimed, by an earlier step or another process, come back absent), one insert of the
    events, one of the notices, and one batched update of the tickets.
    """
    policy = policy_for(session, drill_id)
    session.flush()
    rows = session.execute(
        select(*_ENGINE_COLUMNS)
        .where(_TICKETS.c.drill_id == drill_id, _TICKETS.c.sla_next_check <= now.sim)
        .order_by(_TICKETS.c.sla_next_check, _TICKETS.c.id)
        .limit(BATCH)
        .with_for_update(skip_locked=True)
    ).all()
    if not rows:
        return 0
    current = {row.id: timers(row, policy, now.sim) for row in rows}
    by_ticket = {row.id: _due_firings(current[row.id], policy, now) for row in rows}
    wanted = [(row, *firing) for row in rows for firing in by_ticket[row.id]]
    claimed = _claim_all(session, wanted, now.wall)
    events, notices, updates, moves, acting = [], [], [], [], []
    for row in rows:
        mine = sorted(
            ((row, *f) for f in by_ticket[row.id] if (row.id, f[0], f[1], f[3]) in claimed),
            key=lambda f: (f[3], f[2] == "breach"),
        )
        head, count = row.head_hash or GENESIS, row.event_count
        for _, timer, kind, moment, due in mine:
            count += 1
            payload = {"timer": timer, "due": due.isoformat()}
            digest = event_hash(
                seq=count,
                type=f"sla_{kind}",
                actor=SYSTEM,
                sim_at=moment,
                payload=payload,
                prev_hash=head,
            )
            events.append(
                {
                    "ticket_id": row.id,
                    "seq": count,
                    "type": f"sla_{kind}",
                    "actor": SYSTEM,
                    "sim_at": moment,
                    "wall_at": now.wall,
                    "payload": payload,
                    "prev_hash": head,
                    "hash": digest,
                }
            )
            head = digest
            if kind == "breach":
                actions = policy.on_breach.get(timer, [])
                if "notify" in actions:
                    notices.append(_notice(row, timer, moment, now.wall))
                if any(a != "notify" for a in actions):
                    acting.append((row.id, timer, moment))
        following = next_check(row, policy, after=now.sim, known=current[row.id])
        if mine:
            updates.append(
                {
                    "tid": row.id,
                    "old_version": row.version,
                    "new_count": count,
                    "new_head": head,
                    "new_version": row.version + 1,
                    "next": following,
                }
            )
        else:
            moves.append({"tid": row.id, "next": following})
    connection = session.connection()
    if events:
        connection.execute(TicketEvent.__table__.insert(), events)
    if notices:
        connection.execute(Notification.__table__.insert(), notices)
    if updates:
        changed = connection.execute(_UPDATE_TICKET, updates).rowcount
        if changed not in (-1, len(updates)):
            raise StaleDataError("a ticket changed while the SLA engine recorded its firings")
    if moves:
        connection.execute(_MOVE_CHECK, moves)
    for ticket_id, timer, moment in acting:
        _act(session, ticket_id, timer, policy, Instant(sim=moment, wall=now.wall))
    return len(events)


def _due_firings(
    running: list[Timer], policy: SlaPolicy, now: Instant
) -> list[tuple[str, str, datetime, datetime]]:
    """(timer, kind, moment, due) of every warning and breach reached by ``now``."""
    found = []
    for timer in running:
        if timer.due is None or timer.state in (TimerState.met, TimerState.paused):
            continue
        warn = timer.due - timedelta(seconds=timer.target_seconds * (1 - policy.warning_at))
        for kind, moment in (("warning", warn), ("breach", timer.due)):
            if moment <= now.sim:
                found.append((timer.name, kind, moment, timer.due))
    return found


def _claim_all(
    session: Session, wanted: list[tuple[Any, ...]], wall: datetime
) -> set[tuple[int, str, str, datetime]]:
    """Insert every firing's stable key at once; those inserted now are ours to record."""
    if not wanted:
        return set()
    dialect = session.get_bind().dialect.name
    insert_ = postgresql_insert if dialect == "postgresql" else sqlite_insert
    table = SlaFiring.__table__
    statement = (
        insert_(table)
        .on_conflict_do_nothing(index_elements=["ticket_id", "timer", "kind", "due"])
        .returning(table.c.ticket_id, table.c.timer, table.c.kind, table.c.due)
    )
    values = [
        {"ticket_id": row.id, "timer": timer, "kind": kind, "due": due, "fired_wall": wall}
        for row, timer, kind, _, due in wanted
    ]
    result = session.connection().execute(statement, values)
    return {(r[0], r[1], r[2], r[3]) for r in result}


def _notice(row: Any, timer: str, moment: datetime, wall: datetime) -> dict[str, Any]:
    return {
        "drill_id": row.drill_id,
        "user_id": row.assignee_id,
        "role": None if row.assignee_id else "trainer",
        "ticket_id": row.id,
        "kind": "sla_breach",
        "message": f"{ticket_key(row.id)}: {timer.replace('_', ' ')} target missed",
        "sim_at": moment,
        "wall_at": wall,
    }


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
