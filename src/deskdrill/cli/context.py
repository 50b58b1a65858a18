"""What every CLI command needs: settings, a session factory, a console."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from sqlalchemy.orm import Session, sessionmaker

from deskdrill.core.errors import DomainError
from deskdrill.db.engine import make_engine, make_sessionmaker, unit_of_work
from deskdrill.scenarios.model import SEED_MAX
from deskdrill.settings import Settings
from deskdrill.simulation import hooks as simulation_hooks
from deskdrill.sla import deadlines, escalation_notices

console = Console()
# A seed the database can keep (a drill stores it): refused before anything is made.
Seed = typer.Option(help="default: the scenario's seed", min=0, max=SEED_MAX)
err_console = Console(stderr=True)


def print_problems(problems: Iterable[object]) -> None:
    """Each problem of a scenario file on its own line, never wrapped."""
    for problem in problems:
        err_console.print(f"[red]✗[/red] {escape(str(problem))}", highlight=False, soft_wrap=True)


def load_settings() -> Settings:
    deadlines.install()  # every command that changes tickets keeps their SLA deadlines
    escalation_notices.install()
    simulation_hooks.install()  # and scenario drills react to what agents do
    try:
        return Settings()
    except ValidationError as exc:
        for error in exc.errors():
            err_console.print(f"[red]configuration error:[/red] {error['msg']}")
        raise typer.Exit(2) from None


def check_schema(settings: Settings) -> None:
    """Refuse, with what to run, a database whose schema is not this code's (a fresh
    checkout that was never migrated would otherwise fail at its first table)."""
    from deskdrill.db import migrate  # Alembic's import is only for commands that use it

    problem = migrate.behind(settings.database_url)
    if problem is not None:
        err_console.print(f"[red]error:[/red] {escape(problem)}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)


@contextmanager
def factory_scope(settings: Settings | None = None) -> Iterator[sessionmaker[Session]]:
    """A session factory for work that runs its own transactions (the engine's catch-up)."""
    settings = settings or load_settings()
    check_schema(settings)
    engine = make_engine(settings)
    try:
        yield make_sessionmaker(engine)
    except DomainError as exc:
        err_console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from None
    finally:
        engine.dispose()


@contextmanager
def session_scope(settings: Settings | None = None) -> Iterator[Session]:
    """One unit of work; domain errors become a red sentence and exit code 1."""
    settings = settings or load_settings()
    check_schema(settings)
    engine = make_engine(settings)
    try:
        with unit_of_work(make_sessionmaker(engine)) as session:
            yield session
    except DomainError as exc:
        err_console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
