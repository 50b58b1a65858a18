"""The headless runner: a whole scenario on a virtual clock that jumps from event to event.

The drill is real (same database, services, trail and SLA engine as a live one); only
the people are bots and the clock never waits: it jumps to the next moment something is
due (an arrival, a reaction, an SLA warning or breach, a bot finishing an action). The
same file, seed and bots give the same trail hashes on every run.
"""

from __future__ import annotations

import random
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from deskdrill.accounts.enums import Role, Tier
from deskdrill.accounts.models import User
from deskdrill.core import garbage
from deskdrill.core.clock import Instant, utc_now
from deskdrill.core.errors import DomainError
from deskdrill.customers.models import Order, Party
from deskdrill.db import savepoints
from deskdrill.db.deferred import Deferred
from deskdrill.db.engine import unit_of_work
from deskdrill.db.kept import held, held_one, kept_loaded
from deskdrill.drills import clock
from deskdrill.drills.models import Drill, DrillMember
from deskdrill.scenarios.model import Scenario
from deskdrill.settings import Settings
from deskdrill.simulation import engine as schedule
from deskdrill.simulation import hooks, setup
from deskdrill.simulation.agents import Bot, RunPlan, check_fits, staffed
from deskdrill.simulation.bots import Desk
from deskdrill.simulation.models import DrillScenario, ScenarioTicket
from deskdrill.sla import deadlines
from deskdrill.sla.catch_up import drain, next_sla_check
from deskdrill.tickets import compensation, sole_writer
from deskdrill.tickets.models import Ticket, TicketEvent
from deskdrill.tickets.recording import Trail

Progress = Callable[[float], None]  # simulated seconds done
OVERTIME = timedelta(hours=2)
MOMENTS_PER_COMMIT = 250


@dataclass
class RunResult:
    drill_id: int
    scenario: Scenario
    seed: int
    plan: RunPlan
    started: datetime
    ended: datetime
    wall_seconds: float
    tickets: int
    events: int
    peak_memory_mib: float
    bots: list[Bot]
    hashes: dict[str, str] = field(default_factory=dict)

    @property
    def sim_seconds(self) -> float:
        return (self.ended - self.started).total_seconds()


def _bots(plan: RunPlan, seed: int) -> list[Bot]:
    bots = []
    counters: dict[str, int] = {}
    for group in plan.agents:
        for _ in range(group.count):
            tier = Tier(group.tier)
            prefix = f"{group.kind}-{tier.value.lower().replace('_', '-')}"
            counters[prefix] = counters.get(prefix, 0) + 1
            name = f"{prefix}-{counters[prefix]:02d}"
            bots.append(Bot(name, group.kind, tier, group, random.Random(f"{seed}/{name}")))
    return bots


def _create_people(session: Session, bots: list[Bot], now: datetime) -> None:
    for bot in bots:
        session.add(
            User(
                username=bot.username,
                display_name=bot.username,
                role=Role.trainee,
                tier=bot.tier,
                password_hash=setup.NO_PASSWORD,  # a bot never logs in
                created_at=now,
            )
        )
    session.flush()


def _next_moment(
    session: Session, drill_id: int, bots: list[Bot], limit: datetime
) -> tuple[datetime | None, datetime | None]:
    """The next moment anything happens, and the next one the engines have work (an
    arrival, a reaction, an SLA warning or breach), up to ``limit``."""
    engines = [
        moment
        for moment in (
            schedule.next_due(session, drill_id, limit),
            next_sla_check(session, drill_id, limit),
        )
        if moment is not None
    ]
    due = min(engines, default=None)
    bots_free = [b.free_at for b in bots if b.free_at is not None]
    return min([*bots_free, *engines], default=None), due


