"""Who works a headless run: groups of built-in agents (kind, count, tier, shift, handling
times), the plan parsed from ``--agents careful:8,sloppy:2``, and each bot's state during a
run. What a bot does at the desk is ``simulation.bots``."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import Field, model_validator

from deskdrill.accounts.enums import Tier
from deskdrill.scenarios.fields import Duration, Handling, Strict, format_duration
from deskdrill.scenarios.model import MAX_AGENTS, agent_groups
from deskdrill.tickets.enums import Category

Kind = Literal["careful", "sloppy"]


class AgentGroup(Strict):
    kind: Kind = "careful"
    count: int = Field(default=1, ge=1, le=MAX_AGENTS)
    tier: Tier = Tier.L1
    shift: tuple[Duration, Duration] | None = Field(
        default=None, description="on duty from, until (from the scenario start)"
    )
    handling: Handling = Field(default_factory=Handling)
    by_category: dict[Category, Handling] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _shift_forwards(self) -> AgentGroup:
        if self.shift is not None and self.shift[0] >= self.shift[1]:
            begin, end = (format_duration(d) for d in self.shift)
            raise ValueError(f"a shift ends after it begins, got from {begin} until {end}")
        return self


class RunPlan(Strict):
    """Who works a headless run (``--plan FILE``, or ``--agents careful:8,sloppy:2``)."""

    agents: list[AgentGroup] = Field(min_length=1, max_length=100)


def misfits(plan: RunPlan, duration: timedelta) -> list[tuple[int, str]]:
    """The groups of ``plan`` (by index) whose shift begins only once the scenario has
    ended (``duration`` after its start), and what to say of each: such a group would
    never act, and the report would show its tickets unclaimed with no word why."""
    return [
        (i, f"the shift begins at {format_duration(group.shift[0])}, not before the "
            f"scenario ends ({format_duration(duration)} after its start)")
        for i, group in enumerate(plan.agents)
        if group.shift is not None and group.shift[0] >= duration
    ]  # fmt: skip


def check_fits(plan: RunPlan, duration: timedelta) -> None:
    """Every shift of ``plan`` begins while the scenario runs; a ValueError otherwise."""
    for i, message in misfits(plan, duration):
        raise ValueError(f"agents, group {i + 1}: {message}")


def parse_agents(text: str, handling: Handling | None = None) -> RunPlan:
    """``careful:8,sloppy:2,careful:1@L2`` (``bot`` means careful), each taking
    ``handling`` per action; a ValueError that says what is wrong otherwise."""
    groups = []
    for kind, count, tier in agent_groups(text):
        group = AgentGroup(kind=kind, count=count, tier=tier)
        if handling is not None:
            group = group.model_copy(update={"handling": handling})
        groups.append(group)
    return RunPlan(agents=groups)


def staffed(plan: RunPlan) -> RunPlan:
    """The plan with one careful bot at each tier nobody staffs, so an escalated ticket
    always has somewhere to go."""
    tiers = {g.tier for g in plan.agents}
    extra = [AgentGroup(kind="careful", tier=t) for t in Tier if t not in tiers]
    return RunPlan(agents=[*plan.agents, *extra])


@dataclass
class Bot:
    username: str
    kind: Kind
    tier: Tier
    group: AgentGroup
    rng: random.Random
    free_at: datetime | None = None  # busy until then; None: idle
    busy: timedelta = timedelta(0)
    actions: int = 0
    errors: list[str] = field(default_factory=list)
    skip: set[int] = field(default_factory=set)  # tickets it failed on: left to others
    current: int | None = None
    seen: int = -1  # the change mark when it last found nothing to do
    user_id: int | None = None
    holding: set[int] = field(default_factory=set)  # its tickets when it last looked
    draws: int = 0  # handling times drawn: nothing else moves the generator
    # The generator's state when ``draws`` was ``_drawn``: taken again only once it moved.
    _state: tuple[Any, ...] | None = field(default=None, repr=False, compare=False)
    _drawn: int = field(default=-1, repr=False, compare=False)

    def saved(self) -> Callable[[], Bot]:
        """A way back to the bot as it is now (the runner works a stretch again after a
        refusal): a copy of its own collections, the group (which nothing changes)
        shared, and its generator's state, made a generator again only on the way back.
        The runner saves every bot at every commit and goes back about never; taking
        the state (625 numbers) each time was most of the cost, at 100 bots a few
        seconds per shift, so it is taken again only after a draw."""
        if self._drawn != self.draws:
            self._state, self._drawn = self.rng.getstate(), self.draws
        state = self._state
        copy = replace(
            self, errors=list(self.errors), skip=set(self.skip), holding=set(self.holding)
        )

        def back() -> Bot:
            # A bot of its own each time, as saved; its generator is made without seeding
            # (``Random()`` seeds from the system), since its state is set.
            rng = random.Random.__new__(random.Random)
            rng.setstate(state)
            return replace(
                copy, rng=rng, errors=list(copy.errors), skip=set(copy.skip),
                holding=set(copy.holding),
            )  # fmt: skip

        return back

    def on_duty(self, start: datetime, at: datetime) -> bool:
        if self.group.shift is None:
            return True
        begin, end = self.group.shift
        return start + begin <= at < start + end

    def handling(self, category: str) -> timedelta:
        chosen = self.group.by_category.get(category, self.group.handling)  # type: ignore[call-overload]
        took = chosen.draw(self.rng)
        self.draws += 1
        return took * 3 if self.kind == "sloppy" else took  # and so it breaches
