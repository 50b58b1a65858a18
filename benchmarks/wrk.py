"""wrk: make sure it is installed, write its Lua script, run it, read its numbers."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.report import console

INSTALL_HINT = "install wrk as root: apt-get update && apt-get install -y wrk"

# Per-thread counters, summed in done(); one line the benchmark parses.
_LUA = r"""
wrk.method = "POST"
wrk.body = [==[%(body)s]==]
wrk.headers["Content-Type"] = "application/json"
%(auth)s
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) created = 0; other = 0; sample = "" end
function response(status, headers, body)
  if status == 201 then
    created = created + 1
  else
    other = other + 1
    if sample == "" then sample = status .. " " .. string.sub(body or "", 1, 300) end
  end
end
function done(summary, latency, requests)
  local c, o, s = 0, 0, ""
  for _, t in ipairs(threads) do
    c = c + t:get("created"); o = o + t:get("other")
    local ts = t:get("sample")
    if s == "" and ts ~= nil then s = ts end
  end
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT created=%%d other=%%d requests=%%d duration_us=%%d connect=%%d read=%%d " ..
    "write=%%d status=%%d timeout=%%d p50_us=%%d p90_us=%%d p99_us=%%d max_us=%%d\n",
    c, o, summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
  io.write("BENCH_SAMPLE " .. string.gsub(s, "\n", " ") .. "\n")
end
"""


@dataclass
class WrkResult:
    command: list[str]
    requests: int = 0
    duration_s: float = 0.0
    created: int = 0  # responses with status 201
    other: int = 0  # responses with any other status
    non_2xx: int = 0  # wrk's own "Non-2xx or 3xx responses"
    socket_errors: dict[str, int] = field(default_factory=dict)
    latency_ms: dict[str, float] = field(default_factory=dict)
    sample_error: str = ""
    stdout: str = ""

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def errors(self) -> int:
        """Responses other than 201 (non-2xx included) plus socket errors."""
        return max(self.other, self.non_2xx) + sum(self.socket_errors.values())

    @property
    def valid(self) -> bool:
        return self.errors == 0 and self.requests > 0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(rps=self.rps, errors=self.errors, valid=self.valid)
        return data


def ensure_wrk() -> str:
    """Path of wrk; installs it with apt when we are root, else explains and exits."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        console.print(f"[red]wrk is not installed[/] and we are not root: {INSTALL_HINT}")
        raise SystemExit(2)
    console.print("wrk not found: apt-get install -y wrk")
    install = ["apt-get", "install", "-y", "wrk"]
    if _quiet(install) != 0:
        console.print("install failed; apt-get update, then again")
        _quiet(["apt-get", "update"])
        _quiet(install)
    found = shutil.which("wrk")
    if not found:
        console.print(f"[red]could not install wrk[/]: {INSTALL_HINT}")
        raise SystemExit(2)
    return found


def _quiet(cmd: list[str]) -> int:
    return subprocess.run(
        cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    ).returncode


def write_script(path: Path, body: dict[str, Any], token: str | None) -> Path:
    auth = f'wrk.headers["Authorization"] = "Bearer {token}"' if token else ""
    path.write_text(_LUA % {"body": json.dumps(body, ensure_ascii=False), "auth": auth})
    return path


def run_wrk(
    url: str, script: Path, *, threads: int, connections: int, duration_s: int, timeout_s: int
) -> WrkResult:
    cmd = [
        ensure_wrk(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration_s}s",
        f"--timeout={timeout_s}s",
        "-s",
        str(script),
        url,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=duration_s + 120)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return parse(cmd, proc.stdout)


def parse(cmd: list[str], out: str) -> WrkResult:
    result = WrkResult(command=cmd, stdout=out)
    line = re.search(r"^BENCH_RESULT (.*)$", out, re.M)
    if line is None:
        raise RuntimeError(f"wrk printed no BENCH_RESULT line:\n{out}")
    nums = {k: int(v) for k, v in re.findall(r"(\w+)=(-?\d+)", line.group(1))}
    result.requests = nums["requests"]
    result.duration_s = nums["duration_us"] / 1e6
    result.created, result.other = nums["created"], nums["other"]
    result.latency_ms = {k: nums[f"{k}_us"] / 1000 for k in ("p50", "p90", "p99", "max")}
    result.socket_errors = {k: nums[k] for k in ("connect", "read", "write", "timeout")}
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    result.non_2xx = int(non_2xx.group(1)) if non_2xx else 0
    sample = re.search(r"^BENCH_SAMPLE (.*)$", out, re.M)
    result.sample_error = sample.group(1).strip() if sample else ""
    return result
