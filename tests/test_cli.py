"""The ``deskdrill`` command: migrate, users, tokens and the demo."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from deskdrill.customers.models import Party
from deskdrill.db import migrate
from deskdrill.db.engine import unit_of_work
from deskdrill.drills.models import Drill
from deskdrill.tickets import queries
from deskdrill.tickets.models import Ticket
from tests.support.factories import unique


def test_console_script_runs(db_url: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "deskdrill.cli.main", "migrate"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"DESKDRILL_DATABASE_URL": db_url, "DESKDRILL_ENV": "test", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert "database at revision" in result.stdout


def test_default_secret_refused_by_the_cli(db_url: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "deskdrill.cli.main", "users", "list"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"DESKDRILL_DATABASE_URL": db_url, "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2
    assert "DESKDRILL_SECRET_KEY" in result.stderr


def test_users_create_list_token_revoke(run, client: TestClient) -> None:
    name = unique("cli-user")
    code, out = run(
        "users",
        "create",
        name,
        "--role",
        "trainer",
        "--tier",
        "L2",
        env={"DESKDRILL_PASSWORD": "a-good-password"},
    )
    assert code == 0, out
    assert name in out
    code, out = run("users", "create", name, env={"DESKDRILL_PASSWORD": "a-good-password"})
    assert code == 1 and "already exists" in out
    code, out = run("users", "create", unique("short"), env={"DESKDRILL_PASSWORD": "short"})
    assert code == 2 and "password" in out
    code, out = run("users", "list")
    assert code == 0 and name in out
    code, out = run("users", "token", name, "--name", "laptop")
    assert code == 0
    token = out.strip().splitlines()[-1]
    assert token.startswith("ddt_")
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["role"] == "trainer"
    token_id = out.split("token id ")[1].split()[0]
    code, out = run("users", "tokens", name)
    assert code == 0 and "laptop" in out and token not in out
    code, out = run("users", "revoke", token_id)
    assert code == 0
    assert (
        client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code
        == 401
    )
    code, out = run("users", "token", "nobody-here")
    assert code == 1 and "no user" in out


def test_demo_is_complete_bilingual_and_idempotent(run, session_factory) -> None:
    code, out = run("demo")
    assert code == 0, out
    assert "trainee1" in out and "trainer" in out
    code, again = run("demo")
    assert code == 0 and "already present" in again
    with unit_of_work(session_factory, read_only=True) as session:
        drills = session.scalars(select(Drill).where(Drill.name == "demo")).all()
        assert len(drills) == 1
        tickets = session.scalars(select(Ticket).where(Ticket.drill_id == drills[0].id)).all()
        kinds = set(session.scalars(select(Party.kind).where(Party.drill_id == drills[0].id)))
        categories = Counter(t.category for t in tickets)
        statuses = {t.status for t in tickets}
        assert set(categories) >= {
            "order",
            "refund_return",
            "logistics",
            "payment",
            "account_security",
            "product_quality",
            "service_complaint",
            "safety_incident",
            "lost_item",
            "fare_dispute",
        }
        assert kinds == {"consumer", "passenger", "driver", "merchant", "courier"}
        assert {"new", "open", "pending_third_party", "resolved", "closed"} <= statuses
        subjects = " ".join(t.subject for t in tickets)
        assert any("\u4e00" <= ch <= "\u9fff" for ch in subjects)  # Chinese
        assert any(ch.isascii() and ch.isalpha() for ch in subjects)  # English
        assert all(queries.verify(session, t).ok for t in tickets)


def test_drill_clock_commands(run, factory) -> None:
    desk = factory.desk()
    with unit_of_work(factory.sessions, read_only=True) as session:
        name = session.get(Drill, desk.drill_id).name
    code, out = run("drill", "status", name)
    assert code == 0 and "draft" in out
    code, out = run("drill", "start", name, "--speed", "60", "--at", "2026-03-01T09:00:00+08:00")
    assert code == 0 and "running" in out and "60x" in out and "2026-03-01 01:0" in out
    code, out = run("drill", "pause", name)
    assert code == 0 and "paused" in out
    code, out = run("drill", "jump", name, "30")
    assert code == 0 and "2026-03-01 01:3" in out
    for minutes in ("nan", "inf", "10081", "0"):  # at most 7 days, as the API and the desk
        code, out = run("drill", "jump", name, minutes)
        assert code == 1 and "at most 10,080" in out, (minutes, out)
    code, out = run("drill", "speed", name, "10")
    assert code == 0 and "10x" in out
    code, out = run("drill", "pause", name)
    assert code == 1 and "cannot pause a clock that is paused" in out
    code, out = run("drill", "resume", name)
    assert code == 0 and "running" in out
    code, out = run("drill", "finish", name)
    assert code == 0 and "finished" in out
    code, out = run("drill", "status", "no-such-drill")
    assert code == 1 and "no drill named" in out
    code, out = run("drill", "start", name, "--at", "2026-03-01T09:00")
    assert code == 2 and "time zone" in out


def test_a_database_without_this_schema_is_refused_with_what_to_run(
    run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every command that uses the database, and the server, first checks its schema."""
    fresh = tmp_path / "never-migrated.db"
    code, out = run("drill", "status", "x", env={"DESKDRILL_DATABASE_URL": f"sqlite:///{fresh}"})
    assert code == 1 and f"there is no database at {fresh}" in out, out
    assert "run 'deskdrill migrate' to make one" in out
    assert not fresh.exists()  # asking made no file
    code, out = run("serve", env={"DESKDRILL_DATABASE_URL": f"sqlite:///{fresh}"})
    assert code == 1 and "run 'deskdrill migrate' to make one" in out, out
    # The default file is relative to the folder a command runs in: it says which it read.
    monkeypatch.chdir(tmp_path)
    code, out = run("users", "list", env={"DESKDRILL_DATABASE_URL": "sqlite:///./var/dd.db"})
    assert code == 1 and f"no database at {tmp_path / 'var' / 'dd.db'}" in out, out
    assert "run this command where the server runs" in out
    older = tmp_path / "older.db"
    migrate.upgrade(f"sqlite:///{older}", "0006")
    code, out = run("users", "list", env={"DESKDRILL_DATABASE_URL": f"sqlite:///{older}"})
    assert code == 1 and f"at schema revision 0006, this deskdrill needs {migrate.head()}" in out
    not_a_database = tmp_path / "notes.db"
    not_a_database.write_text("shopping list\n")
    code, out = run("demo", env={"DESKDRILL_DATABASE_URL": f"sqlite:///{not_a_database}"})
    assert code == 1 and "cannot be read: file is not a database" in out, out
    migrate.upgrade(f"sqlite:///{older}")
    code, out = run("users", "list", env={"DESKDRILL_DATABASE_URL": f"sqlite:///{older}"})
    assert code == 0, out
    newer = tmp_path / "newer.db"
    migrate.upgrade(f"sqlite:///{newer}")
    with sqlite3.connect(newer) as raw:
        raw.execute("UPDATE alembic_version SET version_num = '9999'")
    code, out = run("users", "list", env={"DESKDRILL_DATABASE_URL": f"sqlite:///{newer}"})
    assert code == 1 and "revision 9999, which this deskdrill does not know" in out, out
