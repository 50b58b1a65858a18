"""Errors on pages are pages: a clear 401/403/404/409 in the user's language, not JSON.

The API keeps its JSON answers; these handlers pass anything under /api/ to the handler
the API installed for the same kind of error.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException

from deskdrill.api.errors import validation_body
from deskdrill.core.errors import DomainError
from deskdrill.db import ties
from deskdrill.web import i18n
from deskdrill.web.domain_text import domain_text
from deskdrill.web.render import language, render
from deskdrill.web.session import LoginRequired

TITLES = {
    400: "Bad request",
    401: "Please log in",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    409: "Someone else changed this",
    422: "Please check the form",
    429: "Too many attempts",
    503: "Please wait",
}
CONFLICT = "the ticket was changed by someone else at the same moment; it has been reloaded"


def _page(request: Request, status: int, message: str) -> Response:
    i18n.use(language(request))  # the handler runs outside the endpoint's context
    message = domain_text(message)
    if request.headers.get("hx-request"):
        # HTMX swaps only successful answers; tell the page what went wrong instead.
        swap = {"HX-Retarget": "#alerts", "HX-Reswap": "innerHTML"}
        if status == 409:
            swap["HX-Trigger"] = "refresh-ticket"  # a conflict: show the ticket as it is now
        alert = {"message": message, "status": status}
        return render(request, "partials/alert.html", alert, headers=swap)
    return render(
        request,
        "error.html",
        {"status": status, "title": TITLES.get(status, "Error"), "message": message},
        status=status,
        headers={"Retry-After": "5"} if status == 503 else None,
    )


def _login(request: Request) -> Response:
    target = "/login?next=" + quote(request.url.path, safe="/")
    if request.headers.get("hx-request"):
        return Response(status_code=200, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def install(app: FastAPI) -> None:
    api_handlers: dict[Any, Any] = dict(app.exception_handlers)

    def for_pages(kind: type[Exception], page: Any) -> None:
        api = api_handlers.get(kind)

        async def handler(request: Request, exc: Exception) -> Response:
            if request.url.path.startswith("/api/") and api is not None:
                return await api(request, exc)
            return page(request, exc)

        app.add_exception_handler(kind, handler)

    def domain(request: Request, exc: DomainError) -> Response:
        if isinstance(exc, LoginRequired):
            return _login(request)
        return _page(request, exc.status, exc.message)

    async def http(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith(("/api/", "/static/")):
            return await http_exception_handler(request, exc)
        return _page(request, exc.status_code, str(exc.detail))

    def invalid(request: Request, exc: RequestValidationError) -> Response:
        return _page(request, 422, validation_body(exc)["detail"])

    def tie(request: Request, exc: OperationalError) -> Response:
        if not ties.lost(exc):
            raise exc
        return _page(request, 409, CONFLICT)  # undone to break a deadlock: as a conflict

    for_pages(RequestValidationError, invalid)
    for_pages(DomainError, domain)
    for_pages(StaleDataError, lambda request, _exc: _page(request, 409, CONFLICT))
    for_pages(IntegrityError, lambda request, _exc: _page(request, 409, CONFLICT))
    for_pages(OperationalError, tie)
    app.add_exception_handler(HTTPException, http)  # type: ignore[arg-type]
