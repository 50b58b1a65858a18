"""A realistic, reproducible ticket population: who owns what, in which state, since when.

Drill 1 is the measured desk (90% of the tickets), drill 2 another desk sharing the tables.
In each drill ~30% of tickets are active and unassigned, ~5% active with some agent, and
the rest resolved or closed (assigned). The measured user ("bench_me") has ``mine``
active tickets of their own in drill 1, plus their share of the resolved ones.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

VERSION = 1  # bump when the generated data changes (invalidates the SQLite cache)
SEED = 20261123
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
BATCH = 20_000
USERS = 50  # 1 measured trainee, 48 other trainees, 1 trainer
MEASURED_USER_ID = 1
TRAINER_ID = USERS
MEASURED_DRILL_ID = 1
OTHER_DRILL_SHARE = 0.10
PARTIES = (20_000, 2_000)  # per drill
UNASSIGNED, ACTIVE_OTHERS = 0.30, 0.05
PRIORITIES = (("P1", 5), ("P2", 15), ("P3", 60), ("P4", 20))
TIERS = (("L1", 80), ("L2", 15), ("supervisor", 5))
CHANNELS = ("chat", "email", "phone", "app")
CATEGORIES = ("order", "refund_return", "logistics", "payment", "product_quality", "other")
SUBJECTS = (
    "Order {n} not delivered",
    "Refund for order {n} still missing",
    "Wrong item received in parcel {n}",
    "Charged twice for order {n}",
    "Courier could not find address, order {n}",
    "订单 {n} 还没有收到",
    "Damaged product in order {n}",
    "Cannot log in to my account ({n})",
)


@dataclass(frozen=True)
class Shape:
    tickets: int
    mine: int

    @property
    def drill_tickets(self) -> tuple[int, int]:
        other = int(self.tickets * OTHER_DRILL_SHARE)
        return self.tickets - other, other


def users() -> list[dict[str, Any]]:
    rows = []
    for uid in range(1, USERS + 1):
        name = "bench_me" if uid == MEASURED_USER_ID else f"agent_{uid:02d}"
        role = "trainer" if uid == TRAINER_ID else "trainee"
        if uid == TRAINER_ID:
            name = "bench_trainer"
        rows.append({
            "id": uid, "username": name, "display_name": name.replace("_", " ").title(),
            "role": role, "tier": "L1", "skills_categories": [], "skills_languages": [],
            "max_concurrent": 5, "language": "en", "password_hash": "!benchmark-no-login",
            "active": True, "created_at": NOW - timedelta(days=400),
        })  # fmt: skip
    return rows


def drills() -> list[dict[str, Any]]:
    return [
        {"id": i, "name": f"bench-{i}", "title": f"Benchmark desk {i}", "description": "",
         "settings": {}, "created_by_id": TRAINER_ID, "created_at": NOW - timedelta(days=400)}
        for i in (1, 2)
    ]  # fmt: skip


def drill_members() -> list[dict[str, Any]]:
    added = NOW - timedelta(days=400)
    rows = [{"drill_id": 1, "user_id": u, "added_at": added} for u in range(1, USERS + 1)]
    rows += [{"drill_id": 2, "user_id": u, "added_at": added} for u in range(30, USERS + 1)]
    return rows


def party_ranges() -> tuple[range, range]:
    return range(1, PARTIES[0] + 1), range(PARTIES[0] + 1, PARTIES[0] + PARTIES[1] + 1)


def parties() -> Iterator[dict[str, Any]]:
    for drill_id, ids in zip((1, 2), party_ranges(), strict=True):
        for pid in ids:
            yield {
                "id": pid, "drill_id": drill_id, "ref": f"C{pid:07d}", "kind": "consumer",
                "name": f"Customer {pid}", "phone": f"+86 138 {pid:08d}", "email": None,
                "language": "zh", "tier": "regular", "created_at": NOW - timedelta(days=400),
            }  # fmt: skip


def _weighted(rng: random.Random, table: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([v for v, _ in table], weights=[w for _, w in table])[0]


def _ticket(
    rng: random.Random, drill_id: int, agents: tuple[int, ...], parties: range, mine: bool
) -> dict[str, Any]:
    """``agents``: the drill's agents; the measured user, if one, comes first."""
    r = rng.random()
    active = mine or r < UNASSIGNED + ACTIVE_OTHERS
    if mine:
        assignee: int | None = MEASURED_USER_ID
    elif r < UNASSIGNED:
        assignee = None
    elif active:  # someone else's: the measured user's active count stays exactly ``mine``
        assignee = rng.choice(agents[1:] if agents[0] == MEASURED_USER_ID else agents)
    else:
        assignee = rng.choice(agents)
    # Active cases are recent (last 30 days); closed ones spread over a year.
    age_ms = rng.randrange((30 if active else 365) * 86_400_000)
    received = NOW - timedelta(milliseconds=age_ms)
    updated = received + timedelta(milliseconds=rng.randrange(min(age_ms, 3 * 86_400_000) + 1))
    if not active:
        status = "closed" if rng.random() < 0.7 else "resolved"
    elif assignee is None:
        status = "new"
    else:
        status = rng.choice(("open", "open", "pending_customer", "pending_third_party"))
    n = rng.randrange(10**7)
    return {
        "drill_id": drill_id, "channel": rng.choice(CHANNELS), "category": rng.choice(CATEGORIES),
        "severity": None, "subject": rng.choice(SUBJECTS).format(n=f"{n:07d}"),
        "priority": _weighted(rng, PRIORITIES), "status": status, "active": active,
        "tier": _weighted(rng, TIERS), "assignee_id": assignee, "tags": [], "findings": [],
        "party_id": rng.choice(parties) if rng.random() < 0.8 else None,
        "received_at": received, "updated_at": updated,
        "first_response_at": updated if assignee is not None else None,
        "resolved_at": updated if not active else None,
        "closed_at": updated if status == "closed" else None,
        "event_count": 0, "version": 1,
    }  # fmt: skip


def ticket_batches(shape: Shape) -> Iterator[list[dict[str, Any]]]:
    """Tickets in insertion order, ``BATCH`` at a time (ids are left to the database)."""
    rng = random.Random(SEED)
    n1, n2 = shape.drill_tickets
    mine = set(rng.sample(range(n1), min(shape.mine, n1)))
    drill_agents = (tuple(range(1, TRAINER_ID)), tuple(range(30, TRAINER_ID)))
    batch: list[dict[str, Any]] = []
    for drill_id, count, agents, party_ids in zip(
        (1, 2), (n1, n2), drill_agents, party_ranges(), strict=True
    ):
        for i in range(count):
            is_mine = drill_id == MEASURED_DRILL_ID and i in mine
            batch.append(_ticket(rng, drill_id, agents, party_ids, is_mine))
            if len(batch) == BATCH:
                yield batch
                batch = []
    if batch:
        yield batch
