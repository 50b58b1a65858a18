from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from deskdrill.accounts import service as accounts
from deskdrill.cli.context import (
    Seed,
    console,
    err_console,
    factory_scope,
    print_problems,
    session_scope,
)
from deskdrill.core.clock import MAX_JUMP, DrillClock, utc_now
from deskdrill.core.errors import DomainError
from deskdrill.db.engine import unit_of_work
from deskdrill.drills import clock
from deskdrill.drills import service as drills
from deskdrill.drills.models import Drill
from deskdrill.drills.schemas import check_name
from deskdrill.scenarios import library
from deskdrill.scenarios.load import ScenarioInvalid
from deskdrill.simulation import setup
from deskdrill.simulation.world import scenario_of
from deskdrill.sla.catch_up import catch_up
from deskdrill.sla.metrics import DrillMetrics, drill_metrics

app = typer.Typer(help="Run a drill's simulated clock.", no_args_is_help=True)

DrillName = Annotated[str, typer.Argument(help="the drill's name, e.g. demo")]


def _drill(session: Session, name: str) -> Drill:
    drill = drills.get_drill_by_name(session=session, name=name)
    if drill is None:
        err_console.print(f"[red]error:[/red] no drill named {name!r}")
        raise typer.Exit(1)
    return drill


def _show(name: str, value: DrillClock, wall: datetime) -> None:
    sim = value.sim_now(wall)
    console.print(
        f"{name}: {value.state}, {value.speed.normalize():f}x, "
        f"simulated time {sim:%Y-%m-%d %H:%M:%S} UTC"
    )


@app.command("list")
def list_drills() -> None:
    """List the drills: name, clock, simulated time, scenario and how many members."""
    wall = utc_now()
    with session_scope() as session:
        table = Table("id")
        for column in ("name", "clock", "sim time (UTC)", "scenario"):
            table.add_column(column, no_wrap=True)
        table.add_column("members")
        for drill in drills.all_drills(session=session):
            value = clock.clock_of(drill)
            found = scenario_of(session, drill.id)
            table.add_row(
                str(drill.id),
                drill.name,
                str(value.state),
                f"{value.sim_now(wall):%Y-%m-%d %H:%M:%S}" if value.anchor_sim else "-",
                found.id if found is not None else "-",
                str(len(drills.member_names(session=session, drill=drill))),
            )
        console.print(table)


@app.command()
def start(
    name: DrillName,
    speed: Annotated[
        str | None, typer.Option(help="speed factor, e.g. 1, 10, 60 (default: the drill's)")
    ] = None,
    at: Annotated[str | None, typer.Option(help="simulated start, ISO 8601 with zone")] = None,
) -> None:
    """Start the clock (default: at the drill's planned start, or now; at its speed)."""
    try:
        factor = Decimal(speed) if speed is not None else None
        begin = datetime.fromisoformat(at) if at else None
    except (InvalidOperation, ValueError) as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    if begin is not None and begin.tzinfo is None:
        err_console.print("[red]error:[/red] --at needs a time zone, e.g. 2026-03-01T09:00+08:00")
        raise typer.Exit(2)
    with session_scope() as session:
        wall = utc_now()
        _show(name, clock.start(_drill(session, name), wall, at=begin, speed=factor), wall)


@app.command()
def pause(name: DrillName) -> None:
    """Freeze simulated time."""
    with session_scope() as session:
        wall = utc_now()
        _show(name, clock.pause(_drill(session, name), wall), wall)


@app.command()
def resume(name: DrillName) -> None:
    """Let simulated time run again."""
    with session_scope() as session:
        wall = utc_now()
        _show(name, clock.resume(_drill(session, name), wall), wall)


@app.command()
def speed(name: DrillName, factor: Annotated[str, typer.Argument(help="e.g. 10")]) -> None:
    """Change the speed factor (0.1 to 600)."""
    try:
        value = Decimal(factor)
    except InvalidOperation:
        err_console.print(f"[red]error:[/red] {factor!r} is not a number")
        raise typer.Exit(2) from None
    with session_scope() as session:
        wall = utc_now()
        _show(name, clock.set_speed(_drill(session, name), wall, value), wall)


