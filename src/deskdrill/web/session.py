"""Browser sessions: a signed, HttpOnly, SameSite cookie that names a server-side session
(an API token row, so logging out or an admin revoking it ends the session everywhere),
and CSRF tokens for every form and HTMX request.

The CSRF token is derived from the session (an HMAC under the server's secret), so no
state is kept for it; before login, a random token in a cookie of its own must match the
one in the login form (double submit), so nobody can log a browser into their account.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from deskdrill.accounts import service as accounts
from deskdrill.accounts.models import User
from deskdrill.api.token_cache import TokenCache
from deskdrill.core.clock import utc_now
from deskdrill.core.errors import DomainError, Forbidden, Unauthorized
from deskdrill.db.engine import unit_of_work
from deskdrill.settings import Settings

SESSION_COOKIE = "deskdrill_session"
LOGIN_COOKIE = "deskdrill_login_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SESSION_HOURS = 12
TOKEN_NAME = "browser session"


class LoginRequired(DomainError):
    status = 401
    code = "login_required"


def _signer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt="deskdrill.session")


def csrf_token(settings: Settings, secret: str) -> str:
    key = hashlib.sha256(f"csrf|{settings.secret_key}".encode()).digest()
    return hmac.new(key, secret.encode(), hashlib.sha256).hexdigest()


def _secure(request: Request) -> bool:
    forced: bool | None = request.app.state.settings.cookie_secure
    return forced if forced is not None else request.url.scheme == "https"


def _same(given: str, expected: str) -> bool:
    """Constant-time comparison that also refuses what is not plain text (no 500s)."""
    return bool(expected) and hmac.compare_digest(
        given.encode("utf-8", "replace"), expected.encode("utf-8", "replace")
    )


def start(session: Session, request: Request, response: Response, user: User) -> None:
    """Log ``user`` in: a new server-side session and its cookie."""
    settings: Settings = request.app.state.settings
    secret, _token = accounts.issue_token(
        session=session,
        user=user,
        name=TOKEN_NAME,
        now=utc_now(),
        ttl=timedelta(hours=SESSION_HOURS),
    )
    response.set_cookie(
        SESSION_COOKIE,
        cookie_value(settings, secret),
        max_age=SESSION_HOURS * 3600,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/",
    )
    response.delete_cookie(LOGIN_COOKIE, path="/")


def cookie_value(settings: Settings, secret: str) -> str:
    """The session cookie for a server-side session (``secret`` is its token)."""
    return _signer(settings).dumps(secret)


def _secret(request: Request) -> str | None:
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    try:
        return str(_signer(request.app.state.settings).loads(raw, max_age=SESSION_HOURS * 3600))
    except BadSignature:
        return None


def end(session: Session, request: Request, response: Response) -> None:
    """Log out: revoke the server-side session and drop the cookie."""
    secret = _secret(request)
    if secret is not None:
        accounts.revoke_secret(session=session, secret=secret, now=utc_now())
        request.app.state.token_cache.clear()
    response.delete_cookie(SESSION_COOKIE, path="/")


async def web_user(request: Request) -> User:
    """The logged-in user of a page request (LoginRequired sends the browser to /login)."""
    secret = _secret(request)
    if secret is None:
        raise LoginRequired("please log in")
    cache: TokenCache = request.app.state.token_cache
    user = cache.get(secret)
    if user is None:

        def lookup() -> User:
            with unit_of_work(request.app.state.session_factory, read_only=True) as session:
                found, expires_at = accounts.token_owner(
                    session=session, secret=secret, now=utc_now()
                )
                session.expunge(found)
            cache.put(secret, found, expires_at)
            return found

        try:
            user = await run_in_threadpool(lookup)
        except Unauthorized:
            raise LoginRequired("your session has ended; please log in again") from None
    request.state.user = user
    request.state.csrf = csrf_token(request.app.state.settings, secret)
    return user


WebUser = Annotated[User, Depends(web_user)]


def login_token(request: Request) -> str:
    """The pre-login CSRF token: the browser's, or a new one (``remember_login_token``)."""
    token = request.cookies.get(LOGIN_COOKIE)
    if token and 16 <= len(token) <= 64:
        return token
    return secrets.token_urlsafe(24)


def remember_login_token(request: Request, response: Response, token: str) -> None:
    if request.cookies.get(LOGIN_COOKIE) != token:
        response.set_cookie(
            LOGIN_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request), path="/"
        )


async def _submitted(request: Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    # One upload at most (a scenario file); a pasted file may pass the scenario limit a
    # little, for the checker to say by how much (the whole body is bounded: BodyLimit).
    form = await request.form(max_files=2, max_part_size=4 * 1024 * 1024)
    value = form.get(CSRF_FIELD)
    return value if isinstance(value, str) else ""


async def check_csrf(request: Request, user: WebUser) -> User:
    """Every state-changing page request carries the session's CSRF token."""
    expected = request.state.csrf
    if not _same(await _submitted(request), expected):
        raise Forbidden("the form has expired or did not come from deskdrill; reload the page")
    return user


async def check_login_csrf(request: Request) -> None:
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not _same(await _submitted(request), expected):
        raise Forbidden("the login form has expired; reload the page and try again")


FormUser = Annotated[User, Depends(check_csrf)]
