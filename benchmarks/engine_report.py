"""The engine benchmark's tables: figures against the targets, flatness, query plans."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.table import Table

from benchmarks.report import console, verdict
from deskdrill.sla.engine import BATCH

if TYPE_CHECKING:
    from benchmarks.engine import EngineOptions

TARGET_DUE_MS = 50.0  # catching up 1,000 due items
TARGET_IDLE_MS = 2.0  # an engine step with nothing due
TARGET_SIZE = 100_000  # open tickets the targets are stated for
FLAT_LIMIT = 1.5  # the largest size's figure over the smallest's: "flat" up to this


def fmt_ms(ms: float) -> str:
    return f"{ms:,.2f}" if ms < 10 else f"{ms:,.1f}" if ms < 100 else f"{ms:,.0f}"


def _cell(ms: float, target: float, ok: bool) -> str:
    ratio = ms / target
    return (
        f"{fmt_ms(ms)} [dim]{ratio:.2f}x[/] {verdict(ok)}"
        if ratio < 10
        else (f"{fmt_ms(ms)} [dim]{ratio:.0f}x[/] {verdict(ok)}")
    )


def _share(ms: float) -> str:
    return f"{fmt_ms(ms)} [dim]{ms / TARGET_DUE_MS:.2f}x[/]"


def show_table(backends: dict[str, dict[str, Any]], opts: EngineOptions) -> dict[str, Any]:
    """Print the figures and the flatness; return the flatness per backend."""
    table = Table(
        title="SLA engine: median ms, ratio to the target, result",
        caption=f"nothing due: median of {opts.repeat} calls (target {TARGET_IDLE_MS:.0f} ms); "
        f"catch_up = the lazy path (read only), step = step() in a write unit of work. "
        f"{opts.due:,} due: the whole catch-up (catch_up until nothing fires, "
        f"steps of at most {BATCH:,} tickets + a last check), median and max of {opts.rounds} "
        f"fresh due sets (target {TARGET_DUE_MS:.0f} ms). SQL alone: the time inside the "
        "database calls (statements and COMMIT) of the anatomy round, the part no change to "
        "the Python side can remove.",
    )
    for col in ("backend", "open", "none due: catch_up", "none due: step",
                f"{opts.due:,} due: median", "max", "SQL alone", "ms/item"):  # fmt: skip
        table.add_column(col, justify="left" if col == "backend" else "right")
    for backend, sizes in backends.items():
        for n, data in sizes.items():
            idle, due = data["idle"], data["due"]
            table.add_row(
                backend,
                f"{int(n):,}",
                _cell(idle["catch_up"]["median_ms"], TARGET_IDLE_MS, idle["catch_up"]["pass"]),
                _cell(idle["step"]["median_ms"], TARGET_IDLE_MS, idle["step"]["pass"]),
                _cell(due["median_ms"], TARGET_DUE_MS, due["pass"]),
                fmt_ms(due["max_ms"]),
                _share(due["anatomy"]["sql_ms"]),
                f"{due['median_ms'] / opts.due:.3f}",
            )
        table.add_section()
    console.print(table)
    return _flatness(backends, FLAT_LIMIT)


def _flatness(backends: dict[str, dict[str, Any]], limit: float) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if all(len(sizes) < 2 for sizes in backends.values()):
        return result
    table = Table(
        title="flatness: the largest size's median over the smallest's",
        caption=f"flat: every ratio <= {limit}",
    )
    for col in ("backend", "figure", "smallest", "middle", "largest", "ratio", "result"):
        table.add_column(col, justify="left" if col in ("backend", "figure") else "right")
    for backend, sizes in backends.items():
        ns = sorted(sizes, key=int)
        if len(ns) < 2:
            continue
        figures = {
            "nothing due: catch_up": lambda d: d["idle"]["catch_up"]["median_ms"],
            "nothing due: step": lambda d: d["idle"]["step"]["median_ms"],
            "1,000 due": lambda d: d["due"]["median_ms"],
        }
        ratios = {}
        for name, get in figures.items():
            values = [get(sizes[n]) for n in ns]
            ratio = values[-1] / values[0]
            ratios[name] = ratio
            middle = " → ".join(fmt_ms(v) for v in values[1:-1])
            table.add_row(backend, name, fmt_ms(values[0]), middle, fmt_ms(values[-1]),
                          f"{ratio:.2f}", verdict(ratio <= limit))  # fmt: skip
        table.add_section()
        span = f"{int(ns[0]):,} to {int(ns[-1]):,}"
        result[backend] = {"range": span, "ratios": ratios,
                           "pass": all(r <= limit for r in ratios.values())}  # fmt: skip
    console.print(table)
    return result


def show_plans(backend: str, tickets: int, plans: dict[str, dict[str, Any]]) -> None:
    kind = "EXPLAIN QUERY PLAN" if backend == "sqlite" else "EXPLAIN (ANALYZE, BUFFERS)"
    console.print(f"[bold]query plans ({backend}, {tickets:,} open tickets, nothing due), {kind}:")
    for name, p in plans.items():
        console.print(f"  [bold]{name}[/] [dim]{p['sql']}[/]", soft_wrap=True)
        for line in p["plan"]:
            console.print(f"    {line}", soft_wrap=True)
        console.print(
            f"    ix_tickets_sla_next_check used: {'yes' if p['uses_index'] else 'no'}; "
            f"full scan: {'yes' if p['full_scan'] else 'no'} -> {verdict(p['ok'])}"
        )


def outcomes(report: dict[str, Any]) -> list[tuple[str, bool | None]]:
    """The PASS/FAIL lines of the summary."""
    out: list[tuple[str, bool | None]] = []
    due = report["options"]["due"]
    for backend, sizes in report["backends"].items():
        chosen = [TARGET_SIZE] if str(TARGET_SIZE) in sizes else [int(n) for n in sizes]
        for n in chosen:
            data = sizes[str(n)]
            where = f"{n:,} open ({backend})"
            out.append((f"engine {due:,} due < {TARGET_DUE_MS:.0f} ms, median, {where}",
                        data["due"]["pass"]))  # fmt: skip
            for name in ("catch_up", "step"):
                out.append((f"engine nothing due < {TARGET_IDLE_MS:.0f} ms, {name}, {where}",
                            data["idle"][name]["pass"]))  # fmt: skip
        flat = report["flatness"].get(backend)
        if flat is not None:
            out.append((f"engine flat, {flat['range']} open: every ratio <= {FLAT_LIMIT} "
                        f"({backend})", flat["pass"]))  # fmt: skip
    return out
