from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from deskdrill.accounts import service as accounts
from deskdrill.accounts.enums import Role
from deskdrill.api.deps import CaughtUpDrill, CurrentUser, ManagerUser, Now, SessionDep
from deskdrill.api.errors import ERROR_RESPONSES
from deskdrill.core.errors import Forbidden, NotFound
from deskdrill.customers import service as customers
from deskdrill.customers.schemas import OrderCreate, OrderRead, PartyCreate, PartyRead
from deskdrill.drills import service as drills
from deskdrill.drills.models import Drill
from deskdrill.drills.schemas import DrillCreate, DrillRead
from deskdrill.simulation.score import score
from deskdrill.simulation.world import scenario_of
from deskdrill.tickets import queries
from deskdrill.tickets.enums import Category, Priority, Status
from deskdrill.tickets.schemas import QueuePage

router = APIRouter(prefix="/drills", tags=["drills"], responses=ERROR_RESPONSES)


def _read(session: SessionDep, drill: Drill) -> DrillRead:
    return DrillRead(
        id=drill.id,
        name=drill.name,
        title=drill.title,
        description=drill.description,
        settings=drill.settings,
        created_at=drill.created_at,
        members=drills.member_names(session=session, drill=drill),
    )


@router.get("", response_model=list[DrillRead])
def list_drills(user: CurrentUser, session: SessionDep) -> list[DrillRead]:
    return [_read(session, d) for d in drills.list_drills(session=session, user=user)]


@router.post("", status_code=201, response_model=DrillRead)
def create_drill(data: DrillCreate, user: ManagerUser, session: SessionDep, at: Now) -> DrillRead:
    return _read(session, drills.create_drill(session=session, data=data, creator=user, now=at.sim))


@router.get("/{drill_id}", response_model=DrillRead)
def get_drill(drill_id: int, user: CurrentUser, session: SessionDep) -> DrillRead:
    return _read(session, drills.get_drill(session=session, drill_id=drill_id, user=user))


@router.post("/{drill_id}/members/{username}", status_code=204)
def add_member(
    drill_id: int, username: str, user: ManagerUser, session: SessionDep, at: Now
) -> None:
    drill = drills.get_drill(session=session, drill_id=drill_id, user=user)
    member = accounts.get_user(session=session, username=username)
    drills.add_member(session=session, drill=drill, user=member, now=at.sim)


@router.post("/{drill_id}/parties", status_code=201, response_model=PartyRead)
def create_party(
    drill_id: int, data: PartyCreate, user: CurrentUser, session: SessionDep, at: Now
) -> PartyRead:
    _writable(session, drill_id, user)
    party = customers.create_party(session=session, drill_id=drill_id, data=data, now=at.sim)
    return customers.party_read(party, reveal=False)


@router.post("/{drill_id}/orders", status_code=201, response_model=OrderRead)
def create_order(
    drill_id: int, data: OrderCreate, user: ManagerUser, session: SessionDep, at: Now
) -> OrderRead:
    drills.get_drill(session=session, drill_id=drill_id, user=user)
    order = customers.create_order(session=session, drill_id=drill_id, data=data, now=at.sim)
    return queries.order_view(session, order)


@router.get("/{drill_id}/orders/{number}", response_model=OrderRead)
def get_order(drill_id: int, number: str, user: CurrentUser, session: SessionDep) -> OrderRead:
    drills.get_drill(session=session, drill_id=drill_id, user=user)
    order = customers.get_order(session=session, drill_id=drill_id, number=number)
    return queries.order_view(session, order)


def _writable(session: SessionDep, drill_id: int, user: CurrentUser) -> None:
    drills.get_drill(session=session, drill_id=drill_id, user=user)
    if user.role == "qa":
        raise Forbidden("QA reviewers have read-only access")


@router.get("/{drill_id}/tickets", response_model=QueuePage)
def list_tickets(
    drill_id: int,
    _fresh: CaughtUpDrill,
    user: CurrentUser,
    session: SessionDep,
    view: Annotated[str, Query(description="all, active, unassigned or mine")] = "all",
    tier: str | None = None,
    status: Status | None = None,
    category: Category | None = None,
    priority: Priority | None = None,
    q: Annotated[
        str | None, Query(max_length=200, description="text in subject or messages")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=queries.MAX_PAGE)] = 50,
    cursor: str | None = None,
) -> QueuePage:
    """A queue: most urgent first, then oldest. Follow ``next_cursor`` for the next page."""
    return queries.queue(
        session=session,
        user=user,
        drill_id=drill_id,
        view=view,
        tier=tier,
        status=status,
        category=category,
        priority=priority,
        q=q,
        limit=limit,
        cursor=cursor,
    )


@router.get("/{drill_id}/score")
def drill_score(
    drill_id: int, _fresh: CaughtUpDrill, user: CurrentUser, session: SessionDep
) -> dict[str, Any]:
    """The drill's score: each expectation checked on every ticket it applies to, with the
    trail events that show it. Trainees see their own tickets only."""
    drills.get_drill(session=session, drill_id=drill_id, user=user)
    scenario = scenario_of(session, drill_id)
    if scenario is None:
        raise NotFound(f"drill {drill_id} was not started from a scenario")
    only = user.username if user.role == Role.trainee else None
    return score(session, drill_id, scenario).to_json(only=only)
