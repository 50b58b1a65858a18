"""Built-in agents for headless runs (and for tiers nobody staffs).

- A **careful** bot works like a well-trained agent: it greets with the greeting macro,
  asks the order's merchant, courier or driver before deciding, gives what the policy
  says the customer is owed (the scenario's expectations stand for the policy it knows),
  escalates what must go up (and files the incident report at the incident desk), answers
  with the closing macro, resolves and closes.
- A **sloppy** bot is three times slower, answers without a greeting, never
  investigates, refunds the whole order whatever happened, never escalates and closes
  without a closing.

Each action takes a handling time drawn from the bot's distribution (fixed, exponential
or lognormal, by category if given); a bot works one action at a time, on the most urgent
of its tickets, and claims a new one from its tier's queue while under its cap.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, literal_column, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from deskdrill.accounts.enums import Tier
from deskdrill.accounts.models import User
from deskdrill.core.clock import Instant
from deskdrill.customers.models import Order
from deskdrill.db import remembered
from deskdrill.db.deferred import Deferred
from deskdrill.db.kept import held, held_one
from deskdrill.db.savepoints import flush_before_reading
from deskdrill.scenarios import macros
from deskdrill.scenarios.model import Macro, Scenario
from deskdrill.simulation import outcomes
from deskdrill.simulation.agents import Bot
from deskdrill.simulation.models import ScenarioTicket
from deskdrill.tickets import compensation, schemas, service, workflow
from deskdrill.tickets.desks import Desks
from deskdrill.tickets.enums import CompensationStatus, Status
from deskdrill.tickets.ledger import Ledger
from deskdrill.tickets.models import Compensation, Ticket, TicketEvent
from deskdrill.tickets.recording import TIER_RANK, Trail

_MINE = (
    select(Ticket.id)
    .where(Ticket.drill_id == bindparam("drill"), Ticket.assignee_id == bindparam("user"))
    # The value written in the SQL, as the index's predicate states it, so the planner
    # (PostgreSQL's generic plans too) can tell the query implies it.
    .where(Ticket.status != literal_column("'closed'"))
    .order_by(Ticket.priority, Ticket.received_at, Ticket.id)
)
_TICKETS = select(Ticket).where(Ticket.id.in_(bindparam("ids", expanding=True)))
_NEXT_IN_QUEUE = (
    select(Ticket)
    .where(Ticket.drill_id == bindparam("drill"), Ticket.active.is_(True))
    .where(Ticket.assignee_id.is_(None), Ticket.tier == bindparam("tier"))
    .order_by(Ticket.priority, Ticket.received_at, Ticket.id)
    .limit(1)
)
_EVENT_TYPES = select(TicketEvent.type).where(TicketEvent.ticket_id == bindparam("ticket"))
_REQUESTED = (
    select(Compensation.id)
    .where(
        Compensation.ticket_id == bindparam("ticket"),
        Compensation.kind.in_(bindparam("kinds", expanding=True)),
    )
    .where(Compensation.status == CompensationStatus.requested)
    .limit(1)
)
_ASK = {
    "logistics": "courier",
    "lost_item": "driver",
    "fare_dispute": "driver",
    "safety_incident": "driver",
    "refund_return": "merchant",
    "product_quality": "merchant",
    "order": "merchant",
}
_APPROVABLE = ("refund", "coupon", "goodwill_credit", "counterfeit_compensation")
_COMPLAINT = schemas.ComplaintRecord(
    customer_asks="a decision above my level",
    actions_taken="greeted, investigated",
    proposed_outcome="as the policy says",
)


class Desk:
    """What bots do, in one unit of work per action."""

    def __init__(self, session: Session, drill_id: int, scenario: Scenario, caps: Any) -> None:
        self.session = session
        self.drill_id = drill_id
        self.scenario = scenario
        self.caps = caps

    def act(self, bot: Bot, at: Instant, max_concurrent: int, *, late: bool = False) -> str | None:
        """One action of ``bot`` at ``at``; its name, or None when there was nothing to do.

        ``late``: the turn may be worked after people acted at later moments (a live
        drill's engine catching up): a ticket changed after ``at`` has not happened yet
        for the bot, which leaves it to its next turn. (The headless runner works every
        moment in order, and its bots act on what the moment itself changed.)"""
        user = self._user(bot)
        mine = self._mine(user)
        bot.holding = {t.id for t in mine}
        for ticket in mine:
            if ticket.id in bot.skip or (late and ticket.updated_at > at.sim):
                continue
            bot.current = ticket.id
            done = self._work(bot, user, ticket, at)
            if done is not None:
                return done
        bot.current = None
        if sum(1 for t in mine if t.active) < max_concurrent:
            ticket = self._next_in_queue(bot.tier)
            if ticket is not None and not (late and ticket.updated_at > at.sim):
                service.claim(session=self.session, ticket=ticket, actor=user, at=at)
                return "claim"
        return None

    def _user(self, bot: Bot) -> User:
        """The bot's user row: looked up by name once, then by id (from the session's
        identity map while the session lives)."""
        if bot.user_id is not None:
            return held_one(self.session, User, bot.user_id)
        user = self.session.scalar(select(User).where(User.username == bot.username))
        assert user is not None
        bot.user_id = user.id
        return user

    def _mine(self, user: User) -> list[Ticket]:
        """Its tickets not yet closed, most urgent first: their ids from one plain read,
        the tickets from the session where it holds them (a long-lived one mostly does),
        the others loaded together."""
        desks = Desks.of(self.session)
        if desks is not None:
            return desks.mine(self.drill_id, user.id)
        params = {"drill": self.drill_id, "user": user.id}
        flush_before_reading(self.session, ("tickets",))
        ids = list(self.session.connection().execute(_MINE, params).scalars())
        held: dict[int, Ticket] = {}
        for ticket_id in ids:
            ticket = self.session.identity_map.get(identity_key(Ticket, ticket_id))
            if ticket is not None:
                held[ticket_id] = ticket
        missing = [i for i in ids if i not in held]
        if missing:
            held.update((t.id, t) for t in self.session.scalars(_TICKETS, {"ids": missing}))
        return [held[i] for i in ids]

    def _next_in_queue(self, tier: Tier) -> Ticket | None:
        desks = Desks.of(self.session)
        if desks is not None:
            return desks.next_in_queue(self.drill_id, tier)
        return self.session.scalar(_NEXT_IN_QUEUE, {"drill": self.drill_id, "tier": tier})

    # --- one ticket ---------------------------------------------------------------------

    def _events(self, ticket: Ticket) -> set[str]:
        known = Trail.types_of(self.session, ticket)
        if known is not None:
            return known
        Deferred.flush(self.session)
        return set(self.session.scalars(_EVENT_TYPES, {"ticket": ticket.id}))

    def _work(self, bot: Bot, user: User, ticket: Ticket, at: Instant) -> str | None:
        if ticket.status == Status.resolved:
            workflow.close(session=self.session, ticket=ticket, actor=user, at=at)
            return "close"
        if ticket.status in (Status.pending_third_party, Status.pending_customer):
            return None  # waiting: another ticket, or nothing
        link = held(self.session, ScenarioTicket, ticket.id)
        expectations = (
            outcomes.expectations_for(self.scenario, link, str(ticket.category)) if link else []
        )
        persona = next((p for p in self.scenario.personas if link and p.id == link.persona), None)
        lang = persona.language if persona else "zh"
        done = self._events(ticket)
        if bot.kind == "sloppy":
            return self._sloppy(user, ticket, at, done, lang)
        if self._awaiting_approval(ticket) and self.approve_waiting(user, ticket, at):
            return "approve"
        if ticket.first_response_at is None:
            self._reply(user, ticket, at, lang, "greeting", "checking")
            return "reply"
        target = self._must_reach(ticket, link, expectations)
        if target is not None and TIER_RANK[ticket.tier] < TIER_RANK[target]:
            workflow.escalate(
                session=self.session,
                ticket=ticket,
                actor=user,
                at=at,
                data=schemas.EscalateIn(
                    tier=target, reason="must go up at once", complaint=_COMPLAINT
                ),
            )
            return "escalate"
        if link is not None and link.report_required and "incident_report" not in done:
            workflow.incident_report(
                session=self.session,
                ticket=ticket,
                actor=user,
                at=at,
                data=schemas.IncidentReportIn(
                    what_happened=ticket.subject,
                    who_is_at_risk="the customer",
                    actions_taken="contacted the customer; safety checked",
                    handed_to="safety team",
                ),
            )
            return "incident_report"
        party = self._who_to_ask(ticket)
        if (
            party is not None
            and "contact_third_party" not in done
            and "third_party_message" not in done
        ):
            service.contact_third_party(
                session=self.session,
                ticket=ticket,
                actor=user,
                at=at,
                data=schemas.ThirdPartyContactIn(party=party, body=_ask_text(lang)),
            )
            return "contact_third_party"
        owed = outcomes.entitlement(expectations)
        if owed is not None:
            action = self._give(bot, user, ticket, at, owed)
            if action is not None:
                return action
        if self._awaiting_approval(ticket):
            return None
        self._reply(user, ticket, at, lang, "solution", "closing")
        code = "compensated" if owed is not None else "information_provided"
        if link is not None and link.report_required:
            code = "handed_to_authorities"
        if owed is not None and owed.resolution:
            code = owed.resolution[0]
        workflow.resolve(
            session=self.session,
            ticket=ticket,
            actor=user,
            at=Instant(at.sim + _MS, at.wall),
            data=schemas.ResolveIn(code=code, summary="handled as the policy says"),
        )
        return "resolve"

    def _sloppy(self, user: User, ticket: Ticket, at: Instant, done: set[str], lang: str) -> str:
        if ticket.first_response_at is None:
            body = "在的，稍等" if lang == "zh" else "ok wait"
            service.reply(
                session=self.session,
                ticket=ticket,
                actor=user,
                at=at,
                data=schemas.MessageIn(body=body),
            )
            return "reply"
        granted = {"compensation_approved", "compensation_requested"} & done
        if not granted and ticket.order_id is not None:
            self._compensate(user, ticket, at, "refund", None)
            return "compensate"
        workflow.resolve(
            session=self.session,
            ticket=ticket,
            actor=user,
            at=at,
            data=schemas.ResolveIn(code="refunded", summary="refunded"),
        )
        return "resolve"

    def _must_reach(
        self, ticket: Ticket, link: ScenarioTicket | None, expectations: list[Any]
    ) -> Tier | None:
        for e in expectations:
            if e.escalate_to is not None:
                return Tier(e.escalate_to)
        ref = link.ref.removeprefix("timeline:") if link else None
        for incident in self.scenario.incidents:
            if incident.category == ticket.category or (ref and incident.ticket == ref):
                return Tier(incident.tier)
        return None

    def _who_to_ask(self, ticket: Ticket) -> str | None:
        order = held(self.session, Order, ticket.order_id) if ticket.order_id else None
        if order is None:
            return None
        wanted = _ASK.get(str(ticket.category))
        roles = [r for r in (wanted, "courier", "merchant", "driver") if r]
        return next((r for r in roles if getattr(order, f"{r}_id") is not None), None)

    def _give(self, bot: Bot, user: User, ticket: Ticket, at: Instant, owed: Any) -> str | None:
        got = outcomes.outcome(self.session, ticket)
        refund = outcomes.entitled_refund(owed, self.session, ticket)
        if refund is not None and got.refunded < refund and not self._requested(ticket, "refund"):
            amount = None if owed.refund == "full" else refund - got.refunded
            return self._compensate(user, ticket, at, "refund", amount)
        if (
            owed.coupon is not None
            and got.coupons < owed.coupon
            and not self._requested(ticket, "coupon")
        ):
            return self._compensate(user, ticket, at, "coupon", Decimal(owed.coupon) - got.coupons)
        if owed.counterfeit_compensation and not got.counterfeit:
            return self._counterfeit(user, ticket, at)
        if owed.order_action is not None and owed.order_action not in got.order_actions:
            compensation.order_action(
                session=self.session,
                ticket=ticket,
                actor=user,
                at=at,
                data=schemas.OrderActionIn(kind=owed.order_action, reason="as the policy says"),
            )
            return "order_action"
        return None

    def _counterfeit(self, user: User, ticket: Ticket, at: Instant) -> str | None:
        """A counterfeit finding on the first item, then its compensation (a multiple of
        the price, which usually needs a supervisor's approval)."""
        order = held(self.session, Order, ticket.order_id) if ticket.order_id else None
        if order is None or not order.items or self._requested(ticket, "counterfeit_compensation"):
            return None
        sku = order.items[0]["sku"]
        if not any(f.get("kind") == "counterfeit" for f in ticket.findings):
            compensation.record_finding(
                session=self.session,
                ticket=ticket,
                actor=user,
                at=at,
                data=schemas.FindingIn(
                    kind="counterfeit",
                    item_sku=sku,
                    evidence="the merchant could not show proof of purchase from the brand",
                ),
            )
            return "record_finding"
        comp = compensation.compensate(
            session=self.session,
            ticket=ticket,
            actor=user,
            at=at,
            caps=self.caps,
            data=schemas.CompensateIn(
                kind="counterfeit_compensation", item_sku=sku, reason="counterfeit confirmed"
            ),
        )
        self._escalate_for_approval(user, ticket, at, comp)
        return "compensate"

    def _requested(self, ticket: Ticket, *kinds: str) -> bool:
        """Whether a compensation of one of these kinds waits for approval."""
        kept = Ledger.compensations(self.session, ticket.id)
        if kept is not None:
            return any(c.kind in kinds and c.status == CompensationStatus.requested for c in kept)
        params = {"ticket": ticket.id, "kinds": list(kinds)}
        found = remembered.read(
            self.session,
            ("requested", ticket.id, kinds),
            (Compensation.__tablename__,),
            lambda: self.session.scalar(_REQUESTED, params),
        )
        return found is not None

    def _awaiting_approval(self, ticket: Ticket) -> bool:
        return self._requested(ticket, *_APPROVABLE)

    def _compensate(
        self, user: User, ticket: Ticket, at: Instant, kind: str, amount: Decimal | None
    ) -> str:
        comp = compensation.compensate(
            session=self.session,
            ticket=ticket,
            actor=user,
            at=at,
            caps=self.caps,
            data=schemas.CompensateIn(kind=kind, amount=amount, reason="as the policy says"),
        )
        self._escalate_for_approval(user, ticket, at, comp)
        return "compensate"

    def _escalate_for_approval(
        self, user: User, ticket: Ticket, at: Instant, comp: Compensation
    ) -> None:
        """Above this bot's limit: hand the ticket up to the lowest tier that may approve."""
        if comp.status != CompensationStatus.requested:
            return
        for up in (Tier.L2, Tier.supervisor):
            cap = self.caps.get(up.value, {}).get(comp.kind)
            higher = TIER_RANK[up.value] > TIER_RANK[ticket.tier]
            if higher and cap is not None and cap.per_action >= comp.amount:
                workflow.escalate(
                    session=self.session,
                    ticket=ticket,
                    actor=user,
                    at=Instant(at.sim + _MS, at.wall),
                    data=schemas.EscalateIn(
                        tier=up, reason="approval needed", complaint=_COMPLAINT
                    ),
                )
                return

    def approve_waiting(self, user: User, ticket: Ticket, at: Instant) -> bool:
        waiting = self.session.scalars(
            select(Compensation).where(
                Compensation.ticket_id == ticket.id,
                Compensation.status == CompensationStatus.requested,
            )
        ).all()
        for comp in waiting:
            compensation.decide(
                session=self.session,
                ticket=ticket,
                actor=user,
                at=at,
                caps=self.caps,
                number=comp.number,
                approve=True,
                data=schemas.DecisionIn(note="within my limit"),
            )
            return True
        return False

    def _reply(
        self, user: User, ticket: Ticket, at: Instant, lang: str, first: str, second: str
    ) -> None:
        body = "".join(
            _macro_text(self.scenario, kind, lang, ticket, user) for kind in (first, second)
        )
        service.reply(
            session=self.session,
            ticket=ticket,
            actor=user,
            at=at,
            data=schemas.MessageIn(body=(body or "…")[:20_000]),
        )


_MS = timedelta(milliseconds=1)


def _ask_text(lang: str) -> str:
    return "请协助核实该订单的情况。" if lang == "zh" else "Could you check what happened?"


def _macro_text(scenario: Scenario, kind: str, lang: str, ticket: Ticket, user: User) -> str:
    macro: Macro | None = next((m for m in scenario.macros if m.kind == kind), None)
    if macro is None:
        return ""
    return macros.fill(
        str(getattr(macro.text, lang)), {"agent": user.username, "ticket": ticket.key}
    )
