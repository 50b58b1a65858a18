"""The engine benchmark's population: N open tickets in one running drill.

Every ticket is open ('new' or 'open', active) with SLA columns as the app keeps them under
the default policy. Most have their next check 1 to 48 hours ahead (the resolution
warning), so they are never read. ``sets`` disjoint due sets of ``due`` tickets each are
spread at random through the table: the tickets of set ``s`` have their first response
due (and their next check) in the minute before ``wall(s)``, no first response yet, and
the first-response warning already recorded (as the engine would have, earlier). So at
``wall(s)``, after the earlier sets were processed, exactly ``due`` tickets are due, each
with one item: the first-response breach (a firing, a trail event and a notification).

The drill's clock runs at speed 1 anchored at ``NOW``: the wall time given to
``catch_up`` is the simulated time.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from benchmarks import dataset
from deskdrill.sla.policy import DEFAULT_POLICY

VERSION = 1  # bump when the generated data changes (invalidates the SQLite cache)
SEED = 20261124
NOW = dataset.NOW
DRILL_ID = 1
ROUND = timedelta(minutes=1)
MS = timedelta(milliseconds=1)
HOUR_MS, DAY_MS = 3_600_000, 86_400_000
BATCH = 20_000
NO_REPLY_YET = 0.10  # of the tickets not due: first response missed long ago (recorded)
POLICY = DEFAULT_POLICY
WARN = 1 - POLICY.warning_at  # the warning comes this share of the target before the due


@dataclass(frozen=True)
class EngineShape:
    tickets: int
    due: int = 1000
    sets: int = 8

    def wall(self, s: int) -> datetime:
        """The moment at which due set ``s`` (and every earlier one) has fallen due."""
        return NOW + (s + 1) * ROUND

    @property
    def key(self) -> str:
        return f"{self.tickets}-d{self.due}-s{self.sets}"


def drill() -> dict[str, Any]:
    return {
        "id": DRILL_ID, "name": "bench-engine", "title": "Engine benchmark desk",
        "description": "", "settings": {}, "created_by_id": dataset.TRAINER_ID,
        "created_at": NOW - timedelta(days=400), "clock_state": "running",
        "clock_speed": 1, "clock_anchor_sim": NOW, "clock_anchor_wall": NOW,
    }  # fmt: skip


def members() -> list[dict[str, Any]]:
    added = NOW - timedelta(days=400)
    return [{"drill_id": DRILL_ID, "user_id": u, "added_at": added}
            for u in range(1, dataset.USERS + 1)]  # fmt: skip


def _base(rng: random.Random, tid: int, priority: str, channel: str) -> dict[str, Any]:
    n = rng.randrange(10**7)
    return {
        "id": tid, "drill_id": DRILL_ID, "channel": channel,
        "category": rng.choice(dataset.CATEGORIES), "severity": None,
        "subject": rng.choice(dataset.SUBJECTS).format(n=f"{n:07d}"), "priority": priority,
        "active": True, "tier": dataset._weighted(rng, dataset.TIERS), "tags": [],
        "findings": [], "party_id": None, "event_count": 0, "version": 1,
    }  # fmt: skip


def _due_ticket(rng: random.Random, row: dict[str, Any], at: datetime) -> dict[str, Any]:
    """First response due (and next check) in the minute before ``at``, no reply yet."""
    first_target = POLICY.target(row["priority"], "first_response", row["channel"])
    first_due = at - rng.randrange(1_000, 50_000) * MS
    received = first_due - first_target
    assignee = rng.randrange(2, dataset.TRAINER_ID) if rng.random() < 0.3 else None
    row.update(
        status="open" if assignee else "new", assignee_id=assignee, received_at=received,
        first_response_at=None, updated_at=received, first_response_due=first_due,
        resolution_due=received + POLICY.target(row["priority"], "resolution"),
        paused_ms=0, sla_next_check=first_due,
    )  # fmt: skip
    return row


def _waiting_ticket(rng: random.Random, row: dict[str, Any]) -> dict[str, Any]:
    """Next check (the resolution warning) 1 to 48 h ahead; received in the past, with the
    time spent paused that puts the resolution due there."""
    first_target = POLICY.target(row["priority"], "first_response", row["channel"])
    target = POLICY.target(row["priority"], "resolution")
    next_check = NOW + rng.randrange(HOUR_MS, 48 * HOUR_MS) * MS
    resolution_due = next_check + target * WARN
    received = min(NOW - rng.randrange(60_000, 3 * DAY_MS) * MS, resolution_due - target)
    first_due = received + first_target
    replied: datetime | None = min(received + rng.randrange(first_target // MS) * MS, NOW)
    if first_due < NOW and rng.random() < NO_REPLY_YET:
        replied = None
    assignee = rng.randrange(2, dataset.TRAINER_ID) if replied else None
    row.update(
        status="open" if assignee else "new", assignee_id=assignee, received_at=received,
        first_response_at=replied, updated_at=replied or received, first_response_due=first_due,
        resolution_due=resolution_due, paused_ms=(resolution_due - received - target) // MS,
        sla_next_check=next_check,
    )  # fmt: skip
    return row


def warning_firing(row: dict[str, Any]) -> dict[str, Any]:
    """The first-response warning of a due ticket, recorded before the benchmark starts."""
    target = POLICY.target(row["priority"], "first_response", row["channel"])
    due = row["first_response_due"]
    return {"ticket_id": row["id"], "timer": "first_response", "kind": "warning", "due": due,
            "fired_wall": due - target * WARN}  # fmt: skip


def batches(shape: EngineShape) -> Iterator[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """(tickets, recorded warnings) ``BATCH`` tickets at a time, with explicit ids 1..N."""
    rng = random.Random(SEED)
    picked = rng.sample(range(1, shape.tickets + 1), shape.due * shape.sets)
    due_set = {tid: i // shape.due for i, tid in enumerate(picked)}
    tickets: list[dict[str, Any]] = []
    firings: list[dict[str, Any]] = []
    for tid in range(1, shape.tickets + 1):
        priority = dataset._weighted(rng, dataset.PRIORITIES)
        row = _base(rng, tid, priority, rng.choice(dataset.CHANNELS))
        s = due_set.get(tid)
        if s is None:
            tickets.append(_waiting_ticket(rng, row))
        else:
            tickets.append(_due_ticket(rng, row, shape.wall(s)))
            firings.append(warning_firing(row))
        if len(tickets) == BATCH:
            yield tickets, firings
            tickets, firings = [], []
    if tickets:
        yield tickets, firings
