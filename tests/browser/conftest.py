"""Real-browser tests: Debian's Chromium driven by Playwright through its executable path.

The browser is never downloaded by Playwright; `scripts/ensure-test-deps.sh` installs
Debian's `chromium` when absent. The server is a real `deskdrill serve` process on SQLite
with the demo loaded, stopped by process id at the end.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

from deskdrill.db import migrate
from deskdrill.db.engine import make_engine, make_sessionmaker, unit_of_work
from deskdrill.demo import load_demo
from deskdrill.settings import Settings
from tests.support.server import Server, start_server

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str:
    for candidate in (
        os.environ.get("DESKDRILL_CHROMIUM"),
        "/usr/lib/chromium/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ):
        if candidate and Path(candidate).exists():
            return candidate
    raise RuntimeError(
        "Chromium not found: run scripts/ensure-test-deps.sh (apt-get install "
        "chromium) or set DESKDRILL_CHROMIUM"
    )


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("browser")
    url = f"sqlite:///{folder / 'demo.db'}"
    migrate.upgrade(url)
    engine = make_engine(Settings(env="test", database_url=url))
    with unit_of_work(make_sessionmaker(engine)) as session:
        load_demo(session)
    engine.dispose()
    server = start_server(url, folder)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    instance = playwright.chromium.launch(
        executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True
    )
    yield instance
    instance.close()


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
