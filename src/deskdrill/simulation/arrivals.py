"""Generated arrivals: Poisson processes shaped by a time-of-day profile, from the seed.

Each generator draws its own stream (seeded by the scenario seed and the generator id), so
adding a generator never changes the arrivals of another, and the same file and seed give
the same arrivals on every machine. Times come from thinning: candidates at the highest
rate of the profile, each kept with the probability of the rate at its moment.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from deskdrill.customers.enums import OrderKind
from deskdrill.scenarios.model import Generator, ProfileWindow, Scenario
from deskdrill.scenarios.references import MAX_ARRIVALS


@dataclass(frozen=True)
class Arrival:
    key: str
    at: timedelta  # from the scenario start
    payload: dict[str, Any]


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def factor_at(profile: list[ProfileWindow], local: datetime) -> float:
    """The profile's factor at a local time of day (1 outside every window)."""
    now = local.hour * 60 + local.minute
    for window in profile:
        start, end = _minutes(window.start), _minutes(window.end)
        inside = start <= now < end if start < end else (now >= start or now < end)
        if inside:
            return window.factor
    return 1.0


def generate(scenario: Scenario) -> list[Arrival]:
    arrivals: list[Arrival] = []
    for index, generator in enumerate(scenario.generators):
        arrivals += _one(scenario, index, generator)
    arrivals.sort(key=lambda a: (a.at, a.key))
    return arrivals


def _one(scenario: Scenario, index: int, generator: Generator) -> list[Arrival]:
    rng = random.Random(f"{scenario.seed}/{generator.id}")
    end = generator.end if generator.end is not None else scenario.duration
    peak = max([1.0, *(w.factor for w in generator.profile)])
    rate = generator.per_hour * peak / 3600  # candidates per second
    weights = [t.weight for t in generator.templates]
    found: list[Arrival] = []
    moment = generator.start.total_seconds()
    while True:
        moment += rng.expovariate(rate)
        if moment >= end.total_seconds():
            break
        local = scenario.start + timedelta(seconds=moment)
        if rng.random() * peak >= factor_at(generator.profile, local):
            continue
        number = len(found) + 1
        if number > MAX_ARRIVALS:
            break  # references.check refuses such scenarios; this only bounds the work
        chosen = rng.choices(range(len(weights)), weights=weights)[0]
        template = generator.templates[chosen]
        persona = rng.choice(template.personas or [p.id for p in scenario.personas])
        payload: dict[str, Any] = {
            "generator": index,
            "template": chosen,
            "persona": persona,
            "order": rng.choice(template.orders) if template.orders else None,
        }
        if payload["order"] is None:
            payload["new_order"] = _fresh_order(scenario, generator, template, number, rng)
        at = timedelta(milliseconds=int(moment * 1000))
        found.append(Arrival(f"gen:{generator.id}:{number}", at, payload))
    return found


def _fresh_order(
    scenario: Scenario, generator: Generator, template: Any, number: int, rng: random.Random
) -> dict[str, Any]:
    low, high = template.amount
    cents = rng.randint(int(low * 100), int(high * 100))
    amount = str(Decimal(cents) / 100)
    by_kind: dict[str, list[str]] = {}
    for party in scenario.third_parties:
        by_kind.setdefault(party.kind, []).append(party.id)
    roles = {OrderKind.ride: ("driver",), OrderKind.food: ("merchant", "courier")}
    order: dict[str, Any] = {
        "number": f"{generator.id.upper()}-{number:05d}",
        "kind": str(template.order_kind),
        "amount": amount,
    }
    for role in roles.get(template.order_kind, ("merchant", "courier")):
        if by_kind.get(role):
            order[role] = rng.choice(by_kind[role])
    return order
