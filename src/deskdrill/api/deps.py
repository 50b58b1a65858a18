"""Request-scoped dependencies: the database session (the request owns the transaction),
the caller, and the moment of the request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from deskdrill.accounts import service as accounts
from deskdrill.accounts.enums import Role
from deskdrill.accounts.models import User
from deskdrill.api.token_cache import TokenCache
from deskdrill.core.clock import Instant, utc_now, wall_instant
from deskdrill.core.errors import Forbidden, Invalid, Unauthorized
from deskdrill.db.engine import unit_of_work
from deskdrill.settings import Settings
from deskdrill.sla.catch_up import catch_up
from deskdrill.tickets.models import Ticket, parse_ticket_key

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def get_factory(request: Request) -> sessionmaker[Session]:
    return request.app.state.session_factory


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the handler returns, rolled back on error.

    Reads begin DEFERRED on SQLite so they never queue behind writers.
    """
    factory: sessionmaker[Session] = request.app.state.session_factory
    with unit_of_work(factory, read_only=request.method in READ_METHODS) as session:
        yield session


# At most this many request transactions at once per process. Requests beyond it wait
# without holding a worker thread, so a transaction that holds a lock can always get a
# thread to commit (no starvation of the 40-thread pool), and connections stay bounded.
MAX_TRANSACTIONS = 24

SessionDep = Annotated[
    Session, Depends(get_session, scope="function", max_concurrency=MAX_TRANSACTIONS)
]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
FactoryDep = Annotated[sessionmaker[Session], Depends(get_factory)]


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise Unauthorized(
            "send an API token: 'Authorization: Bearer <token>' "
            "(POST /api/v1/auth/token issues one)"
        )
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    return token.strip()


def _lookup(session: Session, cache: TokenCache, secret: str) -> User:
    user, expires_at = accounts.token_owner(session=session, secret=secret, now=utc_now())
    # Detached, so that a rollback of this request cannot expire what the cache shares.
    session.expunge(user)
    cache.put(secret, user, expires_at)
    return user


def get_current_user(
    request: Request, session: SessionDep, authorization: Annotated[str | None, Header()] = None
) -> User:
    """The caller, looked up in the request's own transaction unless recently seen."""
    secret = _bearer(authorization)
    cache: TokenCache = request.app.state.token_cache
    return cache.get(secret) or _lookup(session, cache, secret)


async def get_caller_outside_transaction(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> User:
    """The caller, for endpoints that run their own transactions: looked up in a short read
    transaction of its own, so no write lock is held while they begin theirs."""
    secret = _bearer(authorization)
    cache: TokenCache = request.app.state.token_cache
    if (user := cache.get(secret)) is not None:
        return user

    def lookup() -> User:
        with unit_of_work(request.app.state.session_factory, read_only=True) as session:
            return _lookup(session, cache, secret)

    return await run_in_threadpool(lookup)


CurrentUser = Annotated[User, Depends(get_current_user)]
Caller = Annotated[User, Depends(get_caller_outside_transaction)]


def require_manager(user: CurrentUser) -> User:
    if user.role not in (Role.trainer, Role.admin):
        raise Forbidden("only trainers and admins may do this")
    return user


def require_admin(user: CurrentUser) -> User:
    if user.role != Role.admin:
        raise Forbidden("only admins may do this")
    return user


ManagerUser = Annotated[User, Depends(require_manager)]


def require_manager_caller(user: Caller) -> User:
    """``require_manager`` for an endpoint that writes nothing and may wait (reading a
    scenario file): the caller is looked up outside any transaction, so no write lock
    is held meanwhile."""
    return require_manager(user)


ManagerCaller = Annotated[User, Depends(require_manager_caller)]
AdminUser = Annotated[User, Depends(require_admin)]


def get_instant() -> Instant:
    """Until the drill clock exists, simulated time is wall time."""
    return wall_instant()


Now = Annotated[Instant, Depends(get_instant)]


def expected_version(
    if_match: Annotated[
        str | None,
        Header(description="the ticket version you last saw (its ETag); a stale one answers 409"),
    ] = None,
) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    raw = if_match.strip().removeprefix("W/").strip('"')
    if not raw.isdigit():
        raise Invalid('If-Match must be a ticket version such as "3"', field="If-Match")
    return int(raw)


ExpectedVersion = Annotated[int | None, Depends(expected_version)]


def _catch_up(request: Request, drill_id: int | None) -> None:
    if drill_id is not None:
        catch_up(request.app.state.session_factory, drill_id, utc_now())


async def catch_up_ticket(key: str, request: Request, _caller: Caller) -> None:
    """Before a ticket is read, let the SLA engine record what has fallen due in its drill,
    in transactions of its own, so the read sees it."""

    def run() -> None:
        ticket_id = parse_ticket_key(key)
        if ticket_id is None:
            return
        with unit_of_work(request.app.state.session_factory, read_only=True) as session:
            drill_id = session.scalar(select(Ticket.drill_id).where(Ticket.id == ticket_id))
        _catch_up(request, drill_id)

    await run_in_threadpool(run)


async def catch_up_drill(request: Request, _caller: Caller) -> None:
    """The same for a drill named in the path (``drill_id``) or the query (``drill``)."""
    raw = request.path_params.get("drill_id") or request.query_params.get("drill")
    if raw is not None and str(raw).isdigit():
        await run_in_threadpool(_catch_up, request, int(raw))


CaughtUpTicket = Annotated[None, Depends(catch_up_ticket)]
CaughtUpDrill = Annotated[None, Depends(catch_up_drill)]
