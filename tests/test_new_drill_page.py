"""A trainer starts a drill from a scenario in the browser: the form, its checks, and who
may use it."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker

from deskdrill.accounts.enums import Role, Tier
from deskdrill.core.clock import utc_now
from deskdrill.core.errors import Conflict
from deskdrill.db.engine import unit_of_work
from deskdrill.drills import service as drills
from deskdrill.drills.models import Drill, DrillMember
from deskdrill.drills.schemas import DrillCreate
from deskdrill.simulation.models import DrillScenario, ScheduledEvent
from tests.support.factories import Agent, Factory, unique
from tests.test_scenario_drills import scenario
from tests.test_web import Browser

NEW = "/drills/new"


@pytest.fixture
def trainer(app: Any, factory: Factory) -> tuple[Browser, Agent]:
    agent = factory.user(Role.trainer)
    browser = Browser(app)
    assert browser.login(agent.username).status_code == 303
    return browser, agent


def _send(browser: Browser, form: dict[str, Any], **files: tuple[str, bytes, str]) -> Any:
    fields = {"csrf_token": browser.csrf, **form}
    # Multipart, as the page's form sends it (a file field, even when none is chosen).
    upload = files or {"file": ("", b"", "application/octet-stream")}
    return browser.client.post(NEW, data=fields, files=upload)


def made_members(sessions: sessionmaker[Session], drill_id: int) -> list[str]:
    with unit_of_work(sessions, read_only=True) as session:
        return drills.member_names(session=session, drill=session.get_one(Drill, drill_id))


def _drill(sessions: sessionmaker[Session], name: str) -> Drill | None:
    with unit_of_work(sessions, read_only=True) as session:
        found = session.scalar(select(Drill).where(Drill.name == name))
        if found is not None:
            session.expunge(found)
        return found


def test_a_trainer_starts_a_shipped_scenario_for_trainees_at_their_tiers(
    factory: Factory, session_factory: sessionmaker[Session], trainer: tuple[Browser, Agent]
) -> None:
    browser, _ = trainer
    first, second = factory.user(Role.trainee), factory.user(Role.trainee)
    assert f'href="{NEW}"' in browser.page("/drills").text  # found from the drill list
    page = browser.page(NEW)
    assert page.status_code == 200
    assert 'value="food-dinner-peak"' in page.text and first.username in page.text
    name = unique("peak-")
    made = _send(
        browser,
        {
            "name": name,
            "source": "shipped",
            "scenario": "food-dinner-peak",
            "trainee": [first.username, second.username],
            f"tier:{second.username}": "L2",
            "seed": "7",
        },
    )
    assert made.status_code == 303, made.text
    drill = _drill(session_factory, name)
    assert drill is not None and made.headers["location"] == f"/drills/{drill.id}"
    with unit_of_work(session_factory, read_only=True) as session:
        members = select(DrillMember.user_id, DrillMember.tier)
        tiers = dict(session.execute(members.where(DrillMember.drill_id == drill.id)).all())
        kept = session.get_one(DrillScenario, drill.id)
        scheduled = session.scalar(
            select(ScheduledEvent.id).where(ScheduledEvent.drill_id == drill.id).limit(1)
        )
    assert tiers[first.user_id] is None and tiers[second.user_id] == "L2"
    assert kept.scenario_id == "food-dinner-peak" and kept.seed == 7
    assert scheduled is not None  # its tickets are on the schedule
    desk = browser.page(f"/drills/{drill.id}")
    assert desk.status_code == 200 and "draft" in desk.text.lower()
    # The trainee sees it among their drills; its bots are never offered for a roster.
    assert name in first.get("/drills").text
    assert f"d{drill.id}-bot-supervisor" in made_members(session_factory, drill.id)
    assert f"d{drill.id}-bot-" not in browser.page(NEW).text
    bot = {"name": unique("bot-"), "source": "shipped", "scenario": "new-hire-first-shift",
           "trainee": [f"d{drill.id}-bot-supervisor"]}  # fmt: skip
    refused = _send(browser, bot)
    assert refused.status_code == 422 and "is a built-in bot, not a person" in refused.text


def test_a_file_with_problems_is_shown_again_with_each_problem_and_nothing_is_created(
    session_factory: sessionmaker[Session], trainer: tuple[Browser, Agent]
) -> None:
    browser, _ = trainer
    text = scenario().replace("seed: 11\n", "seed: 11\nbogus: <script>alert(1)</script>\n")
    emma = "persona: emma\n    subject: Question"
    text = text.replace(emma, emma.replace("emma", "nobody"))
    name = unique("own-")
    shown = _send(browser, {"name": name, "source": "own", "yaml": text})
    assert shown.status_code == 422
    assert "The file has 1 problem; nothing was created." in shown.text, shown.text[-3000:]
    assert "line 7, column 1: <strong>bogus</strong>: unknown key &#39;bogus&#39;" in shown.text
    assert "<script>alert(1)</script>" not in shown.text  # kept, escaped, in the text box
    assert "bogus: &lt;script&gt;alert(1)&lt;/script&gt;" in shown.text
    assert _drill(session_factory, name) is None
    # Fields right, the reference is checked next: a persona the file does not have.
    fixed = text.replace("bogus: <script>alert(1)</script>\n", "")
    shown = _send(browser, {"name": name, "source": "own", "yaml": fixed})
    assert shown.status_code == 422
    assert re.search(r"line \d+, column \d+: <strong>timeline\[1\]\.persona</strong>", shown.text)
    assert "nobody" in shown.text and _drill(session_factory, name) is None


def test_an_uploaded_file_makes_the_drill(
    session_factory: sessionmaker[Session], trainer: tuple[Browser, Agent]
) -> None:
    browser, _ = trainer
    name = unique("upload-")
    form = {"name": name, "source": "own", "yaml": ""}
    made = _send(browser, form, file=("mine.yaml", scenario().encode(), "text/yaml"))
    assert made.status_code == 303, made.text
    drill = _drill(session_factory, name)
    assert drill is not None and drill.title == "测试 · Test"


def test_a_file_is_checked_alone_and_read_as_it_is(
    session_factory: sessionmaker[Session], trainer: tuple[Browser, Agent]
) -> None:
    """ "Check the file only" makes nothing; an upload is checked as its bytes are (one
    that is not UTF-8 is told so, not read with its characters replaced); a tier that is
    not one is refused."""
    browser, _ = trainer
    name = unique("check-")
    form = {"name": name, "source": "own", "yaml": scenario(), "action": "check"}
    checked = _send(browser, form)
    assert checked.status_code == 200
    assert "The file is right: t (timeline tickets: 3, generators: 0, expectations: 1)" in (
        checked.text
    )
    assert _drill(session_factory, name) is None
    latin = scenario().replace("王丽", "Zoë").encode("utf-8").replace("ë".encode(), b"\xeb")
    upload = {"name": name, "source": "own", "yaml": ""}
    told = _send(browser, upload, file=("latin1.yaml", latin, "text/yaml"))
    assert told.status_code == 422 and "the file is not UTF-8 text" in told.text, told.text[-2000:]
    assert _drill(session_factory, name) is None
    odd = {"name": name, "source": "shipped", "scenario": "new-hire-first-shift",
           "trainee": ["someone"], "tier:someone": "L9"}  # fmt: skip
    refused = _send(browser, odd)
    assert refused.status_code == 422 and "choose a tier from the list" in refused.text
    shipped = {"name": name, "source": "shipped", "scenario": "new-hire-first-shift"}
    refused = _send(browser, {**shipped, "seed": "²"})  # a digit, but not one of 0-9
    assert refused.status_code == 422 and "the seed is a whole number from 0 to" in refused.text
    assert _send(browser, {**shipped, "scenario": "a" * 5000}).status_code == 404
    # The text box given as a file part holds no text; the text keeps its first line.
    text_as_file = {"yaml": ("x.yaml", scenario().encode(), "text/yaml")}
    refused = browser.client.post(
        NEW, data={"csrf_token": browser.csrf, **upload}, files=text_as_file
    )
    assert refused.status_code == 422 and "upload a scenario file or paste its text" in refused.text
    shown = _send(browser, {**upload, "yaml": "\n\nbogus: 1\n"})
    assert ">\n\n\nbogus: 1\n</textarea>" in shown.text
    assert _drill(session_factory, name) is None


def test_a_body_too_large_is_refused_before_it_is_read(trainer: tuple[Browser, Agent]) -> None:
    """Whoever sends it, a form or a request over 8 MiB is refused from its length."""
    browser, agent = trainer
    huge = b"x" * (8 * 1024 * 1024 + 1)
    for client, path in ((browser.client, NEW), (browser.client, "/api/v1/scenarios/drills")):
        answer = client.post(path, content=huge, headers={"content-type": "text/plain"})
        assert answer.status_code == 413 and "over 8 MiB" in answer.json()["detail"]
    answer = agent.post("/scenarios/validate", content=huge)
    assert answer.status_code == 413

    def chunks() -> Any:  # no length given: counted as it comes
        for _ in range(9):
            yield b"y" * (1024 * 1024)

    form = {"content-type": "multipart/form-data; boundary=b"}  # read in full to find a field
    answer = browser.client.post(NEW, content=chunks(), headers=form)
    assert answer.status_code == 413, answer.text


def test_the_form_says_what_is_wrong_in_the_readers_language(
    factory: Factory, session_factory: sessionmaker[Session], trainer: tuple[Browser, Agent]
) -> None:
    browser, _ = trainer
    wrong = _send(browser, {"name": "No Spaces", "source": "shipped", "scenario": "x"})
    assert wrong.status_code == 422
    assert "the drill&#39;s name is 2 to 128 lower-case letters" in wrong.text
    assert 'value="No Spaces"' in wrong.text  # what was typed stays
    assert _send(browser, {"name": unique("n-"), "source": "shipped"}).status_code == 422
    taken = factory.desk(trainees=0)
    with unit_of_work(session_factory, read_only=True) as session:
        existing = session.get_one(Drill, taken.drill_id).name
    form = {"name": existing, "source": "shipped", "scenario": "new-hire-first-shift"}
    clash = _send(browser, form)
    assert clash.status_code == 409 and f"a drill named &#39;{existing}&#39; already" in clash.text
    chosen = {"language": "zh", "next": NEW, "csrf_token": browser.csrf}
    assert browser.client.post("/language", data=chosen).status_code == 303
    page = browser.page(NEW).text
    assert "从场景新建演练" in page
    own = {"name": unique("zh-"), "source": "own", "yaml": scenario().replace("seed:", "sead:")}
    told = _send(browser, own).text
    assert "未知的键 &#39;sead&#39;（是不是 &#39;seed&#39;？）；此处可用的键：" in told, told[-999:]
    clash = _send(browser, form)
    assert f"已有名为 &#39;{existing}&#39; 的演练" in clash.text, clash.text[-2000:]
    coach = factory.user(Role.trainer)
    roster = {**form, "name": unique("zh-"), "trainee": [coach.username]}
    told = _send(browser, roster).text
    assert f"&#39;{coach.username}&#39; 是培训师，不是学员" in told, told[-2000:]


def test_a_name_taken_at_the_same_moment_leaves_one_drill_and_tells_the_other(
    session_factory: sessionmaker[Session], trainer: tuple[Browser, Agent]
) -> None:
    """Another drill of the same name is made between the page's check of the name and
    its insert. On PostgreSQL that one commits first and the page says the name is taken;
    on SQLite the page holds the write lock from its start, so the other one waits and is
    told instead. Either way there is one drill of that name, and nothing half-made."""
    browser, _ = trainer
    bind = session_factory.kw["bind"]
    name = unique("race-")
    other: list[BaseException | int] = []

    def competitor() -> None:
        try:
            with unit_of_work(session_factory) as session:
                data = DrillCreate(name=name, title="the other one")
                other.append(drills.create_drill(session=session, data=data, creator=None,
                                                 now=utc_now()).id)  # fmt: skip
        except BaseException as error:  # told by the assertions below
            other.append(error)

    racer = threading.Thread(target=competitor)

    def before_insert(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("INSERT INTO drills ") and racer.ident is None:
            racer.start()
            if bind.dialect.name == "postgresql":
                racer.join(10)  # it commits: nothing of this request holds it back

    event.listen(bind, "before_cursor_execute", before_insert)
    try:
        form = {"name": name, "source": "shipped", "scenario": "new-hire-first-shift"}
        sent = _send(browser, form)
    finally:
        event.remove(bind, "before_cursor_execute", before_insert)
        racer.join(10)
    with unit_of_work(session_factory, read_only=True) as session:
        made = session.scalars(select(Drill).where(Drill.name == name)).all()
        scenarios = session.scalar(
            select(func.count()).select_from(DrillScenario).where(
                DrillScenario.drill_id.in_([d.id for d in made]))
        )  # fmt: skip
    assert len(made) == 1 and len(other) == 1, (made, other)
    if bind.dialect.name == "postgresql":
        assert other == [made[0].id] and made[0].title == "the other one"
        assert sent.status_code == 409 and f"a drill named &#39;{name}&#39; already" in sent.text
        assert scenarios == 0  # the page's scenario rows went with its transaction
    else:
        assert sent.status_code == 303 and sent.headers["location"] == f"/drills/{made[0].id}"
        assert isinstance(other[0], Conflict) and "already exists" in other[0].message
        assert scenarios == 1


def test_only_trainers_and_admins_start_drills_and_only_from_the_page(
    app: Any, factory: Factory, session_factory: sessionmaker[Session],
    trainer: tuple[Browser, Agent],
) -> None:  # fmt: skip
    trainee = factory.user(Role.trainee, Tier.L1)
    browser = Browser(app)
    assert browser.login(trainee.username).status_code == 303
    assert browser.page(NEW).status_code == 403
    assert "/drills/new" not in browser.page("/drills").text
    name = unique("not-")
    form = {"name": name, "source": "shipped", "scenario": "new-hire-first-shift"}
    assert _send(browser, form).status_code == 403
    own, _ = trainer
    forged = own.client.post(NEW, data={**form, "csrf_token": "forged"})
    assert forged.status_code == 403 and "did not come from deskdrill" in forged.text
    assert _drill(session_factory, name) is None


# A policy of the scenario's own, to be spoilt.
POLICY = """\
sla_policy:
  name: mine
  targets:
    P1: &target {first_response: 1, first_response_email: 15, next_response: 2, resolution: 60}
    P2: *target
    P3: *target
    P4: *target
  business_hours: {timezone: UTC, days: [mon, tue], opens: "09:00", closes: "18:00"}
  by_channel: {app: {P1: {first_response: 2}}}
