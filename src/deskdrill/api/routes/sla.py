"""SLA timers of a ticket, at the drill's simulated time."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from deskdrill.api.deps import CurrentUser, Now, SessionDep
from deskdrill.api.errors import ERROR_RESPONSES
from deskdrill.drills import clock
from deskdrill.sla.deadlines import policy_for
from deskdrill.sla.view import Timer, timers
from deskdrill.tickets import service

router = APIRouter(tags=["sla"], responses=ERROR_RESPONSES)


class TicketSla(BaseModel):
    key: str
    policy: str
    sim_now: str
    timers: list[Timer]


@router.get("/tickets/{key}/sla", response_model=TicketSla)
def ticket_sla(key: str, user: CurrentUser, session: SessionDep, at: Now) -> TicketSla:
    """Each timer (first response, next response, resolution, escalation, keep informed):
    its due time, the simulated seconds left, and ok / warning / breached / met / paused."""
    ticket = service.get_ticket(session=session, key=key, user=user)
    now = clock.instant(session, ticket.drill_id, at.wall).sim
    policy = policy_for(session, ticket.drill_id)
    return TicketSla(
        key=ticket.key,
        policy=policy.name,
        sim_now=now.isoformat(),
        timers=timers(ticket, policy, now),
    )