def run(
    *,
    scenario: Scenario,
    raw: bytes,
    plan: RunPlan,
    factory: sessionmaker[Session],
    settings: Settings,
    seed: int | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Run ``scenario`` to its end on a freshly migrated database behind ``factory``."""
    started_wall = time.perf_counter()
    check_fits(plan, scenario.duration)
    deadlines.install()  # SLA timers follow every change
    hooks.install()  # and the scenario's customers and schedule too
    seed = scenario.seed if seed is None else seed
    plan = staffed(plan)
    bots = _bots(plan, seed)
    wall = utc_now()
    with unit_of_work(factory) as session:
        _create_people(session, bots, wall)
        drill = setup.create(
            session=session,
            scenario=scenario,
            digest=setup.source_digest(raw),
            name=f"run-{scenario.id}"[:128].lower(),
            roster=[setup.Seat(b.username, b.tier) for b in bots],
            creator=None,
            now=wall,
            seed=seed,
        )
        drill_id = drill.id
        clock.start(drill, wall)
        clock.pause(drill, wall)
        caps = compensation.caps_for(session, drill_id, settings.compensation_caps)
    start = scenario.start
    # Arrivals stop at the scenario's end; the desk works on until its last ticket is
    # closed, for at most OVERTIME more.
    stretch = _Stretch(
        drill_id=drill_id,
        scenario=scenario,
        caps=caps,
        bots=bots,
        start=start,
        end=start + scenario.duration + OVERTIME,
        now=start,
    )
    # One session for the whole run, so what it has read (the drill, its scenario, the
    # people, the tickets being worked) stays in its identity map from moment to moment.
    # A transaction holds a stretch of a few hundred moments, as one per moment spent
    # more on BEGIN and COMMIT than on the moment. A stretch is worked optimistically
    # (no savepoint per action); if an action is refused, it is rolled back and worked
    # again with savepoints, from where it began.
    # The run is the only writer of its database (a fresh one, on an engine of its own),
    # so its session may remember the engines' control reads between writes.
    with (
        garbage.fewer_collections(),
        factory() as session,
        sole_writer.keeping(session) as trail,
        kept_loaded(session, _KEPT) as kept,
    ):
        try:
            ended = False
            while not ended:
                began = ([b.saved() for b in bots], stretch.now, stretch.rounds_at_now)
                try:
                    with savepoints.optimistic(session):
                        ended = stretch.work(session, trail)
                except savepoints.Redo:
                    _roll_back(session, kept)
                    backs, stretch.now, stretch.rounds_at_now = began
                    bots[:] = [back() for back in backs]
                    ended = stretch.work(session, trail)
                if not ended:
                    # The drill's clock follows at each commit, so what others may read
                    # of the run stands at one moment; nothing in the run reads it (each
                    # arrival, reaction and action carries its own moment).
                    _move_clock(held_one(session, Drill, drill_id), utc_now(), stretch.now)
                Deferred.flush(session)
                session.commit()
                if progress is not None:
                    progress((stretch.now - start).total_seconds())
        except BaseException:
            session.rollback()
            raise
    now = stretch.now
    with unit_of_work(factory) as session:
        drill = held_one(session, Drill, drill_id)
        wall = utc_now()
        _move_clock(drill, wall, now)
        clock.finish(drill, wall)
    with unit_of_work(factory, read_only=True) as session:
        hashes = {
            ref: head or ""
            for ref, head in session.execute(
                select(ScenarioTicket.ref, Ticket.head_hash)
                .join(Ticket, Ticket.id == ScenarioTicket.ticket_id)
                .where(ScenarioTicket.drill_id == drill_id)
                .order_by(ScenarioTicket.ref)
            )
        }
        events = session.scalar(
            select(func.count())
            .select_from(TicketEvent)
            .join(Ticket, Ticket.id == TicketEvent.ticket_id)
            .where(Ticket.drill_id == drill_id)
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return RunResult(
        drill_id=drill_id,
        scenario=scenario,
        seed=seed,
        plan=plan,
        started=start,
        ended=now,
        wall_seconds=time.perf_counter() - started_wall,
        tickets=len(hashes),
        events=events or 0,
        peak_memory_mib=peak,
        bots=bots,
        hashes=hashes,
    )


@dataclass
class _Stretch:
    """The run's moments, a commit's worth at a time: each makes happen what is due up
    to it, lets the bots act, then flushes (when the stretch is not worked optimistically,
    see ``db.savepoints``)."""

    drill_id: int
    scenario: Scenario
    caps: Any
    bots: list[Bot]
    start: datetime
    end: datetime
    now: datetime
    rounds_at_now: int = 0

    def work(self, session: Session, trail: Trail) -> bool:
        """Up to MOMENTS_PER_COMMIT moments; whether the run has ended."""
        cap = self.scenario.team.max_concurrent
        for _ in range(MOMENTS_PER_COMMIT):
            moment, engines_due = _next_moment(session, self.drill_id, self.bots, self.end)
            if moment is None:
                return True
            self.rounds_at_now = self.rounds_at_now + 1 if moment <= self.now else 0
            if self.rounds_at_now > 1000:  # every round moves something on: a bug guard
                raise RuntimeError(f"the run makes no progress at {self.now.isoformat()}")
            self.now = max(self.now, moment)
            at = Instant(sim=self.now, wall=utc_now())
            if engines_due is not None and engines_due <= self.now:
                drain(session, self.drill_id, at)
            _bots_act(
                session,
                self.drill_id,
                self.scenario,
                self.caps,
                self.bots,
                at,
                self.start,
                cap,
                trail,
            )
            savepoints.settle(session)
        return False


def _move_clock(drill: Drill, wall: datetime, to: datetime) -> None:
    """Jump the (paused) drill clock forward to ``to``."""
    behind = to - clock.clock_of(drill).instant(wall).sim
    if behind > timedelta(0):
        clock.jump(drill, wall, behind)


# Rows a run reads again and again (see ``kept_loaded``).
_KEPT = (Drill, DrillScenario, DrillMember, User, Ticket, ScenarioTicket, Party, Order)


def _roll_back(session: Session, kept: list[object]) -> None:
    """Back to the last commit, with nothing loaded: rows inserted with plain statements and
    then attached (a new ticket) are not known to the session as new, so a rollback alone
    would leave them in its identity map."""
    session.rollback()
    session.expunge_all()
    kept.clear()


def _bots_act(
    session: Session,
    drill_id: int,
    scenario: Scenario,
    caps: Any,
    bots: list[Bot],
    at: Instant,
    start: datetime,
    cap: int,
    trail: Trail,
) -> None:
    """Each bot whose action has ended, or that is idle and may find new work, acts. An
    idle bot looks again only once a ticket that concerns it has changed: ``trail`` notes
    each ticket whose trail grew, and its length is the mark a bot saw last."""
    changes: dict[int, _Changes] = {}  # since a mark: the tickets changed, as they are now
    mark = len(trail)
    for bot in bots:
        if bot.free_at is not None and bot.free_at > at.sim:
            continue
        finished = bot.free_at is not None  # its own action just ended
        bot.free_at = None
        if not bot.on_duty(start, at.sim):
            continue
        if not finished and bot.seen >= 0:
            if bot.seen == mark:
                continue  # nothing changed since it last found no work
            since = changes.get(bot.seen)
            if since is None:
                changed = [held_one(session, Ticket, i) for i in trail.tickets_since(bot.seen)]
                since = changes[bot.seen] = _Changes(changed)
            if not since.concern(bot):
                bot.seen = mark  # what changed is neither its own nor in its queue
                continue
        acted = _act(session, drill_id, scenario, caps, bot, at, cap)
        if acted:
            changes.clear()
        else:
            bot.seen = mark
        mark = len(trail)


class _Changes:
    """The tickets changed since a mark, as an idle bot asks of them: whether one is its
    own, one it held when it last looked, or one waiting unassigned in its tier's queue
    (answered from three sets, once for every bot that saw the same mark)."""

    __slots__ = ("assignees", "ids", "queues")

    def __init__(self, tickets: list[Ticket]) -> None:
        self.ids = {t.id for t in tickets}
        self.assignees = {t.assignee_id for t in tickets if t.assignee_id is not None}
        self.queues = {str(t.tier) for t in tickets if t.assignee_id is None and t.active}

    def concern(self, bot: Bot) -> bool:
        return (
            not self.ids.isdisjoint(bot.holding)
            or (bot.user_id is not None and bot.user_id in self.assignees)
            or str(bot.tier) in self.queues
        )


def _act(
    session: Session,
    drill_id: int,
    scenario: Scenario,
    caps: Any,
    bot: Bot,
    at: Instant,
    cap: int,
) -> bool:
    """One action of one bot; whether it did something. A refused action is noted and the
    bot leaves that ticket to others."""
    category = ""
    try:
        with savepoints.undoable(session):
            done = Desk(session, drill_id, scenario, caps).act(bot, at, cap)
            if bot.current is not None:
                ticket = held(session, Ticket, bot.current)
                category = str(ticket.category) if ticket is not None else ""
    except DomainError as error:
        bot.errors.append(f"{at.sim.isoformat()}: {error.message}")
        if bot.current is not None:
            bot.skip.add(bot.current)
        done = "error"
    if done is None:
        return False
    took = bot.handling(category)
    bot.free_at = at.sim + took
    bot.busy += took
    bot.actions += 1
    return True
