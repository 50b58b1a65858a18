"""POST /tickets: receive a new case, with optional Idempotency-Key.

This endpoint manages its own transactions: the key is reserved in one short transaction,
the ticket and the stored response are written together in a second, and a client error
is stored in a third so that a retry replays it.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from deskdrill.accounts.models import User
from deskdrill.api.deps import Caller, get_instant
from deskdrill.api.errors import ERROR_RESPONSES, error_body
from deskdrill.core.clock import Instant
from deskdrill.core.errors import DomainError, Invalid
from deskdrill.db.engine import unit_of_work
from deskdrill.idempotency import service as idempotency
from deskdrill.settings import Settings
from deskdrill.tickets import intake, queries
from deskdrill.tickets.schemas import TicketRead, TicketReceive

router = APIRouter(tags=["tickets"])

IDEMPOTENCY_DOC = (
    "Send `Idempotency-Key` to make retries safe: a retry with the same key and body replays "
    "the first response (success or client error) with `Idempotent-Replayed: true`; the same "
    "key with another body answers 422; a retry while the first is still running answers "
    "409. Keys are scoped to the caller and expire after 24 hours (DESKDRILL_IDEMPOTENCY_TTL_"
    "HOURS)."
)


def _parse(raw: bytes) -> TicketReceive:
    try:
        return TicketReceive.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "body"
        raise Invalid(f"{field}: {first['msg']}", field=field) from None


def _json(status: int, body: str, *, replayed: bool = False) -> Response:
    headers = {"Location": f"/api/v1/tickets/{json.loads(body)['key']}"} if status == 201 else {}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def _create(session: Session, raw: bytes, actor: User, at: Instant) -> str:
    ticket = intake.receive(session=session, data=_parse(raw), actor=actor, at=at)
    return queries.ticket_read(session, ticket).model_dump_json()


def _receive(
    raw: bytes,
    actor: User,
    factory: sessionmaker[Session],
    settings: Settings,
    at: Instant,
    key: str | None,
) -> Response:
    user_id = actor.id
    if key is None:
        try:
            with unit_of_work(factory) as session:
                return _json(201, _create(session, raw, actor, at))
        except DomainError as exc:
            return _json(exc.status, json.dumps(error_body(exc), ensure_ascii=False))
    try:
        key = idempotency.validate_key(key)
        with unit_of_work(factory) as session:
            replay = idempotency.begin(
                session=session,
                user_id=user_id,
                key=key,
                body_fingerprint=idempotency.fingerprint(raw),
                now=at.wall,
                ttl=timedelta(hours=settings.idempotency_ttl_hours),
                lock=timedelta(seconds=settings.idempotency_lock_seconds),
            )
    except DomainError as exc:
        return _json(exc.status, json.dumps(error_body(exc), ensure_ascii=False))
    if replay is not None:
        return _json(replay.status_code, replay.body, replayed=True)
    try:
        with unit_of_work(factory) as session:
            body = _create(session, raw, actor, at)
            idempotency.finish(
                session=session, user_id=user_id, key=key, status_code=201, body=body
            )
        return _json(201, body)
    except DomainError as exc:
        body = json.dumps(error_body(exc), ensure_ascii=False)
        with unit_of_work(factory) as session:
            idempotency.finish(
                session=session, user_id=user_id, key=key, status_code=exc.status, body=body
            )
        return _json(exc.status, body)
    except BaseException:
        with unit_of_work(factory) as session:
            idempotency.release(session=session, user_id=user_id, key=key)
        raise


@router.post(
    "/tickets",
    status_code=201,
    response_model=TicketRead,
    description=IDEMPOTENCY_DOC,
    responses=ERROR_RESPONSES,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": TicketReceive.model_json_schema()}},
        }
    },
)
async def receive_ticket(
    request: Request,
    user: Caller,
    idempotency_key: Annotated[
        str | None, Header(description="any unique string per request, e.g. a UUID")
    ] = None,
) -> Response:
    """Receive a new case on a channel, with its first customer message."""
    raw = await request.body()
    state = request.app.state
    return await run_in_threadpool(
        _receive,
        raw,
        user,
        state.session_factory,
        state.settings,
        get_instant(),
        idempotency_key,
    )
