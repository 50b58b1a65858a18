"""Scenario files: the shipped library validates; bad files get a located, readable error."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from deskdrill.accounts.enums import Role
from deskdrill.cli.main import app as cli
from deskdrill.scenarios.load import ScenarioInvalid, parse
from deskdrill.scenarios.model import Scenario
from deskdrill.scenarios.schema import json_schema
from deskdrill.scenarios.yamlsafe import load
from tests.support.factories import Factory

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = sorted((ROOT / "scenarios").glob("*.yaml"))

SMALL = """\
id: tiny
title: {zh: 小场景, en: Tiny}
description: {zh: 一张工单, en: One ticket}
duration: 30m
start: "2026-03-02T09:00:00+08:00"
personas:
  - id: li
    name: 李雷
orders:
  - id: G-1
    kind: goods
    customer: li
    items: [{sku: A, name: 耳机, price: 99.00}]
    amount: 99.00
timeline:
  - id: t1
    at: 1m
    category: refund_return
    persona: li
    order: G-1
    subject: 想退货
    message: 耳机不想要了，可以退吗？
"""


def validate(*files: Path | str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["scenario", "validate", *map(str, files)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def problems(text: str | bytes) -> list[str]:
    raw = text.encode() if isinstance(text, str) else text
    with pytest.raises(ScenarioInvalid) as caught:
        parse(raw, "s.yaml")
    return [str(p) for p in caught.value.problems]


def test_the_library_has_scenarios_and_each_validates() -> None:
    assert LIBRARY, "no scenario files in scenarios/"
    code, output = validate(*LIBRARY)
    assert code == 0, output
    assert output.count("✓") == len(LIBRARY)


def test_a_small_scenario_parses_with_durations_and_languages() -> None:
    scenario = parse(SMALL.encode(), "tiny.yaml")
    assert scenario.duration.total_seconds() == 1800
    assert scenario.timeline[0].at.total_seconds() == 60
    assert scenario.timeline[0].message.get("en") == "耳机不想要了，可以退吗？"  # one text: both


class TestBadFiles:
    """Each names the file, line, column and field, and says what was expected."""

    def test_syntax_error(self) -> None:
        [found] = problems(SMALL.replace("kind: goods", "kind: [goods"))
        assert found.startswith("s.yaml:12:") and "YAML syntax" in found
        # Where what was left open began, and what usually causes the complaint.
        assert "(it began at line 11, column 11)" in found, found
        assert "often a ']' missing, or an item holding a comma" in found

    def test_syntax_errors_say_their_likely_cause(self) -> None:
        title = "title: {zh: 小场景, en: Tiny}"
        message = "message: 耳机不想要了，可以退吗？"
        causes = [
            (title, title[:-1], "often a '}' missing, or a text holding a comma"),
            (title, title + "\n   oops: 1", "does not match the keys above, or a quote left"),
            (title, "title: a: b", "often a text holding ': ' to put in quotes"),
            (title, "title:\n\t{zh: 小场景}", "often a tab (indent with spaces)"),
            (message, 'message: "耳机', "often a quote opened and never closed"),
        ]
        for old, new, cause in causes:
            text = SMALL.replace(old, new, 1)
            assert text != SMALL, new
            [found] = problems(text)
            assert "YAML syntax" in found and cause in found, (new, found)

    def test_wrong_type(self) -> None:
        [found] = problems(SMALL.replace("amount: 99.00", "amount: lots"))
        assert (
            found
            == "s.yaml:14:13: orders[0].amount: expected a number, such as 12 or 12.50, got 'lots'"
        )
        [found] = problems(SMALL.replace("  - id: li\n    name: 李雷", "  - li"))
        assert found.startswith("s.yaml:7:5: personas[0]: expected a mapping (key: value) with ")
        assert "keys such as: id, name" in found and found.endswith("got 'li'")
        [found] = problems(SMALL.replace("duration: 30m", "duration: 30m\nseed: abc"))
        assert found == "s.yaml:5:7: seed: expected a whole number, got 'abc'"

    def test_sizes_and_offsets_in_plain_words(self) -> None:
        """Lengths out of bounds say what is allowed and what was given; a start without
        its offset from UTC says how to write one."""
        [found] = problems(SMALL.replace('"2026-03-02T09:00:00+08:00"', "2026-03-02T09:00:00"))
        assert found == (
            "s.yaml:5:8: start: expected a date and time with its offset from UTC, such as "
            "2026-03-06T17:30:00+08:00, got '2026-03-02T09:00:00'"
        )
        tags = ", ".join(f"t{i}" for i in range(51))
        [found] = problems(SMALL.replace("duration: 30m", f"duration: 30m\ntags: [{tags}]"))
        assert found == "s.yaml:5:7: tags: expected at most 50 items, got 51"
        [found] = problems(SMALL.replace("title: {zh: 小场景,", 'title: {zh: "",'))
        assert found == "s.yaml:2:13: title.zh: expected text of at least 1 character, got ''"
        [found] = problems(SMALL.replace("amount: 99.00", "amount: 1234567890123.5"))
        assert found.startswith("s.yaml:14:13: orders[0].amount: expected a number of at most 12")

    def test_bounds_patterns_and_dates_in_plain_words(self) -> None:
        """A number out of bounds, text of the wrong form and a date that is not one say
        what was expected in an author's words, not in pydantic's or as a traceback."""
        cases = {
            ("duration: 30m", "duration: 30m\nspeed: 0"): (
                "s.yaml:5:8: speed: expected a value of at least 0.1, got 0"
            ),
            ("duration: 30m", "duration: 30m\nspeed: 601"): (
                "s.yaml:5:8: speed: expected a value of at most 600, got 601"
            ),
            ("  - id: li\n", "  - id: li lei\n"): (
                "s.yaml:7:9: personas[0].id: expected an id of letters, digits, '_', '.' and "
                "'-' that begins with a letter or digit, got 'li lei'"
            ),
            ("    name: 李雷", "    name: 李雷\n    phone: call me"): (
                "s.yaml:9:12: personas[0].phone: expected a phone number: 5 to 31 digits, "
                "spaces or '-', after an optional '+', got 'call me'"
            ),
            ('"2026-03-02T09:00:00+08:00"', "tomorrow"): (
                "s.yaml:5:8: start: expected a date and time, such as "
                "2026-03-06T09:00:00+08:00, got 'tomorrow'"
            ),
            ('"2026-03-02T09:00:00+08:00"', "2026-13-45"): (
                "s.yaml:5:8: start: expected a real date, or date and time, such as "
                "2026-03-06 or 2026-03-06T09:00:00+08:00, got '2026-13-45'"
            ),
            ("duration: 30m", "duration: 30m\nseed: !!int abc"): (
                "s.yaml:5:7: seed: 'abc' cannot be read as !!int"
            ),
            ("duration: 30m", "duration: 30m\nspeed: .nan"): (
                "s.yaml:5:8: speed: expected a finite number, such as 12 or 12.50, got nan"
            ),
            ("at: 1m", "at: 2026-01-01"): (
                "s.yaml:17:9: timeline[0].at: expected a duration with units, such as 45s, 5m, "
                "1h30m or 2d, got '2026-01-01'"
            ),
            ("duration: 30m", "duration: 30m\nlimits: {L7: {refund: {per_action: 1, "
             "per_ticket: 2}}}"): (
                "s.yaml:5:9: limits: unknown level 'L7'; levels: L1, L2, supervisor, "
                "incident_desk"
            ),
        }  # fmt: skip
        for (old, new), expected in cases.items():
            text = SMALL.replace(old, new, 1)
            assert text != SMALL, new
            assert problems(text) == [expected]

    def test_duration_without_unit(self) -> None:
        [found] = problems(SMALL.replace("at: 1m", "at: 60"))
        assert found.startswith("s.yaml:17:9: timeline[0].at: expected a duration with units")

    def test_unknown_key_suggests_the_right_one(self) -> None:
        [found] = problems(SMALL.replace("    name: 李雷", "    name: 李雷\n    patiense: 3m"))
        assert found.startswith("s.yaml:9:5: personas[0].patiense: unknown key 'patiense'")
        assert "did you mean 'patience'?" in found and "expected one of: id, name" in found
        # A misspelt section is found at its own line, not at its first entry's.
        [found] = problems(SMALL + "reaction:\n  chase: 在吗？\n")
        assert found.startswith("s.yaml:23:1: reaction: unknown key 'reaction'"), found
        assert "did you mean 'reactions'?" in found

    def test_missing_field(self) -> None:
        [found] = problems(SMALL.replace("description: {zh: 一张工单, en: One ticket}\n", ""))
        assert found == "s.yaml:1:1: description: required, but missing"

    def test_unknown_references_are_rejected_before_anything_starts(self) -> None:
        found = problems(SMALL.replace("    persona: li", "    persona: han"))
        assert found[0].startswith("s.yaml:19:14: timeline[0].persona: no persona with id 'han'")
        assert any("order 'G-1' belongs to 'li', not 'han'" in f for f in found) is False

    def test_order_of_another_customer(self) -> None:
        text = SMALL.replace("orders:", "  - id: han\n    name: 韩梅梅\norders:").replace(
            "    persona: li", "    persona: han"
        )
        [found] = problems(text)
        assert found.startswith("s.yaml:") and "order 'G-1' belongs to 'li', not 'han'" in found

    def test_an_expectation_nobody_can_meet(self) -> None:
        """A refund above what the ticket's order was paid, or above the limit set beside
        it, is refused when the file is validated, not found out in a run's score."""
        for expected, found_at in (
            ("{refund: 500}", "s.yaml:24:37: expectations[0].entitled.refund: 500.00 is more "
             "than order 'G-1' was paid (99.00)"),
            ("{refund: full}, max_refund: 10", "s.yaml:24:56: expectations[0].max_refund: 10.00 "
             "is less than the refund the customer is owed (99.00): no handling can meet both"),
        ):  # fmt: skip
            text = SMALL + f"expectations:\n  - {{ticket: t1, entitled: {expected}}}\n"
            assert problems(text) == [found_at]
        # A value that may be a number or 'full' is told once, with both.
        text = SMALL + "expectations:\n  - {category: refund_return, entitled: {refund: lots}}\n"
        assert problems(text) == [
            "s.yaml:24:50: expectations[0].entitled.refund: expected a number, such as 12 or "
            "12.50, or 'full', got 'lots'"
        ]
        comma = text.replace("{refund: lots}", "{refund: 'x, got y'}")
        assert problems(comma)[0].endswith("12.50, or 'full', got 'x, got y'")
        # For a category, the orders are not known before the run: not checked.
        category = SMALL + "expectations:\n  - {category: refund_return, entitled: {refund: 500}}\n"
        assert parse(category.encode(), "s.yaml").expectations[0].entitled is not None

    def test_duplicate_ids_and_keys(self) -> None:
        [found] = problems(SMALL.replace("orders:", "  - id: li\n    name: 又一个\norders:"))
        assert "personas[1].id: id 'li' is used twice" in found
        [found] = problems(SMALL.replace("duration: 30m", "duration: 30m\nduration: 1h"))
        assert found == "s.yaml:5:1: duplicate key 'duration'"
        [found] = problems(SMALL.replace("    kind: goods", "    kind: goods\n    kind: food"))
        assert found == "s.yaml:12:5: duplicate key 'kind' in orders[0]"

    def test_object_tags_are_refused(self) -> None:
        for tagged, expected in (
            ("!!python/object/apply:os.system [id]", "tags such as 'tag:yaml.org,2002:python/"),
            ("!!python/name:os.system ''", "could not determine a constructor"),
            ("!custom {a: 1}", "tags such as '!custom' are not allowed"),
        ):
            [found] = problems(SMALL.replace("subject: 想退货", f"subject: {tagged}"))
            assert found.startswith("s.yaml:21:14: ") and expected in found, found
        # On a key too (the damaged-file test found one in a flow mapping).
        [found] = problems(SMALL.replace("title: {zh:", "title: {!zh:"))
        assert (
            found
            == "s.yaml:2:9: unreadable key: could not determine a constructor for the tag '!zh:'"
        )

    def test_alias_bomb(self) -> None:
        lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
        for i in range(1, 9):
            lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]")
        [found] = problems("\n".join(lines) + "\n")
        assert found.startswith("s.yaml:") and "once aliases are expanded" in found

    def test_too_many_aliases_and_too_deep(self) -> None:
        aliases = "a: &x 1\nb: [" + ", ".join(["*x"] * 101) + "]\n"
        assert "more than 100 aliases" in problems(aliases)[0]
        [found] = problems("a: " + "[" * 5000 + "]" * 5000 + "\n")
        assert found == "s.yaml:1:35: nested deeper than 32 levels"  # the 33rd level

    def test_huge_file(self, tmp_path: Path) -> None:
        path = tmp_path / "huge.yaml"
        path.write_bytes(SMALL.encode() + b"#" * (1024 * 1024))
        code, output = validate(path)
        assert code == 1
        size = path.stat().st_size
        assert (
            f"{path}: the file is {size:,} bytes; scenario files may have at most 1,048,576"
            in output
        )
        # An upload is read only up to the limit: its size is not told as if known.
        [found] = problems(SMALL.encode() + b"#" * (1024 * 1024))
        assert (
            found == "s.yaml: the file is over 1,048,576 bytes, the most a scenario file may have"
        )

    def test_not_utf8_and_empty(self) -> None:
        assert problems(SMALL.encode() + b"# \xff\n") == ["s.yaml:23:3: the file is not UTF-8 text"]
        assert problems("") == ["s.yaml:1:1: the file is empty"]
        assert problems("id: x\nb: a\x07b\n") == [
            "s.yaml:2:5: character U+0007 is not allowed in YAML"
        ]
        assert problems("- a\n") == [
            "s.yaml:1:1: expected a mapping of keys (id, title, ...) at the top"
        ]

    def test_the_command_reports_every_file_and_fails(self, tmp_path: Path) -> None:
        good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
        good.write_text(SMALL, encoding="utf-8")
        bad.write_text(SMALL.replace("kind: goods", "kind: gadgets"), encoding="utf-8")
        code, output = validate(good, bad, tmp_path / "absent.yaml")
        assert code == 1
        assert f"✓ {good}: tiny" in output
        assert f"✗ {bad}:11:11: orders[0].kind: expected 'goods', 'food' or 'ride', got" in output
        assert f"✗ {tmp_path / 'absent.yaml'}: No such file or directory" in output
        assert "2 of 3 files invalid" in output
        assert "Traceback" not in output
        # In Chinese: the validator's sentences retold, the file's words kept.
        zh = ["scenario", "validate", "--lang", "zh", str(good), str(bad)]
        told = CliRunner().invoke(cli, zh)
        assert told.exit_code == 1
        assert f"✓ {good}：tiny，时间线工单 1 张，来单生成器 0 个，期望 0 条" in told.output
        assert f"✗ {bad}:11:11: orders[0].kind: 应为 'goods', 'food' 或 'ride'，收到的是 " in (
            told.output
        )
        assert "2 个文件中有 1 个无效" in told.output
        assert "2 of 3 files invalid" in validate(good, bad, tmp_path / "absent.yaml")[1]
        bad_lang = CliRunner().invoke(cli, ["scenario", "validate", "--lang", "fr", str(good)])
        assert bad_lang.exit_code == 2 and "the messages are in en or zh" in bad_lang.output


