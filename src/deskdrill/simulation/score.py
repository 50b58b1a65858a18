"""The drill score: each expectation of the scenario, checked against the records and the
trail of every ticket it applies to, with the events that show it.

An expectation's points are shared equally by its checks (escalate in time, what the
customer was owed, the refund limit, each required action, greeting, closing, no
forbidden phrase, resolve in time). Outcomes are judged on the final ticket, order and
compensation records and on the trail: writing "refunded" in a reply earns nothing.
A ticket's points go to the trainee who held it last (the one who resolved it, usually).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from deskdrill.accounts.enums import Role
from deskdrill.accounts.models import User
from deskdrill.drills.models import DrillMember
from deskdrill.scenarios.model import Expectation, Macro, Scenario
from deskdrill.simulation import csat, outcomes
from deskdrill.simulation.models import ScenarioTicket
from deskdrill.simulation.world import SIMULATOR
from deskdrill.sla.engine import SYSTEM
from deskdrill.tickets.models import Ticket, TicketEvent
from deskdrill.tickets.recording import TIER_RANK

_MACHINES = frozenset({SYSTEM, SIMULATOR.username})
_UNTOUCHED = "nobody worked the ticket"
_COMPENSATION_EVENTS = ("compensation_approved", "compensation_requested", "compensation_paid")
_ACTION_EVENTS = {
    "contact_third_party": ("contact_third_party",),
    "reply": ("reply",),
    "escalate": ("escalate",),
    "incident_report": ("incident_report",),
    "order_action": ("order_action",),
}


@dataclass
class Check:
    name: str
    passed: bool
    points: float
    earned: float
    detail: str
    evidence: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Scored:
    ticket: str
    ref: str
    expectation: int
    trainee: str | None
    checks: list[Check]

    @property
    def earned(self) -> float:
        return sum(c.earned for c in self.checks)

    @property
    def points(self) -> float:
        return sum(c.points for c in self.checks)


@dataclass
class DrillScore:
    tickets: list[Scored]

    @property
    def earned(self) -> float:
        return round(sum(s.earned for s in self.tickets), 2)

    @property
    def points(self) -> float:
        return round(sum(s.points for s in self.tickets), 2)

    def by_trainee(self) -> dict[str, dict[str, float]]:
        found: dict[str, dict[str, float]] = {}
        for scored in self.tickets:
            row = found.setdefault(scored.trainee or "(nobody)", {"earned": 0.0, "points": 0.0})
            row["earned"] += scored.earned
            row["points"] += scored.points
        return {k: {n: round(v, 2) for n, v in row.items()} for k, row in found.items()}

    def by_expectation(self, only: str | None = None) -> list[dict[str, Any]]:
        """Per expectation: its tickets, points and what was earned (of ``only``'s
        tickets, when given)."""
        rows: dict[int, dict[str, Any]] = {}
        for scored in self.tickets:
            if only is not None and scored.trainee != only:
                continue
            row = rows.setdefault(
                scored.expectation,
                {"expectation": scored.expectation, "tickets": 0, "earned": 0.0, "points": 0.0},
            )
            row["tickets"] += 1
            row["earned"] += scored.earned
            row["points"] += scored.points
        return [
            {
                **rows[k],
                "earned": round(rows[k]["earned"], 2),
                "points": round(rows[k]["points"], 2),
            }
            for k in sorted(rows)
        ]

    def to_json(self, only: str | None = None) -> dict[str, Any]:
        tickets = [s for s in self.tickets if only is None or s.trainee == only]
        return {
            "earned": round(sum(s.earned for s in tickets), 2),
            "points": round(sum(s.points for s in tickets), 2),
            "by_trainee": {k: v for k, v in self.by_trainee().items() if only in (None, k)},
            "by_expectation": self.by_expectation(only),
            "tickets": [
                {
                    "ticket": s.ticket,
                    "ref": s.ref,
                    "expectation": s.expectation,
                    "trainee": s.trainee,
                    "earned": round(s.earned, 2),
                    "points": round(s.points, 2),
                    "checks": [
                        {**c.__dict__, "points": round(c.points, 2), "earned": round(c.earned, 2)}
                        for c in s.checks
                    ],
                }
                for s in tickets
            ],
        }


def _evidence(event: TicketEvent) -> dict[str, Any]:
    return {"event": event.id, "seq": event.seq, "type": event.type, "at": event.sim_at.isoformat()}


class _Judge:
    def __init__(
        self,
        session: Session,
        scenario: Scenario,
        ticket: Ticket,
        events: list[TicketEvent],
        trainees: set[str],
        records: outcomes.DrillRecords | None = None,
    ):
        self.session = session
        self.scenario = scenario
        self.ticket = ticket
        self.events = events
        self.got = outcomes.outcome(session, ticket, records)
        # The checks of what must not be done (too large a refund, a forbidden phrase)
        # pass by themselves on a ticket nobody touched: they count once someone on the
        # desk acted on it (a trainer's assignment is not the assignee's work).
        self.worked = any(e.actor in trainees for e in events)

    def of(self, *types: str) -> list[TicketEvent]:
        return [e for e in self.events if e.type in types]

    def by_people(self, *types: str) -> list[TicketEvent]:
        """Events of these types that a person did (not the SLA engine or the simulation:
        an automatic escalation after a miss is no credit to anyone)."""
        return [e for e in self.of(*types) if e.actor not in _MACHINES]

    def checks(self, e: Expectation) -> list[tuple[str, bool, str, list[TicketEvent]]]:
        found: list[tuple[str, bool, str, list[TicketEvent]]] = []
        received = self.ticket.received_at
        if e.escalate_to is not None and e.escalate_within is not None:
            ups = [
                ev
                for ev in self.by_people("escalate")
                if TIER_RANK[ev.payload.get("changes", {}).get("tier", "L1")]
                >= TIER_RANK[e.escalate_to]
            ]
            first = ups[0] if ups else None
            ok = first is not None and first.sim_at - received <= e.escalate_within
            late = f"{(first.sim_at - received).total_seconds() / 60:.1f} min" if first else "never"
            found.append(
                (
                    f"escalate to {e.escalate_to} within {_minutes(e.escalate_within)}",
                    ok,
                    f"escalated: {late}",
                    [first] if first else [],
                )
            )
        if e.entitled is not None:
            missing = outcomes.shortfalls(e.entitled, self.got, self.session, self.ticket)
            paid = self.of(*_COMPENSATION_EVENTS, "order_action")
            found.append(
                (
                    "what the customer was owed",
                    not missing,
                    "; ".join(missing) or "given in full",
                    paid,
                )
            )
        if e.max_refund is not None:
            ok = self.worked and self.got.refunded <= Decimal(e.max_refund)
            found.append(
                (
                    f"refund at most {Decimal(e.max_refund):.2f}",
                    ok,
                    f"refunded {self.got.refunded}" if self.worked else _UNTOUCHED,
                    self.of(*_COMPENSATION_EVENTS),
                )
            )
        for action in e.required_actions:
            done = self.by_people(*_ACTION_EVENTS[action])
            found.append(
                (
                    f"did: {action.replace('_', ' ')}",
                    bool(done),
                    "done" if done else "not done",
                    done[:1],
                )
            )
        replies = self.of("reply")
        if e.greeting:
            greetings = _macros(self.scenario, "greeting")
            ok = bool(self.got.replies) and csat.opens_with(self.got.replies[0], greetings)
            found.append(("greeting macro opens the first reply", ok, "", replies[:1]))
        if e.closing:
            closings = _macros(self.scenario, "closing")
            ok = bool(self.got.replies) and csat.ends_with(self.got.replies[-1], closings)
            found.append(("closing macro ends the last reply", ok, "", replies[-1:]))
        if e.forbidden_phrases:
            phrases = list(dict.fromkeys(t for p in e.forbidden_phrases for t in (p.zh, p.en) if t))
            bad = [
                ev
                for ev in replies
                if csat.forbidden_used([str(ev.payload.get("body", ""))], phrases)
            ]
            said = "used" if bad else ("none used" if self.worked else _UNTOUCHED)
            found.append(("no forbidden phrase", self.worked and not bad, said, bad))
        if e.resolve_within is not None:
            done = self.ticket.resolved_at
            ok = done is not None and done - received <= e.resolve_within
            found.append(
                (
                    f"resolved within {_minutes(e.resolve_within)}",
                    ok,
                    "not resolved"
                    if done is None
                    else f"{(done - received).total_seconds() / 60:.1f} min",
                    self.of("resolve")[:1],
                )
            )
        return found


def _minutes(value: timedelta) -> str:
    return f"{value.total_seconds() / 60:g} min"


def _macros(scenario: Scenario, kind: str) -> list[Macro]:
    return [m for m in scenario.macros if m.kind == kind]


def _holder(events: list[TicketEvent], trainees: set[str]) -> str | None:
    """The trainee who held the ticket last."""
    for event in reversed(events):
        assignee = event.payload.get("changes", {}).get("assignee", "")
        if assignee in trainees:
            return str(assignee)
        if event.actor in trainees and event.type in ("claim", "resolve", "reply"):
            return event.actor
    return None


_DRILL_TICKETS = select(Ticket).where(Ticket.drill_id == bindparam("drill"))
_TRAILS = (
    select(TicketEvent)
    .where(TicketEvent.ticket_id.in_(bindparam("ids", expanding=True)))
    .order_by(TicketEvent.ticket_id, TicketEvent.seq)
)
_TRAILS_PER_READ = 1000  # ids in one IN list, well under SQLite's parameter limit


def _trails(session: Session, ticket_ids: list[int]) -> dict[int, list[TicketEvent]]:
    """The trail events of these tickets, each ticket's in order."""
    found: dict[int, list[TicketEvent]] = {}
    for start in range(0, len(ticket_ids), _TRAILS_PER_READ):
        ids = ticket_ids[start : start + _TRAILS_PER_READ]
        for event in session.scalars(_TRAILS, {"ids": ids}):
            found.setdefault(event.ticket_id, []).append(event)
    return found


