"""How scenario drills follow what agents do: the customer answers a reply, the third
party answers a contact, the customer checks a resolution and rates a closed ticket; and
an incident with no report yet cannot be resolved."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from deskdrill.core.errors import Conflict
from deskdrill.db.deferred import Deferred
from deskdrill.db.kept import held
from deskdrill.simulation import engine
from deskdrill.simulation.agenda import Agenda
from deskdrill.simulation.models import ScenarioTicket
from deskdrill.simulation.world import RATING_AFTER, SIMULATOR, VERDICT_AFTER, World, scenario_of
from deskdrill.sla import catch_up
from deskdrill.sla.engine import SYSTEM
from deskdrill.tickets import sole_writer
from deskdrill.tickets.models import Ticket, TicketEvent
from deskdrill.tickets.recording import AFTER_CHANGE, BEFORE_CHANGE, Change

_OURS = (SIMULATOR.username, SYSTEM)


def follow(session: Session, ticket: Ticket, change: Change) -> None:
    if change.actor in _OURS or change.action not in _REACTIONS:
        return
    link = held(session, ScenarioTicket, ticket.id)
    if link is None:
        return
    scenario = scenario_of(session, ticket.drill_id)
    if scenario is None:
        return
    world = World(session, ticket.drill_id, scenario)
    seq = ticket.event_count
    at = change.at.sim
    persona = world.personas[link.persona]
    if change.action == "reply":
        world.schedule(
            f"answer:{ticket.id}:{seq}", at + persona.reply_after, "answer", ticket.id, seq=seq
        )
    elif change.action == "contact_third_party":
        party = change.payload.get("to")
        delay = world.parties[party].reply_after if party in world.parties else VERDICT_AFTER
        world.schedule(
            f"third_party:{ticket.id}:{seq}", at + delay, "third_party_reply", ticket.id, seq=seq
        )
    elif change.action == "resolve":
        world.schedule(f"verdict:{ticket.id}:{seq}", at + VERDICT_AFTER, "verdict", ticket.id)
    elif change.action == "close":
        world.schedule(f"rating:{ticket.id}:{seq}", at + RATING_AFTER, "rating", ticket.id)


_REACTIONS = frozenset({"reply", "contact_third_party", "resolve", "close"})


def guard(session: Session, ticket: Ticket, action: str) -> None:
    """A scenario incident needs its report before it is resolved or closed."""
    if action not in ("resolve", "close"):
        return
    link = held(session, ScenarioTicket, ticket.id)
    if link is None or not link.report_required:
        return
    session.flush()
    Deferred.flush(session)
    filed = session.scalar(
        select(TicketEvent.id)
        .where(TicketEvent.ticket_id == ticket.id, TicketEvent.type == "incident_report")
        .limit(1)
    )
    if filed is None:
        raise Conflict(
            f"ticket {ticket.key} is a major incident: file the incident report first "
            f"(POST /api/v1/tickets/{ticket.key}/incident-report)",
            field="incident_report",
        )


def install() -> None:
    """Register with the tickets domain and the engine (idempotent)."""
    if follow not in AFTER_CHANGE:
        AFTER_CHANGE.append(follow)
    if guard not in BEFORE_CHANGE:
        BEFORE_CHANGE.append(guard)
    if Agenda not in sole_writer.KEPT:
        sole_writer.KEPT.append(Agenda)
    schedule = catch_up.Schedule(next_due=engine.next_due, step=engine.step)
    if schedule not in catch_up.SCHEDULES:
        catch_up.SCHEDULES.append(schedule)
