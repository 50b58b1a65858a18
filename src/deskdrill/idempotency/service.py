"""Idempotency-Key handling, after draft-ietf-httpapi-idempotency-key-header.

* The key is scoped to the caller: two users may use the same key independently.
* The first request stores its response, success or client error (4xx), and a retry with
  the same key and the same body gets that response again, without doing the work twice.
* The same key with a different body answers 422.
* A retry while the first request is still being processed answers 409.
* Keys expire after ``idempotency_ttl_hours`` (24 h by default); a request whose processing
  died is abandoned after ``idempotency_lock_seconds`` and the key can then be used again.
* A server error (5xx) is not stored, so a retry may succeed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from deskdrill.core.errors import Conflict, Invalid
from deskdrill.idempotency.models import IdempotencyRecord

MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class Replay:
    status_code: int
    body: str


def fingerprint(body: bytes) -> str:
    """Of the request's meaning, not its bytes: the same JSON sent with other spacing or key
    order is the same request."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()
    except (ValueError, UnicodeDecodeError):
        return hashlib.sha256(body).hexdigest()


def validate_key(key: str) -> str:
    key = key.strip()
    if key.startswith('"') and key.endswith('"') and len(key) >= 2:
        key = key[1:-1]  # the draft sends the key as a structured-field string
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise Invalid(
            f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable characters",
            field="Idempotency-Key",
        )
    return key


def begin(
    *,
    session: Session,
    user_id: int,
    key: str,
    body_fingerprint: str,
    now: datetime,
    ttl: timedelta,
    lock: timedelta,
) -> Replay | None:
    """Reserve the key (returns None: go ahead) or answer for an earlier request.

    Runs in its own short transaction, committed by the caller before the work starts.
    """
    session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.user_id == user_id,
            IdempotencyRecord.key == key,
            IdempotencyRecord.expires_at <= now,
        )
    )
    record = session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key
        )
    )
    if record is None:
        try:
            with session.begin_nested():
                session.add(
                    IdempotencyRecord(
                        user_id=user_id,
                        key=key,
                        fingerprint=body_fingerprint,
                        state="processing",
                        created_at=now,
                        locked_until=now + lock,
                        expires_at=now + ttl,
                    )
                )
            return None
        except IntegrityError:
            record = session.scalar(
                select(IdempotencyRecord).where(
                    IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key
                )
            )
            assert record is not None
    if record.fingerprint != body_fingerprint:
        raise Invalid(
            "this Idempotency-Key was already used with a different request body; "
            "use a new key for a new request",
            field="Idempotency-Key",
        )
    if record.state == "done":
        assert record.status_code is not None and record.response_body is not None
        return Replay(record.status_code, record.response_body)
    if record.locked_until > now:
        raise Conflict(
            "a request with this Idempotency-Key is still being processed; retry in a moment"
        )
    # The first attempt died. Take over only if no other retry did so in the meantime.
    taken = session.execute(
        update(IdempotencyRecord)
        .where(
            IdempotencyRecord.id == record.id,
            IdempotencyRecord.state == "processing",
            IdempotencyRecord.locked_until == record.locked_until,
        )
        .values(locked_until=now + lock)
    )
    if taken.rowcount != 1:
        raise Conflict(
            "a request with this Idempotency-Key is still being processed; retry in a moment"
        )
    return None


def finish(*, session: Session, user_id: int, key: str, status_code: int, body: str) -> None:
    record = session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key
        )
    )
    if record is not None:
        record.state, record.status_code, record.response_body = "done", status_code, body


def release(*, session: Session, user_id: int, key: str) -> None:
    session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key
        )
    )
