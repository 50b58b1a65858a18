"""Start a server subprocess, wait until it answers, stop it by its pid."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path

HOST = "127.0.0.1"
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def bench_env(database_url: str) -> dict[str, str]:
    """The environment of every deskdrill process the benchmark starts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESKDRILL_")}
    env["DESKDRILL_ENV"] = "dev"
    env["DESKDRILL_DATABASE_URL"] = database_url
    return env


def run(cmd: list[str], env: Mapping[str, str], what: str) -> str:
    res = subprocess.run(
        cmd, env=dict(env), capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL
    )
    if res.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {res.returncode}):\n{res.stdout}{res.stderr}")
    return res.stdout


def _wait_ready(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server did not answer {url} within {READY_TIMEOUT:.0f} s:\n{_tail(log)}")


def _tail(path: Path, n: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError as exc:
        return f"(no log: {exc})"


def stop(proc: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> None:
    """SIGINT the server by pid (uvicorn shuts down gracefully), SIGKILL after ``timeout``."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


@contextlib.contextmanager
def serving(
    cmd: list[str], env: Mapping[str, str], ready_url: str, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``cmd`` (output to ``log``) until the block ends; it must answer ``ready_url``."""
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            cmd, env=dict(env), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        _wait_ready(proc, ready_url, log)
        yield proc
    finally:
        stop(proc)
