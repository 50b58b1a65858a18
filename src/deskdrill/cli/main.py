"""The ``deskdrill`` command."""

from __future__ import annotations

from typing import Annotated

import typer

from deskdrill.cli import drills, scenarios, users
from deskdrill.cli.context import check_schema, console, load_settings

app = typer.Typer(
    help="deskdrill: a support-desk ticketing sandbox for training.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(users.app, name="users")
app.add_typer(drills.app, name="drill")
app.add_typer(scenarios.app, name="scenario")


@app.command()
def migrate(revision: Annotated[str, typer.Argument(help="target revision")] = "head") -> None:
    """Bring the database schema up to date (Alembic)."""
    from deskdrill.db import migrate as migrations

    settings = load_settings()
    migrations.upgrade(settings.database_url, revision)
    console.print(f"database at revision {migrations.current(settings.database_url)}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="default DESKDRILL_HOST or 127.0.0.1")] = None,
    port: Annotated[int | None, typer.Option(help="default DESKDRILL_PORT or 8000")] = None,
    workers: Annotated[int, typer.Option(help="server processes")] = 1,
    reload: Annotated[bool, typer.Option(help="restart on code changes (development)")] = False,
) -> None:
    """Serve the web app and API."""
    import uvicorn

    settings = load_settings()
    check_schema(settings)
    uvicorn.run(
        "deskdrill.app:app_factory",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        reload=reload,
        log_level="info",
        access_log=False,
        # Live pages hold their event streams open; on shutdown they are given this long.
        timeout_graceful_shutdown=3,
    )


@app.command()
def demo() -> None:
    """Load demo users and a demo drill with realistic tickets (safe to run again)."""
    from deskdrill.cli.context import session_scope
    from deskdrill.demo import DEMO_PASSWORDS, load_demo

    with session_scope() as session:
        created = load_demo(session)
    console.print("demo drills " + ("created" if created else "already present") + ":")
    console.print("  demo         prepared cases of every kind, to explore")
    console.print("  first-shift  a live scenario drill: tickets arrive as its clock runs")
    console.print("demo logins (username / password):")
    for username, password in DEMO_PASSWORDS.items():
        console.print(f"  {username:<10} {password}")


if __name__ == "__main__":
    app()
