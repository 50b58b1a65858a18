"""Start a real ``deskdrill serve`` process for tests that need one; stop it by process id."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def kill(self) -> None:
        """Die at once, as a crashed process would: no shutdown, connections just drop."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)


def start_server(
    database_url: str, log_dir: Path, *, workers: int = 1, engine_interval: float = 1.0
) -> Server:
    port = free_port()
    log = log_dir / f"server-{port}.log"
    env = {
        **os.environ,
        "DESKDRILL_ENV": "test",
        "DESKDRILL_DATABASE_URL": database_url,
        "DESKDRILL_SECRET_KEY": "server-test-secret-0123456789",
        "DESKDRILL_ENGINE_INTERVAL_SECONDS": str(engine_interval),
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "deskdrill.cli.main",
                "serve",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(server.url + "/api/v1/health", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"server did not answer within 30 s:\n{log.read_text()[-3000:]}")
