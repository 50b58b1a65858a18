"""Every change to a ticket goes through ``record``: check the transition, apply the change
to the row, and append the hash-chained event, all in the caller's transaction."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import bindparam, event, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from deskdrill.accounts.enums import Role
from deskdrill.accounts.models import User
from deskdrill.core.clock import Instant, iso_ms
from deskdrill.core.errors import Forbidden, StaleVersion
from deskdrill.customers.models import Order, Party
from deskdrill.db.deferred import Deferred
from deskdrill.db.journal import Indexed
from deskdrill.drills import service as drills
from deskdrill.tickets.desks import Desks
from deskdrill.tickets.enums import ACTIVE_STATUSES
from deskdrill.tickets.lifecycle import next_status
from deskdrill.tickets.models import Ticket, TicketEvent, ticket_key
from deskdrill.tickets.trail import GENESIS, event_hash


class Trail(Indexed):
    """The events a session wrote, as (ticket id, type) in order (for a session that keeps
    this journal): every writer of trail events notes here. It answers which tickets
    changed since a mark, and a ticket's event types without reading its trail back."""

    key = "deskdrill.trail"

    @staticmethod
    def key_of(entry: tuple[int, str]) -> int:
        return entry[0]

    def tickets_since(self, mark: int) -> set[int]:
        return {ticket_id for ticket_id, _type in self.since(mark)}

    @classmethod
    def types_of(cls, session: Session, ticket: Ticket) -> set[str] | None:
        """The types of the ticket's events, if the session's trail noted every one of
        them (it wrote the ticket's whole trail); otherwise None: read the trail."""
        trail = cls.of(session)
        held = trail.by.get(ticket.id) if trail is not None else None
        if held is None or len(held) != ticket.event_count:
            return None
        return {type_ for _ticket, type_ in held}


# Every writer of trail events inserts with this statement, so that a session that puts
# the inserts off (db.deferred) sends them as one batch, in the order they were written.
INSERT_EVENT = TicketEvent.__table__.insert()


# Actions a trainee may take on a ticket that is not assigned to them.
UNASSIGNED_OK = frozenset({"claim"})
# Actions only trainers and admins may take (they simulate the outside world or manage).
MANAGER_ONLY = frozenset({"assign", "customer_message", "third_party_message", "customer_rating"})


def check_version(ticket: Ticket, expected: int | None) -> None:
    if expected is not None and expected != ticket.version:
        raise StaleVersion(
            f"ticket {ticket.key} has changed since you loaded it (you have version {expected}, "
            f"it is now at version {ticket.version}); reload it and try again",
            current_version=ticket.version,
        )


TIER_RANK = {"L1": 1, "L2": 2, "supervisor": 3, "incident_desk": 4}


def check_tier(session: Session, ticket: Ticket, actor: User) -> None:
    """A trainee works tickets at their tier in the drill or below; higher tiers are
    someone else's."""
    if actor.role != Role.trainee:
        return
    tier = drills.tier_in(session=session, drill_id=ticket.drill_id, user=actor)
    if TIER_RANK[tier] < TIER_RANK[ticket.tier]:
        raise Forbidden(
            f"ticket {ticket.key} is at {ticket.tier}; as {tier} you cannot take or change its tier"
        )


def authorize(ticket: Ticket, actor: User, action: str) -> None:
    """Who may change what. Drill membership was checked when the ticket was loaded."""
    if actor.role == Role.qa:
        raise Forbidden("QA reviewers have read-only access to tickets")
    if actor.role in (Role.trainer, Role.admin):
        return
    if action in MANAGER_ONLY:
        raise Forbidden(f"only trainers and admins may {action.replace('_', ' ')}")
    if action in UNASSIGNED_OK:
        return
    if ticket.assignee_id is None:
        raise Forbidden(
            f"claim ticket {ticket.key} first: only its assignee (or a trainer) may "
            f"{action.replace('_', ' ')}"
        )
    if ticket.assignee_id != actor.id:
        raise Forbidden(
            f"ticket {ticket.key} is assigned to someone else; only they or a trainer can change it"
        )


def encode(value: Any) -> Any:
    """A value as the trail stores it: references by their stable names, no database ids."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, datetime):
        return iso_ms(value)
    if isinstance(value, User):
        return value.username
    if isinstance(value, Party):
        return value.ref
    if isinstance(value, Order):
        return value.number
    if isinstance(value, Ticket):
        return value.key
    if isinstance(value, list):
        return [encode(v) for v in value]
    return value


_ROW_FIELDS = {
    "assignee": "assignee_id",
    "party": "party_id",
    "order": "order_id",
    "merged_into": "merged_into_id",
}


def record(
    session: Session,
    ticket: Ticket,
    *,
    action: str,
    actor: User,
    at: Instant,
    payload: dict[str, Any] | None = None,
    changes: dict[str, Any] | None = None,
    event_type: str | None = None,
) -> int:
    """Apply ``changes`` (model objects allowed for references) and append one event;
    its sequence number on the ticket's trail."""
    changes = dict(changes or {})
    before = ticket.status
    status = next_status(action, ticket.status)
    for guard in BEFORE_CHANGE:
        guard(session, ticket, action)
    if status != ticket.status:
        changes["status"] = status
    for name, value in changes.items():
        if name in _ROW_FIELDS:
            setattr(ticket, _ROW_FIELDS[name], value.id if value is not None else None)
        else:
            setattr(ticket, name, value.value if isinstance(value, Enum) else value)
    ticket.active = ticket.status in ACTIVE_STATUSES
    ticket.updated_at = at.sim
    Desks.noted(session, (ticket,))
    body = {k: encode(v) for k, v in (payload or {}).items()}
    if changes:
        body["changes"] = {k: encode(v) for k, v in changes.items()}
    seq = append_event(
        session, ticket, type=event_type or action, actor=actor.username, at=at, payload=body
    )
    change = Change(action=action, before=before, at=at, actor=actor.username, payload=body)
    for hook in AFTER_CHANGE:
        hook(session, ticket, change)
    return seq


