"""The tamper-evident trail.

Each ticket has its own SHA-256 chain. An event's hash covers a canonical JSON encoding of
its sequence number, type, actor, simulated time, payload and the previous hash, and
nothing that differs between two identical runs (no wall time, no database ids), so a
scenario replayed with the same seed yields identical hashes. The ticket row keeps the
head hash and the event count, so a removed tail is detected as well.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from deskdrill.core.clock import iso_ms

GENESIS = "0" * 64

# Projected fields that hold instants, stored on the trail as canonical text.
TIME_FIELDS = frozenset(
    {"received_at", "first_response_at", "escalated_at", "resolved_at", "closed_at"}
)

# Fields of the ticket row that events change through ``payload["changes"]``; replaying
# the trail must reproduce exactly these.
PROJECTED_FIELDS = (
    "channel",
    "category",
    "severity",
    "subject",
    "priority",
    "status",
    "tier",
    "assignee",
    "tags",
    "findings",
    "party",
    "order",
    "merged_into",
    "resolution_code",
    "resolution_summary",
    "received_at",
    "first_response_at",
    "escalated_at",
    "resolved_at",
    "closed_at",
)


# One encoder, built once: json.dumps with options builds a new one on every call.
_encode = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def canonical(
    *, seq: int, type: str, actor: str, sim_at: datetime, payload: dict[str, Any], prev_hash: str
) -> bytes:
    """The JSON document an event's hash covers: keys sorted, no spaces, UTF-8 (the outer
    keys are written in their sorted order directly)."""
    return _document(seq, type, actor, iso_ms(sim_at), _encode(payload), prev_hash)


def _document(
    seq: int, type: str, actor: str, sim_text: str, payload_json: str, prev: str
) -> bytes:
    return (
        f'{{"actor":{_encode(actor)},"payload":{payload_json},"prev":{_encode(prev)},'
        f'"seq":{seq},"sim_at":"{sim_text}","type":{_encode(type)}}}'
    ).encode()


def event_hash(
    *, seq: int, type: str, actor: str, sim_at: datetime, payload: dict[str, Any], prev_hash: str
) -> str:
    return hashlib.sha256(
        canonical(
            seq=seq, type=type, actor=actor, sim_at=sim_at, payload=payload, prev_hash=prev_hash
        )
    ).hexdigest()


def encoded_event_hash(
    *, seq: int, type: str, actor: str, sim_text: str, payload_json: str, prev_hash: str
) -> str:
    """``event_hash`` for a caller that already holds the canonical text of the simulated
    time (``iso_ms``) and of the payload (sorted keys, no spaces), as a bulk writer does."""
    return hashlib.sha256(
        _document(seq, type, actor, sim_text, payload_json, prev_hash)
    ).hexdigest()


@dataclass(frozen=True)
class Verification:
    ok: bool
    events_checked: int
    first_broken_seq: int | None = None
    reason: str | None = None


def verify_chain(events: list[Any], *, head_hash: str | None, event_count: int) -> Verification:
    """Check an ordered list of events against itself and the ticket's head hash and count."""
    prev = GENESIS
    for position, event in enumerate(events, start=1):
        if event.seq != position:
            return Verification(
                False,
                position - 1,
                position,
                f"event {position} is missing or out of order "
                f"(found sequence number {event.seq} in its place)",
            )
        if event.prev_hash != prev:
            return Verification(
                False,
                position - 1,
                position,
                f"event {position} does not link to the event before it",
            )
        expected = event_hash(
            seq=event.seq,
            type=event.type,
            actor=event.actor,
            sim_at=event.sim_at,
            payload=event.payload,
            prev_hash=prev,
        )
        if expected != event.hash:
            return Verification(
                False,
                position - 1,
                position,
                f"event {position} ({event.type}) was altered: its content no "
                "longer matches its hash",
            )
        prev = event.hash
    if len(events) != event_count:
        first = min(len(events), event_count) + 1
        return Verification(
            False,
            len(events),
            first,
            f"the ticket records {event_count} events but {len(events)} are "
            f"stored; event {first} onwards is missing",
        )
    if (head_hash or GENESIS) != prev:
        return Verification(
            False,
            len(events),
            len(events) or 1,
            "the last event does not match the ticket's head hash",
        )
    return Verification(True, len(events))


def replay(events: list[Any]) -> dict[str, Any]:
    """Fold the trail's recorded changes into the projected ticket state."""
    state: dict[str, Any] = dict.fromkeys(PROJECTED_FIELDS)
    state["tags"] = []
    state["findings"] = []
    for event in events:
        for field, value in event.payload.get("changes", {}).items():
            state[field] = value
    return state
