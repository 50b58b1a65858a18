"""Rendering a page: the language chosen, the user and CSRF token at hand."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from deskdrill.web import i18n
from deskdrill.web.templating import templates

LANGUAGE_COOKIE = "deskdrill_lang"


def language(request: Request) -> str:
    """The user's setting, else ``?lang=``, else the cookie, else the browser's."""
    user = getattr(request.state, "user", None)
    if user is not None and user.language in i18n.LANGUAGES:
        return str(user.language)
    for chosen in (request.query_params.get("lang"), request.cookies.get(LANGUAGE_COOKIE)):
        if chosen in i18n.LANGUAGES:
            return str(chosen)
    return i18n.negotiate(request.headers.get("accept-language"))


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    lang = language(request)
    i18n.use(lang)
    values = {
        "lang": lang,
        "user": getattr(request.state, "user", None),
        "csrf": getattr(request.state, "csrf", ""),
        **(context or {}),
    }
    response = templates.TemplateResponse(request, template, values, status_code=status)
    if headers:
        response.headers.update(headers)
    return response