def test_the_published_schema_is_current_and_rejects_unknown_keys() -> None:
    shipped = json.loads((ROOT / "scenarios" / "scenario.schema.json").read_text("utf-8"))
    assert shipped == json_schema(), (
        "run: deskdrill scenario schema -o scenarios/scenario.schema.json"
    )
    result = CliRunner().invoke(cli, ["scenario", "schema"])
    assert json.loads(result.output) == shipped
    assert shipped["additionalProperties"] is False
    assert "timeline" in shipped["properties"] and "Persona" in shipped["$defs"]


def _schema_problems(data: object) -> list[str]:
    validator = jsonschema.Draft202012Validator(json_schema())
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data)]


def test_what_the_validator_accepts_the_schema_accepts_too() -> None:
    """An editor checks files against the published schema: it must not mark as wrong what
    deskdrill accepts (every shipped scenario, the README's example with one text for both
    languages), and each default it fills in must itself be valid."""
    readme = (ROOT / "README.md").read_text("utf-8")
    block = readme.split("A minimal scenario:\n\n```yaml\n", 1)[1].split("```", 1)[0]
    files = [(p.name, p.read_bytes()) for p in sorted((ROOT / "scenarios").glob("*.yaml"))]
    for name, raw in [*files, ("README.md", block.encode()), ("small", SMALL.encode())]:
        parse(raw, name)
        assert _schema_problems(load(raw).data) == [], name
    durations = [
        prop["default"]
        for model in json_schema()["$defs"].values()
        for prop in model.get("properties", {}).values()
        if "default" in prop and "(\\d{1,4})d" in prop.get("pattern", "")  # a Duration
    ]
    assert "10m" in durations and not any(d.startswith("P") for d in durations)
    for value in durations:
        with_value = SMALL.replace("    name: 李雷", f"    name: 李雷\n    reply_after: {value}")
        assert parse(with_value.encode(), "s").personas[0].reply_after is not None


