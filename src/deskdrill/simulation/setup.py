"""Starting a drill from a scenario: the desk, its people, its catalogue and its schedule.

The drill is created in draft with its clock set to the scenario's start and speed; the
trainer starts it. Every timeline ticket and generated arrival is scheduled now, with a
stable key, so the engine brings each one in once, at its moment.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from deskdrill.accounts.enums import Role, Tier
from deskdrill.accounts.models import User
from deskdrill.core.errors import Invalid
from deskdrill.customers import service as customers
from deskdrill.customers.schemas import OrderCreate, OrderItem, PartyCreate
from deskdrill.db.base import UTCDateTime
from deskdrill.db.bulk import bind_processor, insert_rows
from deskdrill.drills import service as drills
from deskdrill.drills.models import Drill, DrillMember
from deskdrill.drills.schemas import DrillCreate, DrillSettings
from deskdrill.scenarios.model import SEED_MAX, Order, Scenario
from deskdrill.simulation.arrivals import generate
from deskdrill.simulation.models import DrillScenario, ScheduledEvent

_SCHEDULE = ScheduledEvent.__table__
_SCHEDULE_COLUMNS = ("drill_id", "key", "due", "kind", "payload")


@dataclass(frozen=True)
class Seat:
    """One person of the roster and the tier they work at in this drill."""

    username: str
    tier: Tier | None = None


def parse_roster(text: str) -> list[Seat]:
    """``alice,bob:L2,carol:incident_desk`` (no tier: the person's own)."""
    seats = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, _, tier = part.partition(":")
        try:
            seats.append(Seat(name.strip(), Tier(tier.strip()) if tier else None))
        except ValueError:
            tiers = ", ".join(t.value for t in Tier)
            message = f"{part!r}: unknown tier {tier!r}; tiers: {tiers}"
            raise Invalid(message, field="trainees") from None
    return seats


def source_digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def create(
    *,
    session: Session,
    scenario: Scenario,
    digest: str,
    name: str,
    roster: list[Seat],
    creator: User,
    now: datetime,
    seed: int | None = None,
) -> Drill:
    """The drill of ``scenario`` for ``roster``, in draft, with everything scheduled."""
    if creator is not None and creator.role not in (Role.trainer, Role.admin):
        raise Invalid(
            f"{creator.username} is a {creator.role}: a drill is run by a trainer or an admin",
            field="by",
        )
    if seed is not None:
        if not 0 <= seed <= SEED_MAX:
            raise Invalid(
                f"the seed is a whole number from 0 to {SEED_MAX}, got {seed}", field="seed"
            )
        scenario = scenario.model_copy(update={"seed": seed})
    trainees = _trainees(session, roster)
    settings = DrillSettings.model_validate(
        {
            "sla_policy": scenario.sla_policy,
            "titles": {"zh": scenario.title.zh[:256], "en": scenario.title.en[:256]},
            "compensation_caps": {
                level: {str(kind): cap.model_dump(mode="json") for kind, cap in caps.items()}
                for level, caps in scenario.limits.items()
            },
        }
    )
    title = f"{scenario.title.zh} · {scenario.title.en}"[:256]
    drill = drills.create_drill(
        session=session,
        data=DrillCreate(
            name=name,
            title=title,
            description=scenario.description.en[:10000],
            settings=settings,
            members=[user.username for user, _ in trainees],
        ),
        creator=creator,
        now=now,
    )
    for user, tier in trainees:
        member = session.get(DrillMember, (drill.id, user.id))
        assert member is not None
        member.tier = tier.value if tier is not None else None
    staffed = {str(tier or user.tier) for user, tier in trainees}
    # Tickets arrive at L1: a roster with nobody there (L2 trainees practising what is
    # escalated to them) gets an L1 bot too, or nothing would ever reach them.
    tiers = (Tier.L1, *BOT_TIERS) if trainees else BOT_TIERS
    bots = [_desk_bot(session, drill, Tier(t), now) for t in tiers if t not in staffed]
    drill.clock_anchor_sim = scenario.start
    drill.clock_speed = Decimal(str(scenario.speed))
    session.add(
        DrillScenario(
            drill_id=drill.id,
            scenario_id=scenario.id,
            document=scenario.model_dump(mode="json"),
            source_sha256=digest,
            seed=scenario.seed,
            created_at=now,
        )
    )
    _catalogue(session, drill.id, scenario)
    _schedule(session, drill.id, scenario, bots)
    session.flush()
    return drill


# Tiers a ticket can be escalated to: when no person works one, a built-in bot does.
BOT_TIERS = (Tier.L2, Tier.supervisor, Tier.incident_desk)


NO_PASSWORD = "!"  # no hash is this: a bot's account, which never logs in


def is_bot(user: User) -> bool:
    """Whether ``user`` is a built-in bot's account, which never logs in: a drill's desk
    bot, or a headless run's agent."""
    return user.password_hash == NO_PASSWORD


def _desk_bot_of_a_drill(user: User) -> bool:
    return is_bot(user) and re.fullmatch(r"d\d+-bot-[a-z0-9-]+", user.username) is not None


def _desk_bot(session: Session, drill: Drill, tier: Tier, now: datetime) -> User:
    """A member that never logs in (no password), worked by the scenario engine. Named
    after the drill's id, which no other drill and no person's account (letters first)
    can have."""
    name = f"d{drill.id}-bot-{tier.value.lower().replace('_', '-')}"
    user = User(
        username=name,
        display_name=f"{tier.value} bot",
        role=Role.trainee,
        tier=tier,
        password_hash=NO_PASSWORD,
        created_at=now,
    )
    session.add(user)
    session.flush()
    drills.add_member(session=session, drill=drill, user=user, now=now)
    return user


def _trainees(session: Session, roster: list[Seat]) -> list[tuple[User, Tier | None]]:
    found = []
    seen: set[str] = set()
    for seat in roster:
        if seat.username in seen:  # which of the two tiers was meant cannot be told
            raise Invalid(f"{seat.username!r} is on the roster twice", field="trainees")
        seen.add(seat.username)
        user = session.scalar(select(User).where(User.username == seat.username))
        if user is None:
            raise Invalid(f"no user named {seat.username!r}", field="trainees")
        if user.role != Role.trainee:
            raise Invalid(f"{seat.username!r} is a {user.role}, not a trainee", field="trainees")
        if _desk_bot_of_a_drill(user):  # it works its own drill only
            raise Invalid(f"{seat.username!r} is a built-in bot, not a person", field="trainees")
        found.append((user, seat.tier))
    return found


def _catalogue(session: Session, drill_id: int, scenario: Scenario) -> None:
    at = scenario.start
    for persona in scenario.personas:
        customers.create_party(
            session=session,
            drill_id=drill_id,
            data=PartyCreate(
                ref=persona.id,
                kind=persona.kind,
                name=persona.name.get(persona.language),
                phone=persona.phone,
                email=persona.email,
                language=persona.language,
                tier=persona.tier,
            ),
            now=at,
        )
    for party in scenario.third_parties:
        customers.create_party(
            session=session,
            drill_id=drill_id,
            data=PartyCreate(
                ref=party.id, kind=party.kind, name=party.name.get("zh"), phone=party.phone
            ),
            now=at,
        )
    for order in scenario.orders:
        customers.create_order(
            session=session, drill_id=drill_id, data=order_create(order, at), now=at
        )


def _before(start: datetime, offset: timedelta | None) -> datetime | None:
    return start - offset if offset is not None else None


def order_create(order: Order, start: datetime) -> OrderCreate:
    route = order.route or (None, None)
    return OrderCreate(
        number=order.id,
        kind=order.kind,
        status=order.status,
        party=order.customer,
        merchant=order.merchant,
        courier=order.courier,
        driver=order.driver,
        items=order.items,
        currency=order.currency,
        amount_paid=order.amount,
        tracking_status=order.tracking,
        shipping_address=order.address,
        paid_at=_before(start, order.paid),
        shipped_at=_before(start, order.shipped),
        delivered_at=_before(start, order.delivered),
        route_from=route[0],
        route_to=route[1],
    )


def fresh_order(spec: dict[str, Any], persona: str, item_name: str) -> OrderCreate:
    """A generated arrival's order (``arrivals._fresh_order``)."""
    amount = Decimal(spec["amount"])
    ride = spec["kind"] == "ride"
    return OrderCreate(
        number=spec["number"],
        kind=spec["kind"],
        status="completed" if ride else "shipped",
        party=persona,
        merchant=spec.get("merchant"),
        courier=spec.get("courier"),
        driver=spec.get("driver"),
        items=[] if ride else [OrderItem(sku=spec["number"], name=item_name, price=amount)],
        amount_paid=amount,
    )


def _schedule(session: Session, drill_id: int, scenario: Scenario, bots: list[User]) -> None:
    connection = session.connection()
    when = bind_processor(connection.dialect, UTCDateTime())
    as_json = bind_processor(connection.dialect, _SCHEDULE.c.payload.type)
    rows = [
        (
            drill_id,
            f"timeline:{t.id}",
            when(scenario.start + t.at),
            "arrival",
            as_json({"timeline": t.id}),
        )
        for t in scenario.timeline
    ]
    rows += [
        (drill_id, a.key, when(scenario.start + a.at), "arrival", as_json(a.payload))
        for a in generate(scenario)
    ]
    rows += [
        (
            drill_id,
            f"bot:{bot.username}:0",
            when(scenario.start),
            "bot",
            as_json({"bot": bot.username}),
        )
        for bot in bots
    ]
    insert_rows(connection, _SCHEDULE, _SCHEDULE_COLUMNS, rows)


def scheduled_count(session: Session, drill_id: int) -> int:
    """Arrivals scheduled (timeline and generated)."""
    query = select(func.count()).where(
        ScheduledEvent.drill_id == drill_id, ScheduledEvent.kind == "arrival"
    )
    return session.scalar(query) or 0
