"""``python -m benchmarks [create|queues|engine|all] [options]``: see ``--help``."""

from __future__ import annotations

import argparse
import sys

from benchmarks.report import console, rule

SIZES = (10_000, 100_000, 1_000_000)
BACKENDS = {"sqlite": ["sqlite"], "postgresql": ["postgresql"], "both": ["sqlite", "postgresql"]}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="deskdrill benchmarks: ticket create over HTTP (wrk), queue queries "
        "and the SLA engine step at the database layer (SQLite and PostgreSQL), the "
        "headless runner on the 8-hour shift (SQLite), the workspace pages and live "
        "updates (SQLite), and scenario validation over HTTP beside other requests. With "
        "no arguments: all six.",
    )
    parser.add_argument(
        "command", nargs="?", default="all",
        choices=["all", "create", "queues", "engine", "scenario", "web", "validate"],
        help="which benchmark to run (default: all)",
    )  # fmt: skip
    parser.add_argument("--backend", choices=list(BACKENDS), default="both")
    create = parser.add_argument_group("create (wrk against deskdrill serve)")
    create.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    create.add_argument("--connections", type=int, default=16, help="wrk -c")
    create.add_argument("--threads", type=int, default=2, help="wrk -t")
    create.add_argument("--wrk-warmup", type=int, default=2, help="seconds of warm-up, 0: none")
    create.add_argument(
        "--wrk-timeout", type=int, default=2, help="seconds before wrk counts a timeout error"
    )
    queues = parser.add_argument_group("queues (database layer)")
    queues.add_argument("--tickets", type=int, default=1_000_000, help="tickets to load")
    queues.add_argument("--mine", type=int, default=1000, help="active tickets of the user")
    queues.add_argument("--repeat", type=int, default=200, help="timed calls per query")
    queues.add_argument("--warmup", type=int, default=20, help="untimed calls per query first")
    queues.add_argument(
        "--rebuild", action="store_true", help="ignore the cached SQLite dataset and reload it"
    )
    scenario = parser.add_argument_group("scenario (the headless runner, 8-hour shift)")
    scenario.add_argument(
        "--scenario-scales",
        type=_sizes,
        default=(1, 10),
        metavar="N,N",
        help="arrival-rate multiples to run (bots scale with them); default 1,10",
    )
    web = parser.add_argument_group("web (workspace pages and live updates, SQLite)")
    web.add_argument("--web-tickets", type=int, default=100_000, help="tickets in the dataset")
    web.add_argument("--web-clients", type=int, default=50, help="live clients")
    web.add_argument("--web-repeat", type=int, default=100, help="timed requests per page")
    engine = parser.add_argument_group("engine (SLA engine step at the database layer)")
    engine.add_argument(
        "--engine-sizes", type=_sizes, default=SIZES, metavar="N,N,...",
        help="open tickets per run (default: 10000,100000,1000000)",
    )  # fmt: skip
    engine.add_argument("--engine-due", type=int, default=1000, help="due items per round")
    engine.add_argument(
        "--engine-rounds", type=int, default=5, help="timed rounds of due items (fresh sets)"
    )
    engine.add_argument(
        "--engine-repeat", type=int, default=200, help="timed calls with nothing due"
    )
    return parser.parse_args(argv)


def _sizes(value: str) -> tuple[int, ...]:
    try:
        sizes = tuple(sorted({int(v.replace("_", "")) for v in value.split(",") if v.strip()}))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {value!r}") from None
    if not sizes or min(sizes) <= 0:
        raise argparse.ArgumentTypeError("sizes must be positive")
    return sizes


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    backends = BACKENDS[args.backend]
    outcomes: list[tuple[str, bool | None]] = []
    if args.command in ("all", "create"):
        from benchmarks.create import CreateOptions, run_create

        report = run_create(
            CreateOptions(
                backends=backends,
                threads=args.threads,
                connections=args.connections,
                duration=args.duration,
                warmup=args.wrk_warmup,
                timeout=args.wrk_timeout,
            )
        )
        for backend, data in report["backends"].items():
            outcomes.append((f"create/bare >= 50% ({backend})", data["pass"]))
    if args.command in ("all", "queues"):
        from benchmarks.queues import QueueOptions, run_queues

        report = run_queues(
            QueueOptions(
                backends=backends,
                tickets=args.tickets,
                mine=args.mine,
                repeat=args.repeat,
                warmup=args.warmup,
                rebuild=args.rebuild,
            )
        )
        for backend, data in report["backends"].items():
            for name, timing in data["timings"].items():
                outcomes.append((f"queue {name} median < 20 ms ({backend})", timing["pass"]))
            for name, plan in data["plans"].items():
                outcomes.append((f"queue {name} plan: a queue index, no sort ({backend})",
                                 plan["ok"]))  # fmt: skip
    if args.command in ("all", "engine"):
        from benchmarks.engine import EngineOptions, run_engine
        from benchmarks.engine_report import outcomes as engine_outcomes

        report = run_engine(
            EngineOptions(
                backends=backends,
                sizes=args.engine_sizes,
                due=args.engine_due,
                rounds=args.engine_rounds,
                repeat=args.engine_repeat,
                warmup=args.warmup,
                rebuild=args.rebuild,
            )
        )
        outcomes += engine_outcomes(report)
    if args.command in ("all", "scenario"):
        from benchmarks.scenario import ScenarioOptions, run_scenario
        from benchmarks.scenario import outcomes as scenario_outcomes

        outcomes += scenario_outcomes(
            run_scenario(ScenarioOptions(scales=args.scenario_scales, backends=tuple(backends)))
        )
    if args.command in ("all", "web"):
        from benchmarks.web import WebOptions, run_web
        from benchmarks.web import outcomes as web_outcomes

        options = WebOptions(tickets=args.web_tickets, clients=args.web_clients,
                             repeat=args.web_repeat, rebuild=args.rebuild)  # fmt: skip
        outcomes += web_outcomes(run_web(options))
    if args.command in ("all", "validate"):
        from benchmarks.validate import ValidateOptions, run_validate
        from benchmarks.validate import outcomes as validate_outcomes

        outcomes += validate_outcomes(run_validate(ValidateOptions()))
    _summary(outcomes)
    return 0


def _summary(outcomes: list[tuple[str, bool | None]]) -> None:
    rule("summary")
    for name, ok in outcomes:
        mark = (
            "[dim]n/a (no target)[/]" if ok is None else "[green]PASS[/]" if ok else "[red]FAIL[/]"
        )
        console.print(f"  {mark}  {name}")


if __name__ == "__main__":
    sys.exit(main())