@dataclass(frozen=True, slots=True)
class Change:
    """What happened to a ticket, for domains that follow tickets (the SLA timers)."""

    action: str
    before: str | None
    at: Instant
    actor: str = ""
    payload: Mapping[str, Any] = field(default_factory=dict)  # as the event carries it


# Called before every change is applied; a guard refuses one by raising a DomainError (a
# scenario's incident that has no report yet cannot be resolved).
BEFORE_CHANGE: list[Callable[[Session, Ticket, str], None]] = []

# Called after every recorded change, in the same transaction. Domains that depend on
# tickets register here, so tickets never import them.
AFTER_CHANGE: list[Callable[[Session, Ticket, Change], None]] = []


def append_event(
    session: Session, ticket: Ticket, *, type: str, actor: str, at: Instant, payload: dict[str, Any]
) -> int:
    """Append one event to the ticket's trail (now, or with the session's other put-off
    writes); its sequence number."""
    RowLocks.hold(session, ticket)
    seq = ticket.event_count + 1
    prev = ticket.head_hash or GENESIS
    digest = event_hash(
        seq=seq, type=type, actor=actor, sim_at=at.sim, payload=payload, prev_hash=prev
    )
    row = {
        "ticket_id": ticket.id,
        "seq": seq,
        "type": type,
        "actor": actor,
        "sim_at": at.sim,
        "wall_at": at.wall,
        "payload": payload,
        "prev_hash": prev,
        "hash": digest,
    }
    Deferred.write(session, INSERT_EVENT, row)
    Trail.note(session, ((ticket.id, type),))
    ticket.event_count = seq
    ticket.head_hash = digest
    return seq


class StaleTicket(StaleDataError):
    """A ticket found changed since this session read it: which one, so that whoever
    works again can lock it before reading it afresh."""

    def __init__(self, message: str, ticket_id: int) -> None:
        super().__init__(message)
        self.ticket_id = ticket_id


class RowLocks:
    """The tickets whose rows a session's transaction has locked to number their events.

    Where writers work alongside (PostgreSQL: trainees, the engine), each takes a ticket's
    row lock before it numbers the ticket's next event. Otherwise two could take the same
    number, the second waiting on the first's event while holding the row the first must
    update (a deadlock), or failing on the trail's unique number. After the lock, a writer
    whose copy of the ticket is older than the row is refused as stale, as its update
    would be (a conflict the caller reports or works again). SQLite has one writer at a
    time, so nothing is locked there."""

    key = "deskdrill.row_locks"
    _LOCK = (
        select(Ticket.version)
        .where(Ticket.id == bindparam("id"))
        .with_for_update(key_share=True)  # FOR NO KEY UPDATE, as the UPDATE itself takes
    )

    def __init__(self, session: Session) -> None:
        self.locks = session.get_bind().dialect.name == "postgresql"
        self.transaction: object = None  # the one whose locks ``ids`` are
        self.ids: set[int] = set()

    @classmethod
    def hold(cls, session: Session, ticket: Ticket) -> None:
        held: RowLocks | None = session.info.get(cls.key)
        if held is None:
            held = session.info[cls.key] = cls(session)
        if not held.locks:
            return
        transaction = session.get_transaction()
        if held.transaction is not transaction:
            held.transaction, held.ids = transaction, set()
        if ticket.id in held.ids:
            return
        version = ticket.version  # the copy's, read before the row is
        # On the connection: the ORM would flush the ticket's pending changes first.
        locked = session.connection().execute(cls._LOCK, {"id": ticket.id}).scalar()
        if locked is not None and locked != version:
            raise StaleTicket(
                f"ticket {ticket.key} changed since it was read (version {version}, now {locked})",
                ticket.id,
            )
        held.ids.add(ticket.id)

    @classmethod
    def forget(cls, session: Session, *_args: object) -> None:
        """A rollback, of a savepoint too, may release locks taken since it began."""
        held: RowLocks | None = session.info.get(cls.key)
        if held is not None:
            held.ids.clear()


event.listen(Session, "after_soft_rollback", RowLocks.forget)


def key_of(ticket_id: int | None) -> str | None:
    return ticket_key(ticket_id) if ticket_id is not None else None
