"""Home, login, logout and the language switch."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from deskdrill.accounts import service as accounts
from deskdrill.accounts.throttle import LoginThrottle, TooManyAttempts
from deskdrill.api.deps import SessionDep
from deskdrill.core.errors import Unauthorized
from deskdrill.db.engine import unit_of_work
from deskdrill.web import i18n
from deskdrill.web import session as web_session
from deskdrill.web.render import LANGUAGE_COOKIE, language, render
from deskdrill.web.session import FormUser

router = APIRouter(include_in_schema=False)
HOME = "/drills"


def _local(target: str | None) -> str:
    """Only paths on this site: a login link can never send someone elsewhere."""
    if not target:
        return HOME
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return HOME
    return target


def _remember_language(request: Request, response: Response) -> None:
    chosen = request.query_params.get("lang")
    if chosen in i18n.LANGUAGES:
        response.set_cookie(LANGUAGE_COOKIE, chosen, max_age=365 * 86400, samesite="lax")


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    if request.cookies.get(web_session.SESSION_COOKIE):
        return RedirectResponse(HOME, status_code=303)
    response = render(request, "home.html")
    _remember_language(request, response)
    return response


def _login_page(
    request: Request, next_: str, *, error: str | None = None, status: int = 200
) -> Response:
    token = web_session.login_token(request)
    response = render(
        request, "login.html", {"next": next_, "error": error, "login_csrf": token}, status=status
    )
    web_session.remember_login_token(request, response, token)
    _remember_language(request, response)
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> Response:
    return _login_page(request, _local(next))


@router.post("/login", dependencies=[Depends(web_session.check_login_csrf)])
def login(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    next: Annotated[str, Form(max_length=512)] = HOME,
) -> Response:
    throttle: LoginThrottle = request.app.state.login_throttle
    address = request.client.host if request.client else None
    target = _local(next)
    try:
        throttle.begin(username, address)
        # The password is checked (argon2, slow on purpose) outside any write transaction.
        with unit_of_work(request.app.state.session_factory, read_only=True) as session:
            user = accounts.authenticate(session=session, username=username, password=password)
            session.expunge(user)
    except TooManyAttempts as exc:
        i18n.use(language(request))
        minutes = max(1, (exc.retry_after + 59) // 60)
        message = i18n._("Too many failed logins. Try again in %(minutes)s minute(s).")
        return _login_page(request, target, error=message % {"minutes": minutes}, status=429)
    except Unauthorized:
        i18n.use(language(request))
        return _login_page(request, target, error=i18n._("Wrong username or password."), status=401)
    throttle.succeeded(username, address)
    response = RedirectResponse(target, status_code=303)
    with unit_of_work(request.app.state.session_factory) as session:
        web_session.start(session, request, response, user)
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep, _user: FormUser) -> Response:
    response = RedirectResponse("/login", status_code=303)
    web_session.end(session, request, response)
    return response


@router.post("/language")
def set_language(
    request: Request,
    session: SessionDep,
    user: FormUser,
    language: Annotated[str, Form()],
    next: Annotated[str, Form(max_length=512)] = HOME,
) -> Response:
    accounts.set_language(session=session, user_id=user.id, language=language)
    request.app.state.token_cache.clear()
    response = RedirectResponse(_local(next), status_code=303)
    response.set_cookie(LANGUAGE_COOKIE, language, max_age=365 * 86400, samesite="lax")
    return response
