"""``deskdrill scenario ...``: check scenario files and publish their JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from deskdrill.cli.context import Seed, console, err_console, print_problems
from deskdrill.core.errors import DomainError
from deskdrill.scenarios import library
from deskdrill.scenarios.load import ScenarioInvalid, read
from deskdrill.scenarios.schema import json_schema

LANGS = ["en", "zh"]

app = typer.Typer(
    help="Scenario files: validate them, publish their schema, run them headless.",
    no_args_is_help=True,
)


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="scenario files (YAML)")],
    as_json: Annotated[bool, typer.Option("--json", help="problems as JSON lines")] = False,
) -> None:
    """Check scenario files: YAML, every field, every reference. Exit 1 if any is invalid."""
    failed = 0
    for path in files:
        try:
            scenario = read(path)
        except ScenarioInvalid as invalid:
            failed += 1
            if as_json:
                for problem in invalid.problems:  # one line each, for tools to read
                    typer.echo(json.dumps(problem.to_json(), ensure_ascii=False))
            else:
                print_problems(invalid.problems)
            continue
        if not as_json:
            count = len(scenario.timeline)
            console.print(
                f"[green]✓[/green] {path}: {scenario.id}, {_n(count, 'timeline ticket')}, "
                f"{_n(len(scenario.generators), 'generator')}, "
                f"{_n(len(scenario.expectations), 'expectation')}",
                highlight=False,
                soft_wrap=True,
            )
    if failed:
        err_console.print(f"{failed} of {len(files)} files invalid")
        raise typer.Exit(1)


@app.command()
def schema(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write to a file")] = None,
) -> None:
    """Print the JSON Schema of scenario files (for editors' autocompletion)."""
    text = json.dumps(json_schema(), ensure_ascii=False, indent=2)
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")
        console.print(f"schema written to {output}")


@app.command()
def run(
    scenario: Annotated[str, typer.Argument(help="a scenario file, or a shipped scenario's id")],
    agents: Annotated[
        str | None,
        typer.Option(
            help="who works it: careful:8,sloppy:2,careful:1@L2 (bot = careful); default: "
            "the scenario's headless.agents"
        ),
    ] = None,
    plan: Annotated[
        Path | None, typer.Option(help="a run plan (YAML): agent groups, shifts, handling times")
    ] = None,
    seed: Annotated[int | None, Seed] = None,
    out: Annotated[Path | None, typer.Option(help="report folder (default runs/ID-SEED)")] = None,
    database: Annotated[
        Path | None, typer.Option(help="keep the run's SQLite database here (default: temporary)")
    ] = None,
    lang: Annotated[str, typer.Option(help="language of the HTML report: zh or en")] = "en",
) -> None:
    """Run a scenario headless with bot agents on a virtual clock; write a report."""
    from deskdrill.cli import headless

    try:
        if lang not in LANGS:
            raise ValueError(f"--lang {lang}: the report is in {' or '.join(LANGS)}")
        found, raw = library.resolve(scenario)
        chosen = headless.plan_from(found, agents, plan)
        headless.check_places(out, database)  # last: it makes the --out folder
    except ScenarioInvalid as invalid:
        print_problems(invalid.problems)
        raise typer.Exit(1) from None
    except (DomainError, ValueError) as problem:
        message = problem.message if isinstance(problem, DomainError) else str(problem)
        err_console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
        raise typer.Exit(1) from None
    report, paths = headless.run_and_report(
        found, raw, chosen, seed=seed, out=out, database=database, lang=lang
    )
    headless.summary(report, paths)


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