def test_the_schema_refuses_what_the_validator_refuses() -> None:
    data = load(SMALL.encode()).data
    data["personas"][0]["patiense"] = "10m"
    assert any("patiense" in p for p in _schema_problems(data))
    del data["personas"][0]["patiense"]
    data["personas"][0]["patience"] = ""
    assert any("patience" in p for p in _schema_problems(data))
    empty = SMALL.replace("    name: 李雷", '    name: 李雷\n    patience: ""')
    assert any("patience" in p for p in problems(empty))


def test_schema_and_validation_over_http(factory: Factory) -> None:
    client = factory.client
    assert client.get("/api/v1/scenarios/schema").json() == json_schema()
    trainer, trainee = factory.user(Role.trainer), factory.user(Role.trainee)

    def check(agent: object | None, text: str) -> object:
        headers = {"content-type": "application/yaml", "x-filename": "mine.yaml"}
        if agent is not None:
            headers.update(agent.headers)  # type: ignore[attr-defined]
        return client.post("/api/v1/scenarios/validate", content=text.encode(), headers=headers)

    ok = check(trainer, SMALL)
    assert ok.status_code == 200, ok.text
    assert ok.json()["valid"] is True and ok.json()["timeline"] == 1
    bad = check(trainer, SMALL.replace("at: 1m", "at: 1 minute"))
    assert bad.status_code == 422
    [problem] = bad.json()["problems"]
    assert (problem["file"], problem["line"], problem["column"], problem["field"]) == (
        "mine.yaml",
        17,
        9,
        "timeline[0].at",
    )
    assert check(trainee, SMALL).status_code == 403
    assert check(None, SMALL).status_code == 401


