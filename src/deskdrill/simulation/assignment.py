"""Who a scenario drill's new ticket is handed to, as its team settings say: nobody
(``pull``: trainees take from the queue), in turn (``round_robin``), the least loaded
(``least_loaded``), or the least loaded of those with the ticket's skill
(``skill_based``); never someone already at ``max_concurrent``."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Row, bindparam, func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from deskdrill.accounts.enums import Role
from deskdrill.accounts.models import User
from deskdrill.core.clock import Instant
from deskdrill.db import remembered
from deskdrill.db.kept import held
from deskdrill.drills.models import DrillMember
from deskdrill.scenarios.model import Team
from deskdrill.simulation.models import DrillScenario
from deskdrill.tickets import schemas, service
from deskdrill.tickets.desks import Desks
from deskdrill.tickets.models import Ticket

# Built once (an arrival asks for each new ticket).
_TRAINEES = (
    select(User, DrillMember.tier)
    .join(DrillMember, DrillMember.user_id == User.id)
    .where(DrillMember.drill_id == bindparam("drill"), User.role == Role.trainee)
    .order_by(User.username)
)
_LOAD = (
    select(Ticket.assignee_id, func.count())
    .where(Ticket.drill_id == bindparam("drill"), Ticket.active.is_(True))
    .where(Ticket.assignee_id.is_not(None))
    .group_by(Ticket.assignee_id)
)
_SCENARIOS = DrillScenario.__table__
_HOLD = (
    select(_SCENARIOS.c.drill_id)
    .where(_SCENARIOS.c.drill_id == bindparam("drill"))
    .with_for_update(key_share=True)
)
# One statement, so that two server processes handing out at once each get a turn of
# their own (read and written back by each, one turn would be lost to the other).
_NEXT_TURN = (
    update(_SCENARIOS)
    .where(_SCENARIOS.c.drill_id == bindparam("drill"))
    .values(handed_out=_SCENARIOS.c.handed_out + 1)
    .returning(_SCENARIOS.c.handed_out)
)


def hand_out(
    session: Session, drill_id: int, team: Team, ticket: Ticket, actor: User, at: Instant
) -> None:
    """Assign the new ``ticket`` as ``team`` says, or leave it in the queue."""
    if team.assignment == "pull":
        return
    by_tier = remembered.read(
        session,
        ("trainees by tier", drill_id),
        (User.__tablename__, DrillMember.__tablename__),
        lambda: _by_tier(session.execute(_TRAINEES, {"drill": drill_id}).all()),
    )
    people = by_tier.get(str(ticket.tier), [])
    if team.assignment == "skill_based":
        people = [p for p in people if str(ticket.category) in team.skills.get(p.username, [])]
    desks = Desks.of(session)
    if desks is None:
        _hold_hand_outs(session, drill_id)
    load = (
        desks.load(drill_id)
        if desks is not None
        else dict(session.execute(_LOAD, {"drill": drill_id}).all())
    )
    free = [p for p in people if load.get(p.id, 0) < team.max_concurrent]
    if not free:
        return  # everyone is at their cap: the ticket waits in the queue
    if team.assignment == "round_robin":
        chosen = free[next_turn(session, drill_id) % len(free)]
    else:  # least_loaded, skill_based
        chosen = min(free, key=lambda p: (load.get(p.id, 0), p.username))
    service.assign(
        session=session,
        ticket=ticket,
        actor=actor,
        at=at,
        data=schemas.AssignIn(assignee=chosen.username, reason=f"{team.assignment} assignment"),
    )


def _by_tier(rows: Sequence[Row[tuple[User, str | None]]]) -> dict[str, list[User]]:
    """The drill's trainees at each tier (their seat's, else their own), by username."""
    found: dict[str, list[User]] = {}
    for user, tier in rows:
        found.setdefault(str(tier or user.tier), []).append(user)
    return found


def _hold_hand_outs(session: Session, drill_id: int) -> None:
    """On PostgreSQL, where two server processes may each catch the drill up: the drill's
    hand-outs one at a time until this transaction ends (its scenario row locked), so that
    the loads read next include the other's, and nobody is given more than the cap.
    SQLite's writers take turns already."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(_HOLD, {"drill": drill_id})


def next_turn(session: Session, drill_id: int) -> int:
    """The round-robin's next turn (0, 1, 2...), taken: the drill's cursor moves on."""
    # On the connection: a plain statement, which does not flush the session first.
    turn = session.connection().execute(_NEXT_TURN, {"drill": drill_id}).scalar_one()
    state = held(session, DrillScenario, drill_id)
    if state is not None:  # what is held says so too, without a write of its own
        set_committed_value(state, "handed_out", turn)
    return turn - 1
