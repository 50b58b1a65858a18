"""The headless runner, the bots and the drill score; every shipped scenario runs headless."""

from __future__ import annotations

import contextlib
import json
import random
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from deskdrill.cli.main import app as cli
from deskdrill.core.errors import Conflict
from deskdrill.customers.service import OrderNumbers
from deskdrill.db import remembered, savepoints
from deskdrill.db.deferred import Deferred
from deskdrill.scenarios import library
from deskdrill.scenarios.fields import Handling
from deskdrill.simulation.agenda import Agenda
from deskdrill.simulation.agents import RunPlan, parse_agents
from deskdrill.tickets import service
from deskdrill.tickets.conversation import Conversation
from deskdrill.tickets.desks import Desks
from deskdrill.tickets.ledger import Ledger
from deskdrill.tickets.next_checks import NextChecks
from tests.test_scenario_drills import scenario as small_scenario

ROOT = Path(__file__).resolve().parents[1]


def run(tmp_path: Path, scenario: str, *args: str, name: str = "out") -> dict[str, Any]:
    out = tmp_path / name
    result = CliRunner().invoke(
        cli, ["scenario", "run", scenario, "--out", str(out), *args], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert (out / "report.html").is_file()
    report = json.loads((out / "report.json").read_text("utf-8"))
    report["_output"] = result.output
    return report


@pytest.mark.parametrize("path", library.files(), ids=lambda p: p.stem)
def test_every_shipped_scenario_runs_headless_and_its_bots_solve_it(
    path: Path, tmp_path: Path
) -> None:
    report = run(tmp_path, str(path))  # with the scenario's own headless defaults
    scenario = library.read(path)
    assert report["throughput"]["tickets"] >= len(scenario.timeline)
    assert report["score"]["points"] > 0
    # The careful bots show the scenario can be solved: every expectation met.
    assert report["score"]["earned"] == report["score"]["points"], report["score"]["tickets"]
    assert "score" in report["_output"] and "report.html" in report["_output"]


def test_same_file_seed_and_bots_give_the_same_trail(tmp_path: Path) -> None:
    first = run(tmp_path, "food-dinner-peak", "--agents", "careful:2,sloppy:1", name="a")
    second = run(tmp_path, "food-dinner-peak", "--agents", "careful:2,sloppy:1", name="b")
    assert first["trail_hashes"] == second["trail_hashes"]
    assert len(first["trail_hashes"]) == first["throughput"]["tickets"] > 10
    # One figure for the whole trail, in the summary too, to compare runs at a glance.
    assert first["trail_digest"] == second["trail_digest"]
    [shown] = [line for line in first["_output"].splitlines() if "trail digest" in line]
    assert first["trail_digest"][:16] in shown
    other = run(tmp_path, "food-dinner-peak", "--agents", "careful:2,sloppy:1", "--seed", "1",
                name="c")  # fmt: skip
    assert other["trail_hashes"] != first["trail_hashes"]
    assert other["trail_digest"] != first["trail_digest"]


def test_remembered_reads_change_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The run answers its control reads from memory (kept between writes, or noted by
    the writers: the agenda, the next SLA checks, the conversations, the desks, the order
    numbers, the ledger of compensations); reading every one from the database instead
    gives the same trail, hash for hash."""
    agents = ("--agents", "careful:2,sloppy:1")
    remembering = run(tmp_path, "food-dinner-peak", *agents, name="remembering")
    monkeypatch.setattr(remembered, "watching", lambda *_args: contextlib.nullcontext())
    monkeypatch.setattr(Agenda, "keeping", lambda _session: contextlib.nullcontext())
    monkeypatch.setattr(NextChecks, "keeping", lambda _session: contextlib.nullcontext())
    monkeypatch.setattr(Conversation, "keeping", lambda _session: contextlib.nullcontext())
    monkeypatch.setattr(Desks, "keeping", lambda _session: contextlib.nullcontext())
    monkeypatch.setattr(OrderNumbers, "keeping", lambda _session: contextlib.nullcontext())
    monkeypatch.setattr(Ledger, "keeping", lambda _session: contextlib.nullcontext())
    reading = run(tmp_path, "food-dinner-peak", *agents, name="reading")
    assert reading["trail_hashes"] == remembering["trail_hashes"]


def test_skipped_savepoints_change_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The run works without a savepoint per action; taking every one gives the same
    trail, hash for hash."""
    agents = ("--agents", "careful:2,sloppy:1")
    optimistic = run(tmp_path, "food-dinner-peak", *agents, name="optimistic")
    monkeypatch.setattr(savepoints, "optimistic", lambda _session: contextlib.nullcontext())
    careful = run(tmp_path, "food-dinner-peak", *agents, name="careful")
    assert careful["trail_hashes"] == optimistic["trail_hashes"]


def test_writes_put_off_land_as_written_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run puts off its trail events, messages, the search index and the done marks of
    scheduled events until each commit or a read of them, and its new tickets, orders and
    scenario links (with ids of its own) until its next statement; the database it leaves
    holds what writing each row at once leaves, down to the order of the ids."""

    def rows(database: Path) -> tuple[list[Any], ...]:
        with sqlite3.connect(database) as db:
            search = db.execute("SELECT ticket_id, body FROM ticket_search ORDER BY rowid")
            done = db.execute("SELECT key, outcome, done_at IS NULL FROM scheduled_events")
            trail = db.execute("SELECT id, ticket_id, seq, type, hash FROM ticket_events")
            said = db.execute("SELECT id, ticket_id, kind, party_id, body, event_seq FROM messages")
            made = db.execute(
                "SELECT t.id, t.subject, t.status, t.version, o.id, o.number, o.refunded_total,"
                " s.ref, s.chases FROM tickets t LEFT JOIN orders o ON o.id = t.order_id"
                " JOIN scenario_tickets s ON s.ticket_id = t.id"
            )
            return (
                search.fetchall(),
                sorted(done.fetchall()),
                sorted(trail.fetchall()),
                sorted(said.fetchall()),
                sorted(made.fetchall()),
            )

    agents = ("--agents", "careful:2,sloppy:1")
    run(tmp_path, "food-dinner-peak", *agents, "--database", str(tmp_path / "a.db"), name="a")
    monkeypatch.setattr(Deferred, "keeping", lambda _session: contextlib.nullcontext())
    run(tmp_path, "food-dinner-peak", *agents, "--database", str(tmp_path / "b.db"), name="b")
    search, done, trail, said, made = rows(tmp_path / "a.db")
    assert (search, done, trail, said, made) == rows(tmp_path / "b.db")
    assert len(made) > 20 and all(order is not None for _, _, _, _, order, *_ in made)
    assert any(party for _, _, _, party, _, _ in said)  # to a third party, and its answer
    with sqlite3.connect(tmp_path / "a.db") as db:
        assert len(search) == db.execute("SELECT count(*) FROM messages").fetchone()[0] > 50
    assert sum(1 for _, outcome, _ in done if outcome) > 100
    assert len({ticket for _, ticket, _, _, _ in trail}) > 20
    assert any(type_ == "sla_warning" for _, _, _, type_, _ in trail)  # the SLA engine's own


def test_a_refused_action_is_worked_again_with_savepoints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused action (a refund above what the order has left) sends the run back to its
    last commit to work that stretch again with savepoints: the refusal is noted once, the
    bot leaves the ticket, and the trail is the one savepoints all along give."""
    path = tmp_path / "refused.yaml"
    # The order is of 40.00. (Said of the ticket itself, the file would not validate: a
    # category's expectation is not checked against the orders its tickets will have.)
    owed = "{category: logistics, entitled: {refund: 500}"
    text = small_scenario().replace("{ticket: late, entitled: {refund: full, coupon: 20}", owed)
    path.write_text(text, encoding="utf-8")
    redone = []
    work = savepoints.undoable

    @contextlib.contextmanager
    def counted(session: Any) -> Any:
        try:
            with work(session):
                yield
        except savepoints.Redo:
            redone.append(True)
            raise

    monkeypatch.setattr(savepoints, "undoable", counted)
    optimistic = run(tmp_path, str(path), "--agents", "careful:1", name="optimistic")
    errors = [e for bot in optimistic["utilisation"] for e in bot["errors"]]
    assert len(errors) == 1 and "exceeds what is left to refund" in errors[0], errors
    assert len(redone) == 1
    monkeypatch.setattr(savepoints, "optimistic", lambda _session: contextlib.nullcontext())
    careful = run(tmp_path, str(path), "--agents", "careful:1", name="careful")
    assert [e for bot in careful["utilisation"] for e in bot["errors"]] == errors
    assert careful["trail_hashes"] == optimistic["trail_hashes"]
    assert len(optimistic["trail_hashes"]) == 3


def test_an_action_refused_after_a_read_keeps_what_was_put_off_before_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An action that reads (which sends what the stretch put off: a new ticket, its order,
    trail events) and is then refused sends the run back to work the stretch again with a
    savepoint per action; rolling the refused action's savepoint back keeps what was put
    off before it, and the trail is the one savepoints all along give."""
    claim = service.claim
    refused: list[int] = []

    def refusing(*, session: Any, ticket: Any, at: Any, **rest: Any) -> Any:
        if ticket.id == 2 and at.sim - ticket.received_at < timedelta(seconds=30):
            session.connection().execute(select(1))
            refused.append(ticket.id)
            raise Conflict("refused for the test")
        return claim(session=session, ticket=ticket, at=at, **rest)

    monkeypatch.setattr(service, "claim", refusing)
    agents = ("--agents", "careful:1")
    optimistic = run(tmp_path, "new-hire-first-shift", *agents, name="optimistic")
    assert refused and any(
        "refused for the test" in e for bot in optimistic["utilisation"] for e in bot["errors"]
    )
    monkeypatch.setattr(savepoints, "optimistic", lambda _session: contextlib.nullcontext())
    careful = run(tmp_path, "new-hire-first-shift", *agents, name="careful")
    assert careful["trail_hashes"] == optimistic["trail_hashes"]
    assert len(optimistic["trail_hashes"]) == optimistic["throughput"]["tickets"] >= 2
    assert optimistic["score"]["earned"] == optimistic["score"]["points"]  # claimed later


def test_sloppy_bots_score_lower_and_breach_more(tmp_path: Path) -> None:
    careful = run(tmp_path, "ride-safety-incident", "--agents", "careful:2", name="careful")
    sloppy = run(tmp_path, "ride-safety-incident", "--agents", "sloppy:2", name="sloppy")
    assert sloppy["score"]["earned"] < careful["score"]["earned"]
    by_check = {(t["ref"], c["name"]): c for t in sloppy["score"]["tickets"] for c in t["checks"]}
    # Over-refunded the detour (86.50 paid, 41.50 owed) and never escalated the incident.
    refund = by_check[("timeline:detour-fare", "refund at most 41.50")]
    assert not refund["passed"] and refund["detail"] == "refunded 86.50"
    assert refund["evidence"] and refund["evidence"][0]["type"] == "compensation_approved"
    escalation = by_check[("timeline:unsafe-ride", "escalate to incident_desk within 5 min")]
    assert not escalation["passed"]
    careful_checks = [c for t in careful["score"]["tickets"] for c in t["checks"]]
    assert all(c["passed"] and c["evidence"] for c in careful_checks if "did:" in c["name"])


def test_the_report_has_its_figures_and_charts(tmp_path: Path) -> None:
    report = run(tmp_path, "food-dinner-peak", "--agents", "careful:3", "--lang", "zh")
    for key in ("throughput", "sla", "queue_wait", "utilisation", "csat", "score"):
        assert key in report
    wait = report["queue_wait"]
    assert wait["p50_seconds"] is not None and wait["share_waiting"] is not None
    assert all(0 <= u["share"] <= 100 for u in report["utilisation"])
    html = (tmp_path / "out" / "report.html").read_text("utf-8")
    assert html.count("<svg") == 5 and "未结工单随时间变化" in html and "SLA 达标率" in html
    assert "外卖晚高峰" in html
    assert f'轨迹摘要 <code title="{report["trail_digest"]}">' in html
    # The checks, their details, the timers and the trail's events in Chinese too.
    names = {c["name"] for t in report["score"]["tickets"] for c in t["checks"]}
    assert "what the customer was owed" in names and "what the customer was owed" not in html
    assert "客户应得的处理结果" in html
    for english in ("given in full", "first_response", "compensation approved", " min<"):
        assert english not in html, english
    assert "3 × 细心 @ L1" in html and "× careful" not in html  # the bots, in Chinese too
    # The terminal's summary in Chinese as well, with the figures of the JSON report.
    said = _flat(report["_output"])
    assert f"{report['scenario']['id']}（种子 {report['seed']}）" in said, said
    score = report["score"]
    assert "得分" in said and f"{score['earned']} / {score['points']} 分" in said, said
    assert "wall time" not in said and "报告：" in said
    csat = report["csat"]
    assert f"{csat['mean']:.2f} / 5（{csat['count']} 人评分）" in said, said


def test_a_runs_problems_are_told_in_the_chosen_language(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        library.find("new-hire-first-shift")[0].read_text("utf-8").replace("seed:", "sead:", 1),
        "utf-8",
    )
    result = CliRunner().invoke(cli, ["scenario", "run", str(bad), "--lang", "zh"])
    assert result.exit_code == 1 and "未知的键 'sead'（是不是 'seed'？）" in _flat(result.output)
    result = CliRunner().invoke(cli, ["scenario", "run", str(bad)])
    assert result.exit_code == 1 and "unknown key 'sead' (did you mean 'seed'?)" in _flat(
        result.output
    )


def test_plans_shifts_and_bad_agents(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "agents:\n"
        "  - {kind: careful, count: 2, shift: [0s, 30m],\n"
        "     handling: {dist: fixed, mean: 2m},\n"
        "     by_category: {logistics: {dist: exponential, mean: 5m}}}\n"
        "  - {kind: careful, count: 1, tier: L2}\n",
        encoding="utf-8",
    )
    report = run(tmp_path, "food-dinner-peak", "--plan", str(plan))
    first = report["utilisation"][0]
    assert first["agent"] == "careful-l1-01" and first["actions"] > 0
    assert [u["agent"] for u in report["utilisation"]] == [
        "careful-l1-01",
        "careful-l1-02",
        "careful-l2-01",
        "careful-supervisor-01",
        "careful-incident-desk-01",
    ]  # tiers nobody staffs get a bot
    for bad, message in (("robot:2", "agents are careful"), ("careful:x", "whole number"),
                         ("careful:1@L9", "unknown tier 'L9'")):  # fmt: skip
        result = CliRunner().invoke(cli, ["scenario", "run", "food-dinner-peak", "--agents", bad])
        assert result.exit_code == 1 and message in result.output
    # A bad plan file is told as a scenario file is: file, line, column, field, expected.
    plan.write_text("agents:\n  - {kind: careful, count: lots}\n  - {kind: carefull}\n")
    result = CliRunner().invoke(cli, ["scenario", "run", "food-dinner-peak", "--plan", str(plan)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"{plan}:2:28: agents[0].count: expected a whole number, got 'lots'" in result.output
    assert f"{plan}:3:12: agents[1].kind: expected 'careful' or 'sloppy', got 'carefull'" in (
        result.output
    )
    # A drill stored before the rule below keeps its scenario.
    stored = Handling.model_validate({"mean": "0s"}, context={"stored": True})
    assert stored.draw(random.Random(1)).total_seconds() == 1
    # An action of no time at all is a mistake, not a way to say "fast".
    plan.write_text("agents:\n  - {kind: careful, count: 1, handling: {dist: fixed, mean: 0s}}\n")
    result = CliRunner().invoke(cli, ["scenario", "run", "food-dinner-peak", "--plan", str(plan)])
    assert result.exit_code == 1, result.output
    assert "agents[0].handling.mean: an action takes at least 1s, got 0s" in result.output
    for text, expected in (("agents: [\n", ":2:1: YAML syntax"), ("- careful\n", ":1:1: expected")):
        plan.write_text(text)
        result = CliRunner().invoke(
            cli, ["scenario", "run", "food-dinner-peak", "--plan", str(plan)]
        )
        assert result.exit_code == 1 and f"{plan}{expected}" in result.output, result.output


def test_agent_specs() -> None:
    assert parse_agents("bot:3") == RunPlan.model_validate({"agents": [{"count": 3}]})
    plan = parse_agents("careful:2,sloppy:1@L2")
    assert [(g.kind, g.count, g.tier) for g in plan.agents] == [
        ("careful", 2, "L1"), ("sloppy", 1, "L2")
    ]  # fmt: skip
    for bad, message in (
        ("", "name at least one agent"),
        ("careful:", "whole number from 1 to 1000"),
        ("careful:0", "whole number from 1 to 1000"),
        ("careful:1001", "whole number from 1 to 1000"),
        ("careful:3,,sloppy:1", "an empty entry between commas"),
    ):
        with pytest.raises(ValueError, match=message):
            parse_agents(bad)


def test_bad_run_options_are_refused_before_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each is told in a line, with exit code 1 (2 for what the option parser refuses)
    and no traceback, before a database is made or a report written."""
    afile = tmp_path / "afile"
    afile.write_text("")
    plan = tmp_path / "plan.yaml"
    plan.write_text("agents:\n  - {kind: careful, count: 2, shift: [10d, 20d]}\n")
    cases = (
        (["--seed", "-3"], 2, "greater than or equal to 0"),
        (["--seed", str(2**63)], 2, "less than or equal to 9223372036854775807"),
        (["--out", str(afile)], 1, "is a file, not a folder"),
        (["--out", str(afile / "sub")], 1, "cannot make the folder"),
        (["--database", str(afile)], 1, "exists: choose a new file"),
        (["--lang", "fr"], 1, "the report is in en or zh"),
        (["--agents", ""], 1, "name at least one agent"),
        (["--agents", "careful:1", "--plan", str(plan)], 1, "not both"),
        (
            ["--plan", str(plan)],
            1,
            "plan.yaml:2:38: agents[0].shift: the shift begins at 10d, not before the scenario",
        ),
    )
    for args, code, message in cases:
        result = CliRunner().invoke(cli, ["scenario", "run", "new-hire-first-shift", *args])
        assert result.exit_code == code, (args, result.output)
        assert message in _flat(result.output), (args, result.output)
        assert "Traceback" not in result.output
    # Nothing is made for a run refused for any reason, the report folder included.
    out = tmp_path / "never" / "made"
    result = CliRunner().invoke(
        cli, ["scenario", "run", "new-hire-first-shift", "--lang", "fr", "--out", str(out)]
    )
    assert result.exit_code == 1 and not (tmp_path / "never").exists()
    missing = CliRunner().invoke(cli, ["scenario", "run", str(tmp_path / "nosuch.yaml")])
    assert missing.exit_code == 1 and "nosuch.yaml: no such file" in missing.output
    # A folder named as a shipped scenario does not hide it.
    (tmp_path / "new-hire-first-shift").mkdir()
    monkeypatch.chdir(tmp_path)
    assert library.resolve("new-hire-first-shift")[0].id == "new-hire-first-shift"
    plan.write_text("agents:\n  - {kind: careful, shift: [4h, 1h]}\n")
    reversed_ = CliRunner().invoke(
        cli, ["scenario", "run", "new-hire-first-shift", "--plan", str(plan)]
    )
    assert f"{plan}:2:5: agents[0]: a shift ends after it begins, got from 4h until 1h" in (
        reversed_.output
    )


def test_a_scenario_whose_headless_agents_cannot_run_is_invalid(tmp_path: Path) -> None:
    text = library.find("new-hire-first-shift")[0].read_text(encoding="utf-8")
    assert 'agents: "careful:1"' in text
    path = tmp_path / "s.yaml"
    path.write_text(text.replace('agents: "careful:1"', 'agents: "careful:0"'), "utf-8")
    as_json = CliRunner().invoke(cli, ["scenario", "validate", "--json", str(path)])
    lines = [line for line in as_json.stdout.splitlines() if line.strip()]
    assert as_json.exit_code == 1 and [json.loads(line) for line in lines] == [
        {
            "file": str(path),
            "line": 1 + next(i for i, t in enumerate(text.splitlines()) if "careful:1" in t),
            "column": 20,
            "field": "headless.agents",
            "message": "'careful:0': the count must be a whole number from 1 to 1000",
        }
    ]  # one JSON document a line
    result = CliRunner().invoke(cli, ["scenario", "validate", str(path)])
    assert result.exit_code == 1
    assert "headless.agents: 'careful:0': the count must be a whole number from 1 to 1000" in (
        _flat(result.output)
    )


def _flat(output: str) -> str:
    """Terminal output as one line, without the frame the option parser draws."""
    return " ".join(output.replace("│", " ").split())
