"""``deskdrill scenario ...``: check scenario files and publish their JSON Schema."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
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
    lang: Annotated[str, typer.Option(help="language of the messages: zh or en")] = "en",
) -> None:
    """Check scenario files: YAML, every field, every reference. Exit 1 if any is invalid."""
    # The pages' catalogs and retelling of the validator's sentences (web.scenario_text).
    from deskdrill.web import i18n
    from deskdrill.web.scenario_text import scenario_text

    if lang not in LANGS:
        err_console.print(f"[red]error:[/red] --lang {lang}: the messages are in en or zh")
        raise typer.Exit(2)
    with i18n.speaking(lang):
        _check(files, as_json=as_json, told=scenario_text, _=i18n._)


def _check(
    files: list[Path], *, as_json: bool, told: Callable[[str], str], _: Callable[[str], str]
) -> None:
    failed = 0
    for path in files:
        try:
            scenario = read(path)
        except ScenarioInvalid as invalid:
            failed += 1
            if as_json:  # one line each, for tools to read: as the validator wrote them
                for problem in invalid.problems:
                    typer.echo(json.dumps(problem.to_json(), ensure_ascii=False))
            else:
                print_problems([replace(p, message=told(p.message)) for p in invalid.problems])
            continue
        if not as_json:
            summary = _("%(file)s: %(id)s, timeline tickets: %(timeline)s, generators: "
                        "%(generators)s, expectations: %(expectations)s") % {
                "file": path, "id": scenario.id, "timeline": len(scenario.timeline),
                "generators": len(scenario.generators),
                "expectations": len(scenario.expectations),
            }  # fmt: skip
            console.print(f"[green]✓[/green] {escape(summary)}", highlight=False, soft_wrap=True)
    if failed:
        err_console.print(_("%(failed)s of %(files)s files invalid") % {
            "failed": failed, "files": len(files)})  # fmt: skip
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
    lang: Annotated[
        str, typer.Option(help="language of the report, the summary and the problems: zh or en")
    ] = "en",
) -> None:
    """Run a scenario headless with bot agents on a virtual clock; write a report."""
    from deskdrill.cli import headless
    from deskdrill.web import i18n
    from deskdrill.web.scenario_text import scenario_text

    if lang not in LANGS:
        err_console.print(f"[red]error:[/red] --lang {lang}: the report is in en or zh")
        raise typer.Exit(1)
    with i18n.speaking(lang):
        try:
            found, raw = library.resolve(scenario)
            chosen = headless.plan_from(found, agents, plan)
            headless.check_places(out, database)  # last: it makes the --out folder
        except ScenarioInvalid as invalid:
            print_problems([replace(p, message=scenario_text(p.message)) for p in invalid.problems])
            raise typer.Exit(1) from None
        except (DomainError, ValueError) as problem:
            message = problem.message if isinstance(problem, DomainError) else str(problem)
            told = escape(scenario_text(message))  # --agents is checked as headless.agents is
            err_console.print(f"[red]error:[/red] {told}", soft_wrap=True)
            raise typer.Exit(1) from None
        report, paths = headless.run_and_report(
            found, raw, chosen, seed=seed, out=out, database=database, lang=lang
        )
        headless.summary(report, paths)
