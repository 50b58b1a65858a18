"""Server-rendered pages (the trainee workspace grows here)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from deskdrill.paths import resource_dir

templates = Jinja2Templates(directory=str(resource_dir("web") / "templates"))
router = APIRouter(include_in_schema=False)


def _language(request: Request) -> str:
    chosen = request.query_params.get("lang")
    if chosen in ("zh", "en"):
        return chosen
    accept = request.headers.get("accept-language", "")
    return "zh" if accept.lower().startswith("zh") else "en"


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "home.html", {"lang": _language(request)})
