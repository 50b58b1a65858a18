"""An installed wheel carries web/, scenarios/ and migrations/ and finds them itself."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_carries_and_finds_its_resources(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        timeout=300,
    )
    wheel = next(tmp_path.glob("deskdrill-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for expected in (
        "deskdrill/_resources/web/templates/home.html",
        "deskdrill/_resources/migrations/env.py",
        "deskdrill/_resources/web/static/deskdrill.css",
    ):
        assert expected in names
    assert any(n.startswith("deskdrill/_resources/migrations/versions/") for n in names)
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--quiet",
            "--target",
            str(site),
            str(wheel),
        ],
        check=True,
        timeout=300,
    )
    probe = (
        "from deskdrill.paths import resource_dir; "
        "print(resource_dir('web')); print(resource_dir('migrations'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        timeout=60,
        check=True,
    )
    web, migrations = result.stdout.split()
    assert web.startswith(str(site)) and migrations.startswith(str(site))
    assert (Path(migrations) / "versions").is_dir()
