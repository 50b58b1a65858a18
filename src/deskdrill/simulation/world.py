"""The simulated outside world of a scenario drill: customers and third parties.

Each handler takes one due scheduled event and makes it happen through the ticket
services, stamped with the event's own simulated moment, as the actor ``scenario``. It
returns the outcome recorded on the schedule (``done``, or why it did nothing).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from deskdrill.accounts.enums import Role, Tier
from deskdrill.accounts.models import User
from deskdrill.core.clock import Instant, iso_ms
from deskdrill.core.errors import DomainError
from deskdrill.customers import service as customers
from deskdrill.customers.models import Party
from deskdrill.db import remembered, savepoints
from deskdrill.db.deferred import Deferred, insert_later
from deskdrill.db.kept import held, held_one
from deskdrill.scenarios.model import Fact, Injection, Persona, Scenario, Template, ThirdParty
from deskdrill.settings import default_caps
from deskdrill.simulation import assignment, csat, outcomes
from deskdrill.simulation.agenda import Agenda, Happening
from deskdrill.simulation.agents import AgentGroup, Bot
from deskdrill.simulation.bots import Desk
from deskdrill.simulation.models import DrillScenario, ScenarioTicket, ScheduledEvent
from deskdrill.simulation.setup import fresh_order
from deskdrill.tickets import compensation, conversation, intake, schemas, service, workflow
from deskdrill.tickets.enums import CompensationStatus, MessageKind, Status
from deskdrill.tickets.models import Compensation, OrderAction, Ticket
from deskdrill.tickets.recording import RowLocks

# Acts on the trail under this name; never a row in the users table.
SIMULATOR = User(username="scenario", role=Role.admin, tier=Tier.supervisor)
VERDICT_AFTER = timedelta(minutes=10)  # a customer checks the resolution this much later
RATING_AFTER = timedelta(minutes=1)
MESSAGE_MAX = 20_000  # as a message may be (tickets.schemas)
BOT_IDLE = timedelta(seconds=30)  # a built-in agent with nothing to do looks again then
BOT_OVERTIME = timedelta(hours=2)  # after the scenario's end, bots work on this long

_CACHE: dict[tuple[int, str, int], Scenario] = {}

# Built once (the handlers run for every scheduled event of a run).
_COMPENSATION_KINDS = select(Compensation.kind).where(
    Compensation.ticket_id == bindparam("ticket"),
    Compensation.status != CompensationStatus.rejected,
)
_USER_BY_NAME = select(User.id, User.tier).where(User.username == bindparam("name"))
_ANY_ORDER_ACTION = select(OrderAction.id).where(OrderAction.ticket_id == bindparam("ticket"))


def scenario_of(session: Session, drill_id: int) -> Scenario | None:
    """The drill's scenario, parsed once per process."""
    row = held(session, DrillScenario, drill_id)
    if row is None:
        return None
    key = (drill_id, row.source_sha256, row.seed)
    found = _CACHE.get(key)
    if found is None:
        if len(_CACHE) > 64:
            _CACHE.clear()
        # "stored": rules added since the drill was made do not refuse its scenario.
        found = _CACHE[key] = Scenario.model_validate(row.document, context={"stored": True})
    return found


# Scheduling a key already scheduled is a no-op: one statement, which skips the row when
# the key is taken (both backends write ON CONFLICT the same way).
_SCHEDULE = {
    name: dialect.insert(ScheduledEvent).on_conflict_do_nothing(index_elements=["drill_id", "key"])
    for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))
}
_SCHEDULED_PAYLOAD = select(ScheduledEvent.payload).where(
    ScheduledEvent.drill_id == bindparam("drill"), ScheduledEvent.key == bindparam("key")
)


Names = tuple[dict[str, Persona], dict[str, ThirdParty], dict[str, Injection]]
_NAMES: dict[int, tuple[Scenario, Names]] = {}
_NAMES_KEPT = 16
_NAMES_LOCK = threading.Lock()


def _names(scenario: Scenario) -> Names:
    """The scenario's personas, third parties and timeline cases by id. A World is made
    for every engine step and every reaction, and building these for each cost more at
    ten times the arrivals than the reactions themselves; a scenario is not changed once
    read. Kept for the last few scenarios (the entry holds the scenario, so its id is not
    handed to another object while kept)."""
    found = _NAMES.get(id(scenario))
    if found is not None and found[0] is scenario:
        return found[1]
    names = (
        {p.id: p for p in scenario.personas},
        {p.id: p for p in scenario.third_parties},
        {t.id: t for t in scenario.timeline},
    )
    with _NAMES_LOCK:  # the engine loop's threads and the request handlers share it
        if len(_NAMES) >= _NAMES_KEPT:
            _NAMES.pop(next(iter(_NAMES)), None)  # the oldest
        _NAMES[id(scenario)] = (scenario, names)
    return names


