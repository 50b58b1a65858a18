"""The ASGI application: API under /api/v1, pages at /, static files at /static."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from deskdrill import __version__
from deskdrill.accounts.passwords import dummy_hash
from deskdrill.accounts.throttle import LoginThrottle
from deskdrill.api import errors
from deskdrill.api.body_limit import BodyLimit
from deskdrill.api.routes import auth, clock, drills, receive, scenarios, sla, tickets, users
from deskdrill.api.timing import ServerTiming
from deskdrill.api.token_cache import TokenCache
from deskdrill.db.engine import make_engine, make_sessionmaker
from deskdrill.paths import resource_dir
from deskdrill.settings import Settings, get_settings
from deskdrill.simulation import hooks as simulation_hooks
from deskdrill.sla import deadlines, escalation_notices
from deskdrill.sla.loop import EngineLoop
from deskdrill.tickets import board
from deskdrill.web import (
    clock_controls,
    debrief,
    live,
    new_drill,
    pages,
    ticket_page,
    workspace,
)
from deskdrill.web import errors as web_errors


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    deadlines.install()
    escalation_notices.install()
    simulation_hooks.install()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        dummy_hash()  # made before the first login, so that its time does not tell anything
        app.state.engine_loop.start()
        yield
        await app.state.live_hub.stop()
        await app.state.engine_loop.stop()

    app = FastAPI(
        lifespan=lifespan,
        title="deskdrill",
        version=__version__,
        description="A support-desk ticketing sandbox for training customer-service staff.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
    )
    app.state.settings = settings
    app.state.engine = make_engine(settings)
    app.state.session_factory = make_sessionmaker(app.state.engine)
    app.state.token_cache = TokenCache(settings.token_cache_seconds)
    app.state.engine_loop = EngineLoop(
        app.state.engine, app.state.session_factory, settings.engine_interval_seconds
    )

    app.state.live_hub = live.LiveHub(
        app.state.session_factory, on_change=[board.SHARED.forget, workspace.SECTIONS.forget]
    )
    app.state.login_throttle = LoginThrottle()

    api = APIRouter(prefix="/api/v1")
    api.add_api_route("/health", _health, methods=["GET"], tags=["meta"], summary="Health")
    for module in (auth, users, drills, clock, receive, tickets, sla, scenarios):
        api.include_router(module.router)
    app.include_router(api)
    # new_drill before workspace: /drills/new is not a drill's number.
    for web in (pages, new_drill, workspace, ticket_page, debrief, clock_controls):
        app.include_router(web.router)
    # Swagger UI's files come from a package, so /docs works with no internet access.
    app.mount("/static/swagger", StaticFiles(directory=str(swagger_ui_path)), name="swagger")
    app.mount("/static", StaticFiles(directory=str(resource_dir("web") / "static")), name="static")
    app.add_api_route("/docs", _docs, methods=["GET"], include_in_schema=False)
    errors.install(app)
    web_errors.install(app)  # pages answer errors with pages; /api/ keeps its JSON
    app.add_middleware(BodyLimit)
    app.add_middleware(ServerTiming)
    return app


def _health(request: Request) -> dict[str, object]:
    """Liveness, and whether this process is the one running the SLA engine loop."""
    return {
        "status": "ok",
        "version": __version__,
        "engine_leader": request.app.state.engine_loop.leader,
    }


def _docs() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/api/v1/openapi.json",
        title="deskdrill API",
        swagger_js_url="/static/swagger/swagger-ui-bundle.js",
        swagger_css_url="/static/swagger/swagger-ui.css",
        swagger_favicon_url="/static/favicon.svg",
    )


def app_factory() -> FastAPI:
    """Entry point for ``uvicorn --factory deskdrill.app:app_factory``."""
    return create_app()