def test_a_server_reads_one_scenario_file_at_a_time(
    factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Validations sent at once are read one after the other (each holds the interpreter
    for a while, and the process's other requests wait behind all of them otherwise); each
    still gets its answer."""
    from deskdrill.scenarios import load

    reading, most = [0], [0]
    lock = threading.Lock()

    def slow_parse(*args: object) -> Scenario:
        with lock:
            reading[0] += 1
            most[0] = max(most[0], reading[0])
        time.sleep(0.3)
        with lock:
            reading[0] -= 1
        return parse(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(load, "parse", slow_parse)
    trainer = factory.user(Role.trainer)
    headers = {"content-type": "application/yaml", **trainer.headers}
    answers: list[int] = []

    def check() -> None:
        sent = factory.client.post("/api/v1/scenarios/validate", content=SMALL, headers=headers)
        answers.append(sent.status_code)

    workers = [threading.Thread(target=check) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert answers == [200] * 4 and most[0] == 1, (answers, most)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(
    position=st.integers(min_value=0, max_value=len(SMALL.encode())),
    cut=st.integers(min_value=0, max_value=8),
    insert=st.binary(max_size=8)
    | st.sampled_from(
        [
            b"&a",
            b"*a",
            b"!!",
            b"{",
            b"- ",
            b"\t",
            b": ",
            b"!!int ",
            b"!!bool ",
            b"!!float ",
            b"!!timestamp ",
            b"2026-13-45",
            b"9:30",
        ]
    ),
)
def test_damaged_files_give_problems_never_a_crash(position: int, cut: int, insert: bytes) -> None:
    raw = SMALL.encode()
    damaged = raw[:position] + insert + raw[position + cut :]
    try:
        parse(damaged, "s.yaml")
    except ScenarioInvalid as invalid:
        assert invalid.problems and all(p.file == "s.yaml" for p in invalid.problems)


def test_problems_come_in_the_order_of_the_file() -> None:
    text = SMALL.replace(
        "items: [{sku: A, name: 耳机, price: 99.00}]",
        "items: [{colour: red, sku: A, name: 耳机, price: -1}]",
    ).replace("duration: 30m", "duration: soon")
    places = [tuple(map(int, p.split(":")[1:3])) for p in problems(text)]
    assert len(places) == 3 and places == sorted(places), places


def test_the_readme_example_is_valid() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    block = readme.split("A minimal scenario:\n\n```yaml\n", 1)[1].split("```", 1)[0]
    scenario = parse(block.encode(), "README.md")
    assert scenario.id == "tiny" and scenario.expectations[0].entitled is not None


class TestLimits:
    """Values that would validate and then fail during a drill are refused up front."""

    def test_durations_infinite_numbers_and_names(self) -> None:
        for old, new, expected in (
            ("duration: 30m", "duration: 999999999d", "duration: at most 30 days"),
            ("duration: 30m", "duration: 30 minutes", "duration: expected a duration"),
            ("duration: 30m", "duration: 31d", "duration: at most 30 days"),
            ("    name: 李雷", "    name: " + "李" * 129, "personas[0].name"),
            ("    name: 李雷", "    name: 7", "personas[0].name: expected a text, or one per"),
        ):
            found = problems(SMALL.replace(old, new))
            assert any(expected in f for f in found), found
        policy = "sla_policy:\n  name: x\n  targets:\n" + "".join(
            f"    {p}: {{first_response: 1, first_response_email: 1, next_response: 1, "
            f"resolution: {'.inf' if p == 'P1' else 1}}}\n"
            for p in ("P1", "P2", "P3", "P4")
        )
        [found] = problems(SMALL + policy)
        assert "sla_policy.targets.P1.resolution" in found and "finite" in found
        # Targets are minutes, or durations with units as everywhere else in the file.
        units = policy.replace(".inf", "2h").replace("first_response: 1,", "first_response: 90s,")
        targets = parse((SMALL + units).encode(), "s.yaml").sla_policy.targets  # type: ignore[union-attr]
        assert targets["P1"].resolution == 120 and targets["P2"].first_response == 1.5
        [found] = problems(SMALL + units.replace("2h", "2 hours"))
        assert found.endswith(
            "sla_policy.targets.P1.resolution: expected minutes (such as 30) or a duration with "
            "units (such as 45s, 5m or 1h30m), got '2 hours'"
        )

    def test_times_to_wait_or_meet_are_longer_than_zero(self) -> None:
        text = SMALL.replace("    name: 李雷", "    name: 李雷\n    patience: 0s") + (
            "expectations:\n  - {ticket: t1, resolve_within: 0s}\n"
            "incidents:\n  - {ticket: t1, within: 0s}\n"
        )
        longer = "expected a duration longer than 0s, such as 30s or 5m"
        assert problems(text) == [
            f"s.yaml:9:15: personas[0].patience: {longer}",
            f"s.yaml:25:34: expectations[0].resolve_within: {longer}",
            f"s.yaml:27:26: incidents[0].within: {longer}",
        ]

    def test_rules_for_new_files_do_not_refuse_a_stored_scenario(self) -> None:
        """A drill keeps its scenario as a document that the models read again at every
        step: rules added for files (times above 0s, headless agents) are checked when a
        file is read, so that a drill made before them goes on working."""
        scenario = parse(SMALL.encode(), "s.yaml")
        stored = scenario.model_dump(mode="json")
        stored["personas"][0]["patience"] = "0s"
        stored["headless"]["agents"] = "careful:0"
        assert Scenario.model_validate(stored).personas[0].patience == timedelta(0)

    def test_too_many_generated_arrivals(self) -> None:
        text = SMALL.replace("duration: 30m", "duration: 30d") + (
            "generators:\n  - id: flood\n    per_hour: 1000\n    templates:\n"
            "      - {category: other, subject: x, message: y}\n"
        )
        [found] = problems(text)
        assert "generators: up to 720,000 generated tickets" in found


def test_scenario_text_is_escaped_in_the_html_report() -> None:
    from deskdrill.web import run_report

    hostile = '<script>alert("x")</script>'
    report = {
        "scenario": {"id": "x", "title": {"zh": hostile, "en": hostile}, "difficulty": "easy"},
        "seed": 1,
        "agents": [],
        "throughput": {"tickets": 0, "events": 0, "wall_seconds": 0, "sim_to_wall": 0},
        "sla": {
            "first_response_attainment": None,
            "resolution_attainment": None,
            "backlog": [{"sim_at": "2026-01-01T00:00:00", "open": 1}],
            "breaches_by_timer": {hostile: 1},
        },
        "queue_wait": {
            "mean_seconds": None,
            "p50_seconds": None,
            "p90_seconds": None,
            "share_waiting": None,
        },
        "utilisation": [{"agent": hostile, "share": 10}],
        "csat": {"mean": None},
        "score": {
            "earned": 0,
            "points": 0,
            "by_expectation": [],
            "tickets": [
                {
                    "ticket": "DD-1",
                    "checks": [
                        {"name": hostile, "passed": False, "detail": hostile, "evidence": []}
                    ],
                }
            ],
        },
        "expectations": [],
    }
    html = run_report.render(report, "en")
    assert hostile not in html and "&lt;script&gt;" in html


def test_libyaml_and_python_read_files_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    """The loader reads with LibYAML (PyYAML's wheels carry it); the pure-Python parser,
    its fallback, gives the same values and the same places for every shipped scenario."""
    from deskdrill.scenarios import yamlsafe

    assert yamlsafe._Composer is yamlsafe._LibYamlComposer
    fast = [load(path.read_bytes()) for path in LIBRARY]
    monkeypatch.setattr(yamlsafe, "_Composer", yamlsafe._PythonComposer)
    slow = [load(path.read_bytes()) for path in LIBRARY]
    for a, b in zip(fast, slow, strict=True):
        assert (a.data, a.places, a.keys) == (b.data, b.places, b.keys)