def score(session: Session, drill_id: int, scenario: Scenario) -> DrillScore:
    links = session.scalars(
        select(ScenarioTicket)
        .where(ScenarioTicket.drill_id == drill_id)
        .order_by(ScenarioTicket.ticket_id)
    ).all()
    scored: list[Scored] = []
    trainees = set(
        session.scalars(
            select(User.username)
            .join(DrillMember, DrillMember.user_id == User.id)
            .where(DrillMember.drill_id == drill_id, User.role == Role.trainee)
        )
    )
    # The drill's tickets, and the trails and records of those judged, in a few reads
    # rather than a few per ticket: a drill of 1,500 tickets took more than a second.
    tickets = {t.id: t for t in session.scalars(_DRILL_TICKETS, {"drill": drill_id})}
    judged = []
    for link in links:
        ticket = tickets[link.ticket_id]
        applying = [
            (i, e)
            for i, e in enumerate(scenario.expectations)
            if e in outcomes.expectations_for(scenario, link, str(ticket.category))
        ]
        if applying:
            judged.append((link, ticket, applying))
    trails = _trails(session, [ticket.id for _, ticket, _ in judged])
    records = outcomes.records_of(session, drill_id)
    for link, ticket, applying in judged:
        events = trails.get(ticket.id, [])
        judge = _Judge(session, scenario, ticket, events, trainees, records)
        holder = _holder(events, trainees)
        for index, expectation in applying:
            found = judge.checks(expectation)
            share = expectation.points / len(found) if found else 0
            checks = [
                Check(
                    name,
                    ok,
                    share,
                    share if ok else 0.0,
                    detail,
                    [_evidence(ev) for ev in evidence],
                )
                for name, ok, detail, evidence in found
            ]
            scored.append(Scored(ticket.key, link.ref, index, holder, checks))
    return DrillScore(scored)