@app.command()
def jump(
    name: DrillName,
    minutes: Annotated[float, typer.Argument(help="simulated minutes to skip")],
) -> None:
    """Skip simulated time forward (at most 7 days)."""
    most = MAX_JUMP / timedelta(minutes=1)
    if not (math.isfinite(minutes) and 0 < minutes <= most):
        err_console.print(f"[red]error:[/red] minutes: more than 0 and at most {most:,.0f}")
        raise typer.Exit(1)
    with session_scope() as session:
        wall = utc_now()
        moved = clock.jump(_drill(session, name), wall, timedelta(minutes=minutes))
        _show(name, moved, wall)


@app.command()
def finish(name: DrillName) -> None:
    """End the drill: simulated time stops for good."""
    with session_scope() as session:
        wall = utc_now()
        _show(name, clock.finish(_drill(session, name), wall), wall)


@app.command()
def status(name: DrillName) -> None:
    """Show the clock and how the drill is doing against its SLA."""
    with factory_scope() as factory:
        with unit_of_work(factory, read_only=True) as session:
            drill_id = _drill(session, name).id
        wall = utc_now()
        catch_up(factory, drill_id, wall)  # make happen and record what is due first
        with unit_of_work(factory, read_only=True) as session:
            value = clock.clock_of(_drill(session, name))
            _show(name, value, wall)
            _metrics(drill_metrics(session, drill_id, value.sim_now(wall)))


@app.command()
def create(
    name: DrillName,
    scenario: Annotated[str, typer.Option(help="a scenario file, or the id of a shipped scenario")],
    trainees: Annotated[
        str, typer.Option(help="the roster: alice,bob:L2,carol:incident_desk")
    ] = "",
    seed: Annotated[int | None, Seed] = None,
    by: Annotated[str | None, typer.Option(help="the trainer who runs it (a member)")] = None,
) -> None:
    """Create a drill from a scenario, in draft; start it with 'deskdrill drill start'."""
    try:
        check_name(name)
        found, raw = library.resolve(scenario)
    except ScenarioInvalid as invalid:
        print_problems(invalid.problems)
        raise typer.Exit(1) from None
    except DomainError as exc:
        err_console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from None
    with session_scope() as session:
        trainer = accounts.get_user(session=session, username=by) if by else None
        drill = setup.create(
            session=session,
            scenario=found,
            digest=setup.source_digest(raw),
            name=name,
            roster=setup.parse_roster(trainees),
            creator=trainer,
            now=utc_now(),
            seed=seed,
        )
        count = setup.scheduled_count(session, drill.id)
    console.print(
        f"drill {name} (id {drill.id}) from scenario {found.id}: {count} arrivals scheduled; "
        f"starts at {found.start.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC "
        f"({found.start:%H:%M %z} in the scenario) at {found.speed:g}x when you run "
        f"'deskdrill drill start {name}'",
        highlight=False,
        soft_wrap=True,
    )
    if trainer is None:
        console.print(
            "no trainer runs it: only admins and its trainees see it, and only admins work "
            "its clock; to have a trainer run it, create it with --by TRAINER",
            highlight=False,
            soft_wrap=True,
        )


def _metrics(m: DrillMetrics) -> None:
    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}%"

    def secs(value: float | None) -> str:
        return "-" if value is None else f"{value / 60:.1f} min"

    table = Table("measure", "value", title="SLA")
    table.add_row("tickets (open)", f"{m.tickets} ({m.open})")
    table.add_row("first response met", pct(m.first_response_attainment))
    table.add_row("resolution met", pct(m.resolution_attainment))
    table.add_row(
        "first response median / p90",
        f"{secs(m.first_response_time.median_seconds)} / {secs(m.first_response_time.p90_seconds)}",
    )
    table.add_row(
        "resolution median / p90",
        f"{secs(m.resolution_time.median_seconds)} / {secs(m.resolution_time.p90_seconds)}",
    )
    for label, counts in (
        ("breaches by timer", m.breaches_by_timer),
        ("breaches by priority", m.breaches_by_priority),
        ("breaches by category", m.breaches_by_category),
    ):
        table.add_row(label, ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none")
    console.print(table)
