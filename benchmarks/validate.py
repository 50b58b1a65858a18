"""(f) Scenario validation over HTTP, and what it does to everyone else's requests.

A trainer checking a large file (``POST /api/v1/scenarios/validate``) spends a few seconds
of Python in the server process, part of it in single calls that hold the interpreter.
Measured on a real ``deskdrill serve``: a cheap authenticated read (``GET /auth/me``)
timed again and again, first idle, then while ``parallel`` validations of a generated
file (``timeline`` tickets, about 250 KB) run at once. Baseline: the idle read; target:
its worst time under the validations stays under 0.5 s (a person clicking notices a
second).
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from benchmarks.procs import HOST, bench_env, free_port, run, serving
from benchmarks.report import REPO_ROOT, console, rule, write_results

DESKDRILL = str(REPO_ROOT / ".venv" / "bin" / "deskdrill")
TARGET_WORST_S = 0.5
PROBE_GAP_S = 0.05


@dataclass
class ValidateOptions:
    timeline: int = 1400
    parallel: int = 6


def scenario_text(tickets: int) -> str:
    """A valid scenario with ``tickets`` timeline tickets (one persona, one order)."""
    head = """\
id: big
title: {zh: 大文件, en: A large file}
description: {zh: 校验压力测试, en: Validation load}
duration: 2h
start: "2026-03-06T17:30:00+08:00"
personas:
  - {id: wang, name: 王丽, patience: 4m}
orders:
  - {id: F-1, kind: food, customer: wang, items: [{sku: N, name: 拉面, price: 40.00}],
     amount: 40.00}
timeline:
"""
    entries = "".join(
        f"  - id: t{i}\n    at: {i % 110 + 1}m\n    channel: app\n    category: logistics\n"
        f"    persona: wang\n    order: F-1\n    subject: 外卖超时 {i}\n"
        f"    message: 外卖超时一个小时了，请尽快处理 {i}\n"
        for i in range(tickets)
    )
    return head + entries


def _probe(client: httpx.Client, times: int) -> list[float]:
    found = []
    for _ in range(times):
        began = time.perf_counter()
        answer = client.get("/api/v1/auth/me")
        found.append(time.perf_counter() - began)
        if answer.status_code != 200:
            raise RuntimeError(f"/auth/me answered {answer.status_code}: {answer.text[:200]}")
        time.sleep(PROBE_GAP_S)
    return found


def run_validate(opts: ValidateOptions) -> dict[str, Any]:
    rule("scenario validation over HTTP, and everyone else's requests")
    body = scenario_text(opts.timeline).encode()
    with tempfile.TemporaryDirectory(prefix="deskdrill-bench-") as scratch:
        env = bench_env(f"sqlite:///{Path(scratch) / 'validate.db'}")
        env["DESKDRILL_ENGINE_INTERVAL_SECONDS"] = "0"
        run([DESKDRILL, "migrate"], env, "migrate")
        run([DESKDRILL, "users", "create", "trainer", "--role", "trainer",
             "--password", "bench-password"], env, "users create")  # fmt: skip
        token = run([DESKDRILL, "users", "token", "trainer"], env, "token").split()[-1]
        port = free_port()
        base = f"http://{HOST}:{port}"
        cmd = [DESKDRILL, "serve", "--port", str(port)]
        with serving(cmd, env, f"{base}/api/v1/health", Path(scratch) / "server.log"):
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
                _probe(client, 5)  # warm-up
                idle = _probe(client, 40)
                took: list[tuple[int, float]] = []

                def validate() -> None:
                    began = time.perf_counter()
                    answer = httpx.post(
                        f"{base}/api/v1/scenarios/validate",
                        content=body,
                        headers={**headers, "content-type": "application/yaml"},
                        timeout=300,
                    )
                    took.append((answer.status_code, time.perf_counter() - began))

                workers = [threading.Thread(target=validate) for _ in range(opts.parallel)]
                for worker in workers:
                    worker.start()
                busy: list[float] = []
                while any(w.is_alive() for w in workers):
                    busy += _probe(client, 1)
                for worker in workers:
                    worker.join()
    if {status for status, _ in took} != {200}:
        raise RuntimeError(f"a validation failed: {took}")
    result = {
        "bytes": len(body),
        "parallel": opts.parallel,
        "idle_median_s": statistics.median(idle),
        "busy_median_s": statistics.median(busy),
        "busy_worst_s": max(busy),
        "probes_while_busy": len(busy),
        "validations_s": sorted(t for _, t in took),
        "pass": max(busy) < TARGET_WORST_S,
    }
    console.print(
        f"  {opts.parallel} validations of {len(body) / 1000:.0f} KB at once: each took "
        f"{result['validations_s'][0]:.2f} to {result['validations_s'][-1]:.2f} s; another "
        f"request took {result['busy_median_s'] * 1000:.1f} ms median and "
        f"{result['busy_worst_s'] * 1000:.0f} ms at worst meanwhile ({len(busy)} tries), "
        f"against {result['idle_median_s'] * 1000:.1f} ms idle (target: worst "
        f"< {TARGET_WORST_S * 1000:.0f} ms)"
    )
    path = write_results("validate", result)
    console.print(f"results: {path.relative_to(REPO_ROOT)}")
    return result


def outcomes(report: dict[str, Any]) -> list[tuple[str, bool | None]]:
    return [
        (
            f"a request's worst time during {report['parallel']} validations "
            f"< {TARGET_WORST_S * 1000:.0f} ms",
            report["pass"],
        )
    ]
