"""SLA timers of a ticket, at the drill's simulated time."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel

from deskdrill.api.deps import CaughtUpDrill, CaughtUpTicket, CurrentUser, Now, SessionDep
from deskdrill.api.errors import ERROR_RESPONSES
from deskdrill.drills import clock
from deskdrill.drills import service as drills
from deskdrill.sla import notices
from deskdrill.sla.deadlines import policy_for
from deskdrill.sla.metrics import DrillMetrics, drill_metrics
from deskdrill.sla.models import Notification
from deskdrill.sla.view import Timer, timers
from deskdrill.tickets import service
from deskdrill.tickets.models import ticket_key

router = APIRouter(tags=["sla"], responses=ERROR_RESPONSES)


class TicketSla(BaseModel):
    key: str
    policy: str
    sim_now: str
    timers: list[Timer]


@router.get("/tickets/{key}/sla", response_model=TicketSla)
def ticket_sla(
    key: str, _fresh: CaughtUpTicket, user: CurrentUser, session: SessionDep, at: Now
) -> TicketSla:
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


class NotificationRead(BaseModel):
    id: int
    drill: int
    ticket: str | None
    kind: str
    message: str
    sim_at: datetime


@router.get("/notifications", response_model=list[NotificationRead])
def notifications(
    _fresh: CaughtUpDrill, user: CurrentUser, session: SessionDep, drill: int, after: int = 0
) -> list[NotificationRead]:
    """Notices from the engine for you (and, for trainers, those for their role) in a
    drill, oldest first; pass the last id you saw as ``after``."""
    drills.get_drill(session=session, drill_id=drill, user=user)
    rows = session.scalars(
        notices.addressed_to(session, user, drill)
        .where(Notification.id > after)
        .order_by(Notification.id)
        .limit(200)
    )
    return [
        NotificationRead(
            id=n.id,
            drill=n.drill_id,
            message=n.message,
            kind=n.kind,
            ticket=ticket_key(n.ticket_id) if n.ticket_id else None,
            sim_at=n.sim_at,
        )
        for n in rows
    ]


@router.get("/drills/{drill_id}/metrics", response_model=DrillMetrics)
def metrics(
    drill_id: int, _fresh: CaughtUpDrill, user: CurrentUser, session: SessionDep, at: Now
) -> DrillMetrics:
    """First-response and resolution attainment (% met), breaches by timer, priority and
    category, median and p90 times, and the open backlog over simulated time."""
    drills.get_drill(session=session, drill_id=drill_id, user=user)
    now = clock.instant(session, drill_id, at.wall).sim
    return drill_metrics(session, drill_id, now)
