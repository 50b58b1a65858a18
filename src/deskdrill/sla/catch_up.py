"""Running the engine lazily, before a read, so that answers are always current."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from deskdrill.db.engine import unit_of_work
from deskdrill.drills import clock
from deskdrill.sla import engine
from deskdrill.tickets.models import Ticket


def catch_up(factory: sessionmaker[Session], drill_id: int, wall: datetime) -> int:
    """Fire what is due in the drill; a cheap indexed read when nothing is."""
    with unit_of_work(factory, read_only=True) as session:
        now = clock.instant(session, drill_id, wall)
        pending = session.scalar(
            select(Ticket.id)
            .where(Ticket.drill_id == drill_id, Ticket.sla_next_check <= now.sim)
            .limit(1)
        )
    if pending is None:
        return 0
    fired = 0
    with unit_of_work(factory) as session:
        now = clock.instant(session, drill_id, wall)
        fired = engine.step(session, drill_id, now)
    return fired
