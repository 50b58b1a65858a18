"""One place that turns errors into JSON answers a person can act on."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

from deskdrill.core.errors import DomainError
from deskdrill.db import ties

TIE = "the change met one made at the same moment and was undone; reload and try again"


def error_body(exc: DomainError) -> dict[str, Any]:
    body: dict[str, Any] = {"error": exc.code, "detail": exc.message}
    body.update({k: v for k, v in exc.extra.items() if v is not None})
    return body


def domain_response(exc: DomainError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return JSONResponse(error_body(exc), status_code=exc.status, headers=headers)


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def _problem(error: dict[str, Any]) -> dict[str, str]:
    if error.get("type") == "json_invalid":  # its loc is ("body", offset): not a field
        at = error.get("loc", ("body", "?"))[-1]
        reason = (error.get("ctx") or {}).get("error", "invalid JSON")
        return {"field": "body", "message": f"not valid JSON at character {at}: {reason}"}
    return {"field": _location(tuple(error.get("loc", ()))), "message": error.get("msg", "")}


def validation_body(exc: RequestValidationError) -> dict[str, Any]:
    errors = [_problem(e) for e in exc.errors()]
    first = errors[0] if errors else {"field": "body", "message": "invalid request"}
    return {
        "error": "validation_error",
        "detail": f"{first['field']}: {first['message']}",
        "field": first["field"],
        "errors": errors,
    }


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_request: Request, exc: DomainError) -> JSONResponse:
        return domain_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(validation_body(exc), status_code=422)

    @app.exception_handler(StaleDataError)
    async def _stale(_request: Request, _exc: StaleDataError) -> JSONResponse:
        return JSONResponse(
            {
                "error": "conflict",
                "detail": "the ticket was changed by someone "
                "else at the same moment; reload it and try again",
            },
            status_code=409,
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(_request: Request, exc: IntegrityError) -> JSONResponse:
        return JSONResponse(
            {
                "error": "conflict",
                "detail": "the change collides with one made "
                "at the same moment; reload and try again",
            },
            status_code=409,
        )

    @app.exception_handler(OperationalError)
    async def _tie(_request: Request, exc: OperationalError) -> JSONResponse:
        if not ties.lost(exc):  # anything else is the server's fault: a 500
            raise exc
        # PostgreSQL undid this transaction to break a deadlock with another writer.
        return JSONResponse({"error": "conflict", "detail": TIE}, status_code=409)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing, unknown, expired or revoked token"},
    403: {"description": "your role may not do this"},
    404: {"description": "no such ticket in a drill you belong to"},
    409: {
        "description": "illegal transition for the current status, a stale version, or a "
        "change undone because another made at the same moment collided with it"
    },
    422: {"description": "invalid input; `field` names what is wrong"},
}
