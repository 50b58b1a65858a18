"""How a drill is doing against its SLA: attainment, breaches, times and backlog."""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from deskdrill.sla.models import SlaFiring
from deskdrill.tickets.models import Ticket


class Durations(BaseModel):
    count: int
    median_seconds: float | None
    p90_seconds: float | None


class BacklogPoint(BaseModel):
    sim_at: datetime
    open: int


class DrillMetrics(BaseModel):
    tickets: int
    open: int
    first_response_attainment: float | None
    resolution_attainment: float | None
    breaches_by_timer: dict[str, int]
    breaches_by_priority: dict[str, int]
    breaches_by_category: dict[str, int]
    first_response_time: Durations
    resolution_time: Durations
    backlog: list[BacklogPoint]


def _durations(values: list[float]) -> Durations:
    if not values:
        return Durations(count=0, median_seconds=None, p90_seconds=None)
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return Durations(count=len(values), median_seconds=statistics.median(ordered), p90_seconds=p90)


def _share(met: int, total: int) -> float | None:
    return round(100 * met / total, 1) if total else None


def drill_metrics(session: Session, drill_id: int, now: datetime, points: int = 24) -> DrillMetrics:
    tickets = session.scalars(select(Ticket).where(Ticket.drill_id == drill_id)).all()
    first_due = [
        t
        for t in tickets
        if t.first_response_due is not None
        and (t.first_response_at is not None or t.first_response_due <= now)
    ]
    first_met = sum(
        1
        for t in first_due
        if t.first_response_at is not None and t.first_response_at <= t.first_response_due
    )
    resolved = [t for t in tickets if t.resolved_at is not None and t.resolution_due]
    resolved_met = sum(1 for t in resolved if t.resolved_at <= t.resolution_due)
    rows = session.execute(
        select(SlaFiring.timer, func.coalesce(SlaFiring.priority, Ticket.priority), Ticket.category)
        .join(Ticket, Ticket.id == SlaFiring.ticket_id)
        .where(Ticket.drill_id == drill_id, SlaFiring.kind == "breach")
    ).all()
    return DrillMetrics(
        tickets=len(tickets),
        open=sum(1 for t in tickets if t.active),
        first_response_attainment=_share(first_met, len(first_due)),
        resolution_attainment=_share(resolved_met, len(resolved)),
        breaches_by_timer=dict(Counter(r[0] for r in rows)),
        breaches_by_priority=dict(Counter(r[1] for r in rows)),
        breaches_by_category=dict(Counter(r[2] for r in rows)),
        first_response_time=_durations(
            [
                (t.first_response_at - t.received_at).total_seconds()
                for t in tickets
                if t.first_response_at is not None
            ]
        ),
        resolution_time=_durations(
            [
                (t.resolved_at - t.received_at).total_seconds()
                for t in tickets
                if t.resolved_at is not None
            ]
        ),
        backlog=_backlog(tickets, now, points),
    )


def _backlog(tickets: list[Ticket], now: datetime, points: int) -> list[BacklogPoint]:
    """Open tickets at evenly spaced moments from the first arrival to now."""
    if not tickets:
        return []
    start = min(t.received_at for t in tickets)
    span = max(now - start, timedelta(seconds=1))
    moments = [start + span * i / (points - 1) for i in range(points)] if points > 1 else [now]
    return [
        BacklogPoint(
            sim_at=m,
            open=sum(
                1
                for t in tickets
                if t.received_at <= m
                and (t.resolved_at is None or t.resolved_at > m)
                and (t.closed_at is None or t.closed_at > m)
            ),
        )
        for m in moments
    ]
