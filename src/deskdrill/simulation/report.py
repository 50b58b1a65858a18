"""The report of a headless run, as plain data (the command line writes it as JSON and as a
standalone HTML page): throughput, backlog over time, queue wait before the first claim,
agent utilisation, SLA attainment, customer ratings and the score by expectation."""

from __future__ import annotations

import hashlib
import json
import statistics
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from deskdrill.simulation.runner import RunResult
from deskdrill.simulation.score import score
from deskdrill.sla.metrics import drill_metrics
from deskdrill.tickets.models import Ticket, TicketEvent


def _percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _waits(session: Session, drill_id: int, end: datetime) -> dict[str, Any]:
    received = dict(
        session.execute(
            select(Ticket.id, Ticket.received_at).where(Ticket.drill_id == drill_id)
        ).all()
    )
    first: dict[int, datetime] = {}
    for ticket_id, at in session.execute(
        select(TicketEvent.ticket_id, TicketEvent.sim_at)
        .join(Ticket, Ticket.id == TicketEvent.ticket_id)
        .where(Ticket.drill_id == drill_id, TicketEvent.type.in_(("claim", "assign")))
        .order_by(TicketEvent.ticket_id, TicketEvent.seq)
    ):
        first.setdefault(ticket_id, at)
    waits = [(first.get(t, end) - r).total_seconds() for t, r in received.items()]
    never = sum(1 for t in received if t not in first)
    return {
        "tickets": len(received),
        "mean_seconds": statistics.fmean(waits) if waits else None,
        "p50_seconds": _percentile(waits, 0.5),
        "p90_seconds": _percentile(waits, 0.9),
        "share_waiting": round(100 * never / len(received), 1) if received else None,
    }


def _ratings(session: Session, drill_id: int) -> dict[str, Any]:
    payloads = session.scalars(
        select(TicketEvent.payload)
        .join(Ticket, Ticket.id == TicketEvent.ticket_id)
        .where(Ticket.drill_id == drill_id, TicketEvent.type == "customer_rating")
    ).all()
    ratings = [int(p["rating"]) for p in payloads]
    return {
        "count": len(ratings),
        "mean": statistics.fmean(ratings) if ratings else None,
        "by_rating": {str(r): ratings.count(r) for r in range(1, 6)},
    }


def build(session: Session, result: RunResult) -> dict[str, Any]:
    drill_id, scenario = result.drill_id, result.scenario
    metrics = drill_metrics(session, drill_id, result.ended)
    duty = {b.username: _on_duty(b, result.started, result.ended) for b in result.bots}
    sim = result.sim_seconds
    return {
        "scenario": {
            "id": scenario.id,
            "title": scenario.title.model_dump(),
            "difficulty": scenario.difficulty,
            "start": scenario.start.isoformat(),  # with its offset: the times' zone
        },
        "seed": result.seed,
        "agents": [g.model_dump(mode="json") for g in result.plan.agents],
        "throughput": {
            "tickets": result.tickets,
            "events": result.events,
            "wall_seconds": round(result.wall_seconds, 3),
            "sim_seconds": sim,
            "sim_to_wall": round(sim / result.wall_seconds, 1) if result.wall_seconds else None,
            "tickets_per_wall_second": round(result.tickets / result.wall_seconds, 1)
            if result.wall_seconds
            else None,
            "peak_memory_mib": round(result.peak_memory_mib, 1),
        },
        "sla": metrics.model_dump(mode="json"),
        "queue_wait": _waits(session, drill_id, result.ended),
        "utilisation": [
            {
                "agent": b.username,
                "kind": b.kind,
                "tier": b.tier.value,
                "actions": b.actions,
                "busy_seconds": b.busy.total_seconds(),
                "share": round(min(100.0, 100 * (b.busy / duty[b.username])), 1)
                if duty[b.username]
                else None,
                "errors": b.errors[:20],
            }
            for b in result.bots
        ],
        "csat": _ratings(session, drill_id),
        "score": score(session, drill_id, scenario).to_json(),
        "expectations": [
            {"index": i, "ticket": e.ticket, "category": e.category, "points": e.points}
            for i, e in enumerate(scenario.expectations)
        ],
        "trail_hashes": result.hashes,
        "trail_digest": trail_digest(result.hashes),
    }


def trail_digest(hashes: dict[str, str]) -> str:
    """One figure for a whole run's trail: the SHA-256 of every ticket's last trail hash,
    by ticket reference; two runs with the same file, seed and bots print the same."""
    canonical = json.dumps(hashes, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _on_duty(bot: Any, start: datetime, end: datetime) -> timedelta:
    if bot.group.shift is None:
        return end - start
    begin, until = bot.group.shift
    return max(timedelta(0), min(end, start + until) - max(start, start + begin))
