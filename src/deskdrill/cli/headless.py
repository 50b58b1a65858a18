"""``deskdrill scenario run``: a fresh database, the run with a progress bar, the report."""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from deskdrill.cli.context import console
from deskdrill.db import migrate
from deskdrill.db.engine import make_engine, make_sessionmaker, unit_of_work
from deskdrill.scenarios.load import ScenarioInvalid, problem_at, read_bytes, validated
from deskdrill.scenarios.model import Scenario
from deskdrill.scenarios.yamlsafe import Limits
from deskdrill.settings import Settings
from deskdrill.simulation import report as reports
from deskdrill.simulation.agents import RunPlan, check_fits, misfits, parse_agents
from deskdrill.simulation.runner import run
from deskdrill.web import run_report
from deskdrill.web.i18n import _
from deskdrill.web.vocabulary import N_


def plan_from(scenario: Scenario, agents: str | None, plan: Path | None) -> RunPlan:
    """The ``--plan`` file, else ``--agents``, else the scenario's own headless defaults;
    checked against the scenario (every shift begins before it ends)."""
    if plan is not None and agents is not None:
        raise ValueError("give --plan or --agents, not both (a plan names its agents)")
    if plan is None:
        text = scenario.headless.agents if agents is None else agents
        chosen = parse_agents(text, scenario.headless.handling)
        check_fits(chosen, scenario.duration)
        return chosen
    chosen, document = validated(RunPlan, read_bytes(plan, Limits()), str(plan))
    late = misfits(chosen, scenario.duration)
    if late:  # said at the shift in the file, as the plan's other problems are
        raise ScenarioInvalid(
            [problem_at(document, str(plan), ("agents", i, "shift"), m) for i, m in late]
        )
    return chosen


def check_places(out: Path | None, database: Path | None) -> None:
    """Before the run: the report folder can be made (or is one) and the database file
    is new, so that a long run does not end in an error about where to write."""
    if database is not None:
        if database.exists():
            raise ValueError(f"{database} exists: choose a new file for the run's database")
        if not database.parent.is_dir():
            raise ValueError(f"{database.parent} is not a folder: the run's database goes there")
    if out is not None:
        if out.exists() and not out.is_dir():
            raise ValueError(f"--out {out} is a file, not a folder")
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ValueError(f"--out {out}: cannot make the folder ({error.strerror})") from None


def run_and_report(
    scenario: Scenario,
    raw: bytes,
    plan: RunPlan,
    *,
    seed: int | None,
    out: Path | None,
    database: Path | None,
    lang: str,
) -> tuple[dict[str, Any], dict[str, Path]]:
    with tempfile.TemporaryDirectory(prefix="deskdrill-run-") as scratch:
        path = database or Path(scratch) / "run.db"  # new: see check_places
        url = f"sqlite:///{path}"
        logging.getLogger("alembic").setLevel(logging.WARNING)
        migrate.upgrade(url)
        settings = Settings(env="test", database_url=url, secret_key="headless-run-" + "0" * 24)
        engine = make_engine(settings)
        try:
            factory = make_sessionmaker(engine)
            total = scenario.duration.total_seconds()
            with Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TextColumn("{task.fields[sim]}"),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            ) as bar:
                running = _("running %(id)s") % {"id": scenario.id}
                task = bar.add_task(escape(running), total=total, sim="")

                def advance(done: float) -> None:
                    shown = _("%(hours)sh%(minutes)sm simulated") % {
                        "hours": int(done // 3600),
                        "minutes": f"{int(done % 3600 // 60):02d}",
                    }
                    bar.update(task, completed=done, sim=shown)

                result = run(
                    scenario=scenario,
                    raw=raw,
                    plan=plan,
                    factory=factory,
                    settings=settings,
                    seed=seed,
                    progress=advance,
                )
            with unit_of_work(factory, read_only=True) as session:
                report = reports.build(session, result)
        finally:
            engine.dispose()
    folder = out or Path("runs") / f"{scenario.id}-{result.seed}"
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"json": folder / "report.json", "html": folder / "report.html"}
    paths["json"].write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", "utf-8")
    paths["html"].write_text(run_report.render(report, lang), "utf-8")
    return report, paths


def summary(report: dict[str, Any], paths: dict[str, Path]) -> None:
    """The run in a table, in the language chosen with ``i18n.use``."""
    t, sla, csat = report["throughput"], report["sla"], report["csat"]
    title = _("%(id)s (seed %(seed)s)") % {"id": report["scenario"]["id"], "seed": report["seed"]}
    table = Table(_("measure"), _("value"), title=title)
    rated = (
        "-"
        if csat["mean"] is None
        else _("%(mean)s of 5 (%(count)s rated)") % {**csat, "mean": f"{csat['mean']:.2f}"}
    )
    rows = [
        (N_("tickets / trail events"), f"{t['tickets']} / {t['events']}"),
        (N_("wall time"), _("%(seconds)s s (%(speed)s× simulated speed)") % {
            "seconds": f"{t['wall_seconds']:.2f}", "speed": t["sim_to_wall"]}),
        (N_("tickets per wall second"), f"{t['tickets_per_wall_second']}"),
        (N_("peak memory"), f"{t['peak_memory_mib']} MiB"),
        (N_("first response met"), _pct(sla["first_response_attainment"])),
        (N_("resolution met"), _pct(sla["resolution_attainment"])),
        (N_("queue wait mean / p50 / p90"), _wait(report["queue_wait"])),
        (N_("never claimed (share waiting)"), _pct(report["queue_wait"]["share_waiting"])),
        (N_("mean customer rating"), rated),
        (N_("score"), _("%(earned)s of %(points)s") % report["score"]),
        (N_("trail digest"), report["trail_digest"][:16]),
    ]  # fmt: skip
    for name, value in rows:
        table.add_row(_(name), value)
    console.print(table)
    errors = sum(len(u["errors"]) for u in report["utilisation"])
    if errors:
        refused = _("%(errors)s bot actions were refused (see the JSON report)")
        console.print(f"[yellow]{escape(refused % {'errors': errors})}[/yellow]")
    told = _("report: %(html)s and %(json)s") % {k: str(v) for k, v in paths.items()}
    console.print(escape(told), highlight=False, soft_wrap=True)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def _wait(waits: dict[str, Any]) -> str:
    def minutes(v: float | None) -> str:
        return "-" if v is None else _("%(minutes)s min") % {"minutes": f"{v / 60:.1f}"}

    keys = ("mean_seconds", "p50_seconds", "p90_seconds")
    return " / ".join(minutes(waits[key]) for key in keys)