class World:
    """One scenario drill, during one engine step."""

    def __init__(self, session: Session, drill_id: int, scenario: Scenario) -> None:
        self.session = session
        self.drill_id = drill_id
        self.scenario = scenario
        self.personas, self.parties, self.timeline = _names(scenario)

    # --- scheduling -----------------------------------------------------------------

    def schedule(
        self, key: str, due: datetime, kind: str, ticket_id: int | None, **payload: Any
    ) -> None:
        values = {
            "drill_id": self.drill_id,
            "key": key,
            "due": due,
            "kind": kind,
            "ticket_id": ticket_id,
            "payload": payload,
        }
        agenda = Agenda.of(self.session)
        if agenda is not None:
            agenda.schedule(values)
        else:
            connection = self.session.connection()
            connection.execute(_SCHEDULE[connection.dialect.name], values)

    def chase_later(self, ticket: Ticket, link: ScenarioTicket, since: datetime, n: int) -> None:
        persona = self.personas[link.persona]
        self.schedule(
            f"chase:{ticket.id}:{iso_ms(since)}:{n}",
            since + persona.patience * n,
            "chase",
            ticket.id,
            since=iso_ms(since),
            n=n,
        )

    # --- what a ticket is ---------------------------------------------------------------

    def case(self, link: ScenarioTicket) -> Injection | Template | None:
        if link.ref.startswith("timeline:"):
            return self.timeline.get(link.ref.removeprefix("timeline:"))
        payload = self._arrival_payload(link.ref)
        if payload is None:
            return None
        generator = self.scenario.generators[payload["generator"]]
        return generator.templates[payload["template"]]

    def _arrivals(self) -> dict[tuple[int, str], Any]:
        arrivals: dict[tuple[int, str], Any] = self.session.info.setdefault(
            "deskdrill.arrivals", {}
        )
        return arrivals

    def _arrival_payload(self, ref: str) -> dict[str, Any] | None:
        """What a generated arrival was made from; kept for the session's life, since an
        arrival's payload never changes once scheduled."""
        kept = self._arrivals()
        key = (self.drill_id, ref)
        if key not in kept:
            params = {"drill": self.drill_id, "key": ref}
            Deferred.flush(self.session)
            savepoints.flush_before_reading(self.session, ("scheduled_events",))
            found = self.session.connection().execute(_SCHEDULED_PAYLOAD, params).scalar()
            if found is None:
                return None
            kept[key] = found
        return cast(dict[str, Any], kept[key])

    def facts(self, link: ScenarioTicket, party_ref: str) -> list[Fact]:
        case = self.case(link)
        return [f for f in (case.facts if case else []) if f.revealed_by == party_ref]

    def say(self, persona: Persona, text: Any) -> str:
        return str(text.get(persona.language))

    # --- handlers -----------------------------------------------------------------------

    def arrival(self, event: Happening, at: Instant) -> str:
        payload = event.payload
        if "timeline" in payload:
            case: Injection | Template = self.timeline[payload["timeline"]]
            persona = self.personas[self.timeline[payload["timeline"]].persona]
            order = self.timeline[payload["timeline"]].order
            severity = self.timeline[payload["timeline"]].severity
        else:
            self._arrivals()[(self.drill_id, event.key)] = payload  # not read back later
            generator = self.scenario.generators[payload["generator"]]
            case = generator.templates[payload["template"]]
            persona = self.personas[payload["persona"]]
            order = payload.get("order")
            severity = None
            if order is None:
                spec = payload["new_order"]
                name = self.say(persona, case.subject)[:256]
                customers.create_order(
                    session=self.session,
                    drill_id=self.drill_id,
                    data=fresh_order(spec, persona.id, name),
                    now=at.sim,
                )
                order = spec["number"]
        data = schemas.TicketReceive(
            drill=self.drill_id,
            channel=case.channel,
            category=case.category,
            subject=self.say(persona, case.subject)[:512],
            body=self.say(persona, case.message),
            priority=case.priority,
            severity=severity,
            party=persona.id,
            order=order,
        )
        ticket = intake.open_ticket(session=self.session, data=data, actor=SIMULATOR, at=at)
        link = ScenarioTicket(
            ticket_id=ticket.id,
            drill_id=self.drill_id,
            ref=event.key,
            persona=persona.id,
            report_required=self._report_required(event.key, str(case.category)),
            chases=0,
            mood=0,
        )
        insert_later(self.session, link)  # the bots look it up by id before any flush
        event.ticket_id = ticket.id
        self.chase_later(ticket, link, at.sim, 1)
        assignment.hand_out(self.session, self.drill_id, self.scenario.team, ticket, SIMULATOR, at)
        return "done"

    def _report_required(self, ref: str, category: str) -> bool:
        own = ref.removeprefix("timeline:") if ref.startswith("timeline:") else None
        return any(
            i.report_required and (i.category == category or (own and i.ticket == own))
            for i in self.scenario.incidents
        )

    def _replied_since(self, ticket: Ticket, since: datetime) -> bool:
        return any(
            m.kind == MessageKind.reply and m.sim_at >= since
            for m in conversation.messages_of(self.session, ticket.id)
        )

    def chase(self, event: Happening, at: Instant) -> str:
        ticket, link = self._ticket(event)
        if ticket.status in (Status.pending_customer, Status.resolved, Status.closed):
            return "not waiting"
        since = datetime.fromisoformat(event.payload["since"].replace("Z", "+00:00"))
        if self._replied_since(ticket, since):
            return "answered"
        persona = self.personas[link.persona]
        link.chases += 1
        link.mood -= 1
        if link.chases > persona.give_up_after:
            self._message(ticket, at, self.say(persona, self.scenario.reactions.abandon))
            workflow.tag(
                session=self.session,
                ticket=ticket,
                actor=SIMULATOR,
                at=Instant(sim=at.sim + timedelta(milliseconds=1), wall=at.wall),
                data=schemas.TagIn(add=["abandoned"]),
            )
            return "abandoned"
        angry = persona.tone == "angry" or link.chases >= 2
        reactions = self.scenario.reactions
        self._message(
            ticket, at, self.say(persona, reactions.chase_angry if angry else reactions.chase)
        )
        self.chase_later(ticket, link, since, event.payload["n"] + 1)
        return "done"

    def answer(self, event: Happening, at: Instant) -> str:
        """The customer's answer to an agent's reply: the first rule that matches."""
        ticket, link = self._ticket(event)
        if ticket.status in (Status.resolved, Status.closed):
            return "resolved"  # a word after the resolution would reopen it: none is sent
        case = self.case(link)
        replies = case.replies if isinstance(case, Injection) else []
        if not replies:
            return "no rule"
        persona = self.personas[link.persona]
        messages = conversation.messages_of(self.session, ticket.id)
        seq = event.payload["seq"]
        body = next(
            (m.body for m in messages if m.kind == MessageKind.reply and m.event_seq == seq), None
        )
        said = {m.body for m in messages if m.kind == MessageKind.customer}
        actions = self._actions(ticket)
        for rule in replies:
            text = self.say(persona, rule.say)
            if text in said:
                continue  # each answer once
            if rule.when_action is not None and rule.when_action not in actions:
                continue
            words = (body or "").casefold()
            if rule.when_keywords and not any(k.casefold() in words for k in rule.when_keywords):
                continue
            link.mood += rule.mood
            self._message(ticket, at, text)
            self.chase_later(ticket, link, at.sim, 1)
            return "done"
        return "no rule matched"

    def _actions(self, ticket: Ticket) -> set[str]:
        kinds = set(self.session.scalars(_COMPENSATION_KINDS, {"ticket": ticket.id}))
        found = set()
        if "refund" in kinds:
            found.add("refund")
        if "coupon" in kinds:
            found.add("coupon")
        if kinds:
            found.add("compensation")
        if ticket.escalated_at is not None:
            found.add("escalate")
        if self.session.scalar(_ANY_ORDER_ACTION, {"ticket": ticket.id}):
            found.add("order_action")
        return found or {"none"}

    def third_party_reply(self, event: Happening, at: Instant) -> str:
        ticket, link = self._ticket(event)
        if ticket.status in (Status.resolved, Status.closed):
            return "ticket finished"
        seq = event.payload["seq"]
        party = next(
            (
                held_one(self.session, Party, m.party_id)
                for m in conversation.messages_of(self.session, ticket.id)
                if m.event_seq == seq and m.party_id is not None
            ),
            None,
        )
        if party is None:
            return "no contact"
        persona = self.personas[link.persona]
        facts = [self.say(persona, f.text) for f in self.facts(link, party.ref)]
        if not facts:
            nothing = {
                "zh": "已核实，我们这边没有发现异常。",
                "en": "Checked: nothing unusual on our side.",
            }
            facts = [nothing["zh" if persona.language == "zh" else "en"]]
        body = "\n".join(facts)[:MESSAGE_MAX]
        service.third_party_message(
            session=self.session,
            ticket=ticket,
            actor=SIMULATOR,
            at=at,
            data=schemas.ThirdPartyMessageIn(party=party.ref, body=body),
        )
        return "done"

    def verdict(self, event: Happening, at: Instant) -> str:
        """After a resolution: a customer who did not get what they are owed writes back."""
        ticket, link = self._ticket(event)
        case = self.case(link)
        if ticket.status != Status.resolved or not getattr(case, "wrong_answer_reopens", True):
            return "not resolved"
        owed = outcomes.entitlement(
            outcomes.expectations_for(self.scenario, link, str(ticket.category))
        )
        if owed is None:
            return "nothing owed"
        missing = outcomes.shortfalls(
            owed, outcomes.outcome(self.session, ticket), self.session, ticket
        )
        if not missing:
            return "satisfied"
        persona = self.personas[link.persona]
        link.mood -= 1
        self._message(ticket, at, self.say(persona, self.scenario.reactions.reopen))
        return "reopened"

    def rating(self, event: Happening, at: Instant) -> str:
        ticket, link = self._ticket(event)
        if ticket.status not in (Status.resolved, Status.closed):
            return "reopened"
        score, reasons = csat.rate(self.session, self.scenario, ticket, link)
        workflow.customer_rating(
            session=self.session,
            ticket=ticket,
            actor=SIMULATOR,
            at=at,
            rating=score,
            reasons=reasons,
        )
        return "done"

    def bot(self, event: Happening, at: Instant) -> str:
        """A built-in agent at a tier nobody staffs takes its next action, then comes back
        when that action is done (or, with nothing to do, a little later)."""
        name = event.payload["bot"]
        found = remembered.read(
            self.session,
            ("bot", name),
            ("users",),
            lambda: self.session.connection().execute(_USER_BY_NAME, {"name": name}).first(),
        )
        end = self.scenario.start + self.scenario.duration + BOT_OVERTIME
        if found is None or at.sim > end:
            return "off duty"
        user_id, tier = found
        group = AgentGroup(tier=tier, handling=self.scenario.headless.handling)
        # Drawn from the scenario's seed, the tier and the moment, not the bot's name (which
        # holds the drill's id): two drills from one file and seed get the same bots.
        draws = random.Random(f"{self.scenario.seed}/{Tier(tier).value}/{iso_ms(at.sim)}")
        agent = Bot(name, "careful", Tier(tier), group, draws)
        agent.user_id = user_id  # a turn every few seconds: the row by id from then on
        agent.skip = set(event.payload.get("skip", []))
        caps = compensation.caps_for(self.session, self.drill_id, default_caps())
        try:
            with savepoints.undoable(self.session):
                done = Desk(self.session, self.drill_id, self.scenario, caps).act(
                    agent, at, self.scenario.team.max_concurrent, late=True
                )
        except DomainError as error:
            done = f"refused: {error.message}"[:32]
            if agent.current is not None:
                agent.skip.add(agent.current)  # leave that ticket to a trainer
        later = agent.handling("") if done else BOT_IDLE
        self.schedule(
            f"bot:{name}:{iso_ms(at.sim + later)}",
            at.sim + later,
            "bot",
            None,
            bot=name,
            skip=sorted(agent.skip),
        )
        return done or "idle"

    # --- helpers ------------------------------------------------------------------------

    def _ticket(self, event: Happening) -> tuple[Ticket, ScenarioTicket]:
        assert event.ticket_id is not None
        ticket = held(self.session, Ticket, event.ticket_id)
        assert ticket is not None
        # Where others write alongside, the copy this transaction holds may predate a
        # trainee's change (a close the rating follows): locked and checked before the
        # handler judges it, not only when it writes, since some judge it and write nothing.
        RowLocks.hold(self.session, ticket)
        link = held(self.session, ScenarioTicket, event.ticket_id)
        assert link is not None
        return ticket, link

    def _message(self, ticket: Ticket, at: Instant, body: str) -> None:
        service.customer_message(
            session=self.session,
            ticket=ticket,
            actor=SIMULATOR,
            at=at,
            data=schemas.MessageIn(body=body),
        )


HANDLERS: dict[str, Callable[[World, Happening, Instant], str]] = {
    "arrival": World.arrival,
    "chase": World.chase,
    "answer": World.answer,
    "third_party_reply": World.third_party_reply,
    "verdict": World.verdict,
    "rating": World.rating,
    "bot": World.bot,
}