"""

BAD_FILES = {
    "an unknown key": ("seed: 11\n", "seed: 11\nbogus: 1\n"),
    "a misspelt key": ("duration: 2h\n", "duraton: 2h\n"),
    "a wrong shape": ("seed: 11", "seed: eleven"),
    "a wrong duration": ("duration: 2h", "duration: two hours"),
    "a list expected": ("tags: [a]", "tags: 3"),
    "YAML syntax": ("title: {zh: 测试, en: Test}", "title: {zh: 测试, en: Test"),
    "a duplicate key": ("seed: 11\n", "seed: 11\nseed: 12\n"),
    "an unknown persona": ("persona: emma\n    subject: Q", "persona: eve\n    subject: Q"),
    "a repeated id": ("id: hello\n", "id: late\n"),
    "a merchant as courier": ("courier: rider", "courier: shop"),
    "an empty file": (None, ""),
    "a refund above the order": ("refund: full, coupon: 20", "refund: 99.00"),
    "an order of someone else": ("persona: wang\n    order: F-1", "persona: emma\n    order: F-1"),
    "a zero patience": ("patience: 4m", "patience: 0s"),
    "an empty agent entry": ("seed: 11\n", "seed: 11\nheadless: {agents: 'careful:2,,'}\n"),
    "an unknown kind of bot": ("seed: 11\n", "seed: 11\nheadless: {agents: 'robot:2'}\n"),
    "no bots": ("seed: 11\n", "seed: 11\nheadless: {agents: ''}\n"),
    "a bot count of 0": ("seed: 11\n", "seed: 11\nheadless: {agents: 'careful:0'}\n"),
    "a bot at an unknown tier": ("seed: 11\n", "seed: 11\nheadless: {agents: 'careful:2@L9'}\n"),
    "an unknown level": ("seed: 11\n",
                         "seed: 11\nlimits: {L7: {refund: {per_action: 1, per_ticket: 2}}}\n"),
    "a number below its bound": ("max_concurrent: 2", "max_concurrent: 0"),
    "an id of the wrong form": ("id: hello\n", "id: 'hello!'\n"),
    "a currency of the wrong form": ("    amount: 40.00\n",
                                     "    amount: 40.00\n    currency: cny\n"),
    "a date that is not one": ('start: "2026-03-06T17:30:00+08:00"', "start: tomorrow"),
    "a date out of range": ('start: "2026-03-06T17:30:00+08:00"', "start: 2026-13-45"),
    "a list at the top": (None, "- a\n- b\n"),
    "no shape it may take": ("refund: full, coupon: 20", "refund: [full], coupon: 20"),
    "targets missing": ("seed: 11\n", "seed: 11\n" + POLICY.replace("    P4: *target\n", "")),
    "an unknown time zone": ("seed: 11\n", "seed: 11\n" + POLICY.replace("UTC", "Mars/Base")),
    "an unknown day": ("seed: 11\n", "seed: 11\n" + POLICY.replace("mon, tue", "mon, tues")),
    "a time of day expected": ("seed: 11\n", "seed: 11\n" + POLICY.replace("09:00", "nine")),
    "a closing before the opening": ("seed: 11\n",
                                     "seed: 11\n" + POLICY.replace("18:00", "08:00")),
    "a priority unknown": ("seed: 11\n",
                           "seed: 11\n" + POLICY.replace("{P1: {first", "{P9: {first")),
    "a quoted value holding '; expected'": ("tags: [a]", "tags: 'a; expected b'"),
    "a tag PyYAML cannot read": ("seed: 11", "seed: !!int abc"),
    "an empty tagged number": ("seed: 11", "seed: !!float ''"),
    "a boolean tag on a word": ("tags: [a]", "tags: [!!bool abc]"),
    "a time of day unquoted": ("seed: 11\n", "seed: 11\n" + POLICY.replace('"09:00"', "9:00")),
    "an infinite speed": ("seed: 11\n", "seed: 11\nspeed: .inf\n"),
    "a mapping expected": ("max_concurrent: 2}", "max_concurrent: 2}\nlimits: {L2: {refund: 10}}"),
}  # fmt: skip


EXACT = {
    "a list expected": "应为列表（每行一个“- 项”，或 [a, b]），收到的是 3",
    "a wrong shape": "应为整数，收到的是 'eleven'",
    "an unknown persona": "没有 id 为 'eve' 的客户角色（已有：emma, wang）",
    "a merchant as courier": "'shop' 是商家，不是快递员",
    "a number below its bound": "应为不小于 1 的值，收到的是 0",
    "no shape it may take": "应为数字，例如 12 或 12.50；应为 'full'",
    "a quoted value holding '; expected'": (
        "应为列表（每行一个“- 项”，或 [a, b]），收到的是 'a; expected b'"
    ),
}


@pytest.mark.parametrize("mistake", BAD_FILES)
def test_a_files_common_problems_are_told_in_chinese(mistake: str) -> None:
    """Each of the common problems reads as Chinese on a Chinese page, with the file's own
    keys, ids and values kept as written."""
    from deskdrill.scenarios.load import ScenarioInvalid, parse
    from deskdrill.web import i18n
    from deskdrill.web.scenario_text import scenario_text

    old, new = BAD_FILES[mistake]
    base = scenario("round_robin").replace("seed: 11\n", "seed: 11\ntags: [a]\n")
    text = new if old is None else base.replace(old, new, 1)
    assert old is None or text != base
    with pytest.raises(ScenarioInvalid) as invalid:
        parse(text.encode(), "mine.yaml")
    messages = [p.message for p in invalid.value.problems]
    i18n.use("zh")
    try:
        told = [scenario_text(m) for m in messages]
    finally:
        i18n.use("en")
    if mistake in EXACT:  # word for word
        assert EXACT[mistake] in told, told
        return
    for english, chinese in zip(messages, told, strict=True):
        assert chinese != english, english
        assert re.search(r"[\u4e00-\u9fff]", chinese), chinese
        for quoted in re.findall(r"'[^']*'", english):  # the file's words stay
            assert quoted in chinese, (english, chinese)
