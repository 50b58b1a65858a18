"""The trainee workspace through the ASGI app: login, sessions, CSRF, throttling, access,
escaping, and every ticket action from the ticket page (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from deskdrill.accounts.enums import Role, Tier
from deskdrill.accounts.throttle import LoginThrottle, TooManyAttempts
from tests.support.factories import PASSWORD, Agent, Desk, Factory

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browser:
    """A browser of one person: its own cookie jar, logged in through the login form."""

    def __init__(self, app: Any) -> None:
        self.client = TestClient(app, base_url="http://testserver", follow_redirects=False)
        self.csrf = ""

    def login(self, username: str, password: str = PASSWORD, next: str = "/drills") -> Response:
        page = self.client.get("/login")
        token = TOKEN.search(page.text)
        assert token, page.text
        form = {"username": username, "password": password, "csrf_token": token.group(1)}
        response = self.client.post("/login", data={**form, "next": next})
        if response.status_code == 303:
            self.csrf = self.page("/drills").csrf_from
        return response

    def page(self, path: str) -> Any:
        response = self.client.get(path)
        found = TOKEN.search(response.text)
        response.csrf_from = found.group(1) if found else ""  # type: ignore[attr-defined]
        return response

    def act(self, drill: int, key: str, action: str, **form: Any) -> Response:
        """An action as HTMX sends it from the ticket page."""
        return self.client.post(
            f"/drills/{drill}/tickets/{key}/do/{action}",
            data={k: str(v) for k, v in form.items()},
            headers={"HX-Request": "true", "X-CSRF-Token": self.csrf},
        )


@pytest.fixture
def desk(factory: Factory) -> Desk:
    return factory.desk(trainees=2)


@pytest.fixture(autouse=True)
def fresh_throttle(app: Any) -> None:
    """Every test client logs in from one address; each test starts with a clean count."""
    app.state.login_throttle = LoginThrottle()


def _browser(app: Any, agent: Agent) -> Browser:
    browser = Browser(app)
    assert browser.login(agent.username).status_code == 303
    return browser


def test_login_sets_a_signed_httponly_samesite_cookie_and_logout_ends_it(
    app: Any, desk: Desk
) -> None:
    browser = Browser(app)
    response = browser.login(desk.trainees[0].username)
    assert response.status_code == 303
    assert response.headers["location"] == "/drills"
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("deskdrill_session=")
    )
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    stolen = browser.client.cookies.get("deskdrill_session")
    assert browser.page("/drills").status_code == 200

    logout = browser.client.post("/logout", data={"csrf_token": browser.csrf})
    assert logout.status_code == 303
    # The old cookie no longer opens anything: the session was revoked on the server.
    other = TestClient(app, follow_redirects=False)
    other.cookies.set("deskdrill_session", stolen)
    assert other.get("/drills").status_code == 303
    # A tampered cookie is refused.
    other.cookies.set("deskdrill_session", stolen[:-3] + "abc")
    assert other.get("/drills").headers["location"].startswith("/login")


def test_wrong_password_and_missing_login_csrf(app: Any, desk: Desk) -> None:
    browser = Browser(app)
    wrong = browser.login(desk.trainees[0].username, "not-the-password")
    assert wrong.status_code == 401
    assert "Wrong username or password." in wrong.text
    forged = TestClient(app, follow_redirects=False).post(
        "/login", data={"username": desk.trainees[0].username, "password": PASSWORD}
    )
    assert forged.status_code == 403
    assert "login form has expired" in forged.text


def test_login_is_throttled_after_repeated_failures(app: Any, factory: Factory) -> None:
    agent = factory.user(Role.trainee)
    browser = Browser(app)
    for _ in range(5):
        assert browser.login(agent.username, "guess").status_code == 401
    locked = browser.login(agent.username)  # even the right password waits now
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.text


def test_pages_need_a_login(app: Any, desk: Desk) -> None:
    anonymous = TestClient(app, follow_redirects=False)
    response = anonymous.get(f"/drills/{desk.drill_id}")
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next=/drills/{desk.drill_id}"
    htmx = anonymous.get(f"/drills/{desk.drill_id}/desk", headers={"HX-Request": "true"})
    assert htmx.headers["HX-Redirect"].startswith("/login")
    # After logging in, the browser goes where it was headed, and only to this site.
    home = f"/drills/{desk.drill_id}"
    for target, expected in ((home, home), ("https://evil.example/", "/drills"),
                             ("//evil.example", "/drills")):  # fmt: skip
        answer = Browser(app).login(desk.trainees[0].username, next=target)
        assert answer.headers["location"] == expected


def test_a_trainee_sees_only_their_own_drills(app: Any, factory: Factory) -> None:
    mine, theirs = factory.desk(trainees=1), factory.desk(trainees=1)
    ticket = theirs.receive(subject="Someone else's case")
    browser = _browser(app, mine.trainees[0])
    listing = browser.page("/drills")
    assert f"/drills/{mine.drill_id}" in listing.text
    assert f'/drills/{theirs.drill_id}"' not in listing.text
    for path in (
        f"/drills/{theirs.drill_id}",
        f"/drills/{theirs.drill_id}/desk",
        f"/drills/{theirs.drill_id}/live",
        f"/drills/{theirs.drill_id}/tickets/{ticket['key']}",
        # Right drill in the path, ticket of another drill: still not found.
        f"/drills/{mine.drill_id}/tickets/{ticket['key']}",
    ):
        response = browser.page(path)
        assert response.status_code == 404, path
        assert "<h1>404" in response.text
    assert "Someone else" not in browser.page(f"/drills/{mine.drill_id}").text


def test_actions_need_the_csrf_token(app: Any, desk: Desk) -> None:
    ticket = desk.receive()
    browser = _browser(app, desk.trainees[0])
    path = f"/drills/{desk.drill_id}/tickets/{ticket['key']}/do/claim"
    for headers in ({}, {"X-CSRF-Token": "forged"}):
        refused = browser.client.post(path, headers=headers)
        assert refused.status_code == 403
        assert "did not come from deskdrill" in refused.text
    assert desk.trainer.get(f"/tickets/{ticket['key']}").json()["ticket"]["assignee"] is None
    # The token of another session does not fit this one either.
    other = _browser(app, desk.trainees[1])
    assert browser.client.post(path, headers={"X-CSRF-Token": other.csrf}).status_code == 403


def test_the_desk_lists_queues_with_live_sla_countdowns(app: Any, desk: Desk) -> None:
    urgent = desk.receive(subject="Charged twice", priority="P1", category="payment")
    mine = desk.receive(subject="Late parcel")
    browser = _browser(app, desk.trainees[0])
    assert browser.act(desk.drill_id, mine["key"], "claim").status_code == 200
    page = browser.page(f"/drills/{desk.drill_id}")
    assert page.status_code == 200
    text = page.text
    assert f'sse-connect="/drills/{desk.drill_id}/live?since=' in text
    mine_section = text[text.index('id="q-mine"') : text.index('id="q-soon"')]
    assert mine["key"] in mine_section and urgent["key"] not in mine_section
    queue = text[text.index('id="q-unassigned"') : text.index('id="q-escalated"')]
    assert urgent["key"] in queue
    # The countdown carries its due moment and warning threshold, and says its state.
    row = re.escape(urgent["key"])
    countdown = re.search(
        rf'data-key="{row}".*?class="countdown state-(\w+)" data-due="([^"]+)"', text, re.S
    )
    assert countdown is not None
    assert countdown.group(1) in ("ok", "warning")
    assert ">on time<" in text or ">warning<" in text
    # The two halves of the desk refresh apart: mine when my tickets change, the shared
    # queues when the drill's do.
    shared = browser.page(f"/drills/{desk.drill_id}/desk").text
    assert urgent["key"] in shared and 'id="q-mine"' not in shared
    own = browser.page(f"/drills/{desk.drill_id}/mine").text
    assert mine["key"] in own and 'id="q-unassigned"' not in own
    # My half also listens for each ticket it lists: one taken off my desk goes at once.
    assert f"sse:t-{int(mine['key'].split('-')[1])}" in own


def test_work_a_ticket_from_claim_to_close(app: Any, desk: Desk) -> None:
    ticket = desk.receive(order=desk.refs["order"], party=desk.refs["consumer"])
    key, drill = ticket["key"], desk.drill_id
    browser = _browser(app, desk.trainees[0])
    page = browser.page(f"/drills/{drill}/tickets/{key}")
    assert "Hello 王小明" in page.text  # the greeting macro, filled from the ticket
    assert "Sneakers" in page.text and "¥100.00" in page.text
    assert "138****1234" in page.text and "13812341234" not in page.text  # masked

    claimed = browser.act(drill, key, "claim", version=1)
    assert claimed.status_code == 200 and f"{desk.trainees[0].username}" in claimed.text
    replied = browser.act(drill, key, "reply", body="Hello 王小明, I am checking your order.")
    assert replied.headers["HX-Trigger"] == "composer-sent"
    assert "I am checking your order." in replied.text
    assert (
        browser.act(drill, key, "note", body="internal: courier app shows delivered").status_code
        == 200
    )
    revealed = browser.act(drill, key, "reveal", reason="customer asks for a call back")
    assert "13812341234" in revealed.text
    # A refund within the limit is approved; one above it waits for approval.
    within = browser.act(drill, key, "compensate", kind="refund", amount="30", reason="late")
    assert within.status_code == 200 and "approved" in within.text
    above = browser.act(drill, key, "compensate", kind="coupon", amount="45", reason="goodwill")
    assert "Above your limit" in above.text and "requested" in above.text
    too_much = browser.act(drill, key, "compensate", kind="refund", amount="500", reason="x")
    assert too_much.headers["HX-Retarget"] == "#alerts"
    assert "exceeds what is left to refund" in too_much.text
    reship = browser.act(drill, key, "order-action", kind="reship", items="SOCK", reason="lost")
    assert reship.status_code == 200, reship.text
    assert "<strong>order action</strong>" in reship.text  # on the trail, in words
    pending = browser.act(drill, key, "pending", waiting_on="customer")
    assert "pending customer" in pending.text
    assert browser.act(drill, key, "resume").status_code == 200
    tagged = browser.act(drill, key, "tags", add="late, vip")
    assert "late, vip" in tagged.text
    resolved = browser.act(drill, key, "resolve", code="refunded", summary="refunded 30")
    assert resolved.status_code == 200 and "Reason to reopen" in resolved.text
    closed = browser.act(drill, key, "close")
    assert ">closed<" in closed.text
    trail = desk.trainer.get(f"/tickets/{key}").json()["trail"]
    types = [e["type"] for e in trail]
    expected = "claim reply note contact_revealed compensation_approved compensation_requested"
    expected += " set_pending resume tag resolve close"
    for name in expected.split():
        assert name in types, " ".join(types)


def test_escalate_and_the_incident_report(app: Any, desk: Desk, factory: Factory) -> None:
    ticket = desk.receive(category="safety_incident", priority="P1", subject="Driver unsafe")
    key, drill = ticket["key"], desk.drill_id
    browser = _browser(app, desk.trainees[0])
    browser.act(drill, key, "claim")
    page = browser.page(f"/drills/{drill}/tickets/{key}")
    assert "Incident report" in page.text
    missing = browser.act(drill, key, "escalate", tier="incident_desk", reason="safety")
    assert missing.headers["HX-Retarget"] == "#alerts"
    assert "complaint" in missing.text  # says which field is missing
    report = browser.act(
        drill, key, "incident-report", what_happened="swerving", who_is_at_risk="rider",
        actions_taken="called the rider", handed_to="incident desk",
    )  # fmt: skip
    assert report.status_code == 200 and "<strong>incident report</strong>" in report.text
    escalated = browser.act(
        drill, key, "escalate", tier="incident_desk", reason="safety incident",
        **{"complaint.customer_asks": "safety", "complaint.actions_taken": "report filed",
           "complaint.proposed_outcome": "incident desk investigates"},
    )  # fmt: skip
    assert escalated.status_code == 200 and "incident_desk" in escalated.text
    # Whoever works the incident desk in this drill finds it among their notices.
    responder = factory.user(Role.trainee, Tier.incident_desk)
    factory.member(desk, responder)
    notices = _browser(app, responder).page(f"/drills/{drill}/notices").text
    assert f"{key}: escalated to incident_desk by {desk.trainees[0].username}" in notices
    assert key not in browser.page(f"/drills/{drill}/notices").text  # not the L1's business
    api = factory.client.get(
        f"/api/v1/notifications?drill={drill}",
        headers={"Authorization": f"Bearer {responder.token}"},
    )
    assert any(n["ticket"] == key and n["kind"] == "escalation" for n in api.json())


def test_a_live_refresh_of_an_unchanged_ticket_sends_nothing(app: Any, desk: Desk) -> None:
    ticket = desk.receive()
    key, drill = ticket["key"], desk.drill_id
    browser = _browser(app, desk.trainees[0])
    page = browser.page(f"/drills/{drill}/tickets/{key}").text
    refresh = re.search(r'hx-get="(/drills/\d+/tickets/[^"]+/view\?seen=[^"]+)"', page)
    assert refresh is not None
    # The page's own state: nothing to swap (this is also what a page hears of its own
    # actions, a moment after their answer).
    assert browser.client.get(refresh.group(1)).status_code == 204
    desk.trainer.ok(f"/tickets/{key}/notes", {"body": "a colleague's note"})
    changed = browser.client.get(refresh.group(1))
    assert changed.status_code == 200 and "a colleague&#39;s note" in changed.text


def test_a_conflict_is_explained_and_refreshes_the_ticket(app: Any, desk: Desk) -> None:
    ticket = desk.receive()
    key, drill = ticket["key"], desk.drill_id
    first, second = _browser(app, desk.trainees[0]), _browser(app, desk.trainees[1])
    assert first.act(drill, key, "claim", version=1).status_code == 200
    lost = second.act(drill, key, "claim", version=1)
    assert lost.status_code == 200  # HTMX shows it in the alert area ...
    assert lost.headers["HX-Retarget"] == "#alerts"
    assert lost.headers["HX-Trigger"] == "refresh-ticket"  # ... and reloads the ticket
    assert "changed" in lost.text or "version" in lost.text
    assert desk.trainer.get(f"/tickets/{key}").json()["ticket"]["assignee"] == (
        desk.trainees[0].username
    )


def test_customer_text_is_escaped_everywhere(app: Any, desk: Desk) -> None:
    script = "<script>alert('x')</script><img src=x onerror=alert(1)>"
    ticket = desk.receive(subject=f"Subject {script}", body=f"Body {script}")
    browser = _browser(app, desk.trainees[0])
    for path in (
        f"/drills/{desk.drill_id}",
        f"/drills/{desk.drill_id}/desk",
        f"/drills/{desk.drill_id}/tickets/{ticket['key']}",
        f"/drills/{desk.drill_id}/tickets/{ticket['key']}/view",
    ):
        text = browser.page(path).text
        assert "<script>alert" not in text and "<img src=x" not in text, path
        assert "&lt;script&gt;" in text, path


def test_the_language_is_chosen_per_user(app: Any, desk: Desk) -> None:
    browser = _browser(app, desk.trainees[0])
    assert "My drills" in browser.page("/drills").text
    switched = browser.client.post(
        "/language", data={"language": "zh", "next": "/drills", "csrf_token": browser.csrf}
    )
    assert switched.status_code == 303
    assert "我的演练" in browser.page("/drills").text
    # It is the user's setting: another browser of the same person shows Chinese too.
    again = _browser(app, desk.trainees[0])
    assert "我的演练" in again.page("/drills").text
    refused = browser.client.post("/language", data={"language": "fr", "csrf_token": browser.csrf})
    assert refused.status_code == 422


def test_unknown_pages_are_pages_and_the_api_keeps_json(app: Any, desk: Desk) -> None:
    browser = _browser(app, desk.trainees[0])
    missing = browser.page("/no-such-page")
    assert missing.status_code == 404 and "<h1>404" in missing.text
    api = browser.client.get("/api/v1/tickets/DD-999999")
    assert api.status_code == 401 and api.json()["error"] == "unauthorized"


def test_the_debrief_shows_score_evidence_and_response_times(app: Any, factory: Factory) -> None:
    trainer = factory.user(Role.trainer)
    me, other = factory.user(Role.trainee), factory.user(Role.trainee)
    made = trainer.ok(
        "/scenarios/drills",
        {"name": f"debrief-{me.username}", "scenario": "new-hire-first-shift",
         "trainees": [{"username": me.username}, {"username": other.username}]},
        status=201,
    )  # fmt: skip
    drill = made["drill"]
    trainer.ok(f"/drills/{drill}/clock/start")
    trainer.ok(f"/drills/{drill}/clock/pause")
    trainer.ok(f"/drills/{drill}/clock/jump", {"seconds": 20 * 60})
    items = trainer.get(f"/drills/{drill}/tickets").json()["items"]
    assert items
    key = items[0]["key"]
    me.ok(f"/tickets/{key}/claim")
    me.ok(f"/tickets/{key}/reply", {"body": "您好，我来帮您查一下。"})

    browser = _browser(app, me)
    page = browser.page(f"/drills/{drill}/debrief?who={other.username}")
    assert page.status_code == 200
    text = page.text
    assert f'<small class="muted">{me.username}</small>' in text  # own debrief only
    assert re.search(r'class="big">[\d.]+ / [\d.]+<', text)
    assert 'role="img" aria-label="First response time against the target' in text
    assert f">{key}</text>" in text  # the worked ticket is a bar of the chart
    assert f"/drills/{drill}/tickets/{key}#ev-" in text  # evidence links into the trail
    assert "Tickets worked</dt><dd>1<" in text

    watcher = _browser(app, trainer)
    overview = watcher.page(f"/drills/{drill}/debrief")
    assert overview.status_code == 200 and 'name="who"' in overview.text
    assert watcher.page(f"/drills/{drill}/debrief?who={me.username}").status_code == 200
    stranger = factory.user(Role.trainee)  # not on this drill, or nobody at all
    for who in (stranger.username, "ghost"):
        assert watcher.page(f"/drills/{drill}/debrief?who={who}").status_code == 404
    outsider = _browser(app, factory.user(Role.trainee))
    assert outsider.page(f"/drills/{drill}/debrief").status_code == 404


def test_parallel_guesses_cannot_slip_past_the_throttle() -> None:
    throttle = LoginThrottle()
    allowed: list[int] = []

    def guess(i: int) -> None:
        try:
            throttle.begin("victim", "10.0.0.1")
            allowed.append(i)
        except TooManyAttempts:
            pass

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(guess, range(40)))
    assert len(allowed) == 5
    # Another address may still try that username, and the right person from theirs.
    throttle.begin("victim", "10.0.0.2")
    throttle.succeeded("victim", "10.0.0.2")
    # Guessing across many accounts from one address stops at its own allowance.
    spray = LoginThrottle()
    tried = 0
    with pytest.raises(TooManyAttempts):
        for n in range(100):
            spray.begin(f"user{n}", "10.0.0.9")
            tried += 1
    assert tried == spray.per_address


def test_malformed_input_is_refused_cleanly(app: Any, desk: Desk, factory: Factory) -> None:
    ticket = desk.receive()
    browser = _browser(app, desk.trainees[0])
    claim = f"/drills/{desk.drill_id}/tickets/{ticket['key']}/do/claim"
    odd = browser.client.post(claim, data={"csrf_token": "é" * 64})
    assert odd.status_code == 403
    # A version that is a digit but not a number is no version at all.
    done = browser.act(desk.drill_id, ticket["key"], "claim", version="²")
    assert done.status_code == 200 and "Release to queue" in done.text
    invalid = browser.page("/drills/not-a-number")
    assert invalid.status_code == 422 and "<h1>422" in invalid.text
    admin = _browser(app, factory.user(Role.admin))
    assert admin.page("/drills/987654321").status_code == 404
    assert admin.page("/drills/987654321/desk").status_code == 404
    other = browser.client.post(
        f"/drills/987654321/tickets/{ticket['key']}/do/claim",
        headers={"X-CSRF-Token": browser.csrf},
    )
    assert other.status_code == 404


def test_text_from_a_scenario_file_is_escaped_too(app: Any, factory: Factory) -> None:
    from tests.test_scenario_drills import ScenarioDrill, scenario

    script = "<script>alert(1)</script>"
    text = scenario().replace("subject: 外卖超时", f'subject: "外卖超时 {script}"')
    text = text.replace("name: 王丽", f'name: "王丽{script}"')
    text = text.replace(
        'text: {zh: "您好 {customer}，"', f'text: {{zh: "您好 {{customer}}，{script}"'
    )
    drill = ScenarioDrill(factory, text=text)
    drill.start()
    drill.jump(3 * 60)  # the first timeline ticket has arrived
    browser = _browser(app, drill.people[0])
    desk_page = browser.page(f"/drills/{drill.id}")
    key = re.search(r'data-key="(DD-\d+)"', desk_page.text)
    assert key is not None, desk_page.text[-2000:]
    ticket_page = browser.page(f"/drills/{drill.id}/tickets/{key.group(1)}").text
    for page in (desk_page.text, ticket_page):
        assert "<script>alert" not in page and "&lt;script&gt;" in page


def test_a_trainer_runs_the_clock_from_the_desk(app: Any, desk: Desk) -> None:
    trainer = _browser(app, desk.trainer)
    page = trainer.page(f"/drills/{desk.drill_id}").text
    assert "Clock controls" in page
    path = f"/drills/{desk.drill_id}/clock"
    headers = {"HX-Request": "true", "X-CSRF-Token": trainer.csrf}

    def operate(**form: str) -> Response:
        return trainer.client.post(path, data=form, headers=headers)

    assert operate(op="start").status_code == 204
    assert operate(op="speed", speed="30").status_code == 204
    assert operate(op="jump", minutes="10").status_code == 204
    assert "between 1 and 10080 minutes" in operate(op="jump", minutes="10081").text
    state = desk.trainer.get(f"/drills/{desk.drill_id}/clock").json()
    assert (state["state"], float(state["speed"])) == ("running", 30.0)
    refused = operate(op="speed", speed="fast")
    assert refused.headers["HX-Retarget"] == "#alerts" and "speed must be a number" in refused.text
    assert "between" in operate(op="speed", speed="9999").text
    assert "resume" in operate(op="resume").text  # it is running: nothing to resume
    trainee = _browser(app, desk.trainees[0])
    assert "Clock controls" not in trainee.page(f"/drills/{desk.drill_id}").text
    answer = trainee.client.post(path, data={"op": "pause"}, headers={"X-CSRF-Token": trainee.csrf})
    assert answer.status_code == 403
    assert desk.trainer.get(f"/drills/{desk.drill_id}/clock").json()["state"] == "running"


def test_a_drills_times_are_shown_in_its_own_zone(app: Any, factory: Factory) -> None:
    from tests.test_scenario_drills import ScenarioDrill

    drill = ScenarioDrill(factory)  # the scenario starts at 17:30 Beijing time
    drill.start()
    page = _browser(app, drill.people[0]).page(f"/drills/{drill.id}").text
    shown = re.search(r'class="mono sim-now">([^<]+)<', page)
    assert shown is not None and shown.group(1).startswith("03-06 17:30"), shown
    assert 'data-offset="480"' in page  # the page's script keeps to the same zone
    assert "<h1>Test <small" in page and "测试" not in page  # its title in English ...
    reader = _browser(app, drill.people[1])
    chosen = {"language": "zh", "next": "/drills", "csrf_token": reader.csrf}
    assert reader.client.post("/language", data=chosen).status_code == 303
    assert "<td>测试</td>" in reader.page("/drills").text  # ... and in Chinese
    assert "<h1>测试 <small" in reader.page(f"/drills/{drill.id}").text


def test_a_refusal_is_told_in_the_readers_language(app: Any, desk: Desk) -> None:
    """The domain's sentences (a step the status does not allow, a ticket someone else
    holds) reach a Chinese desk in Chinese, values kept; an English desk reads them as
    written."""
    key, drill = desk.receive()["key"], desk.drill_id
    first, second = _browser(app, desk.trainees[0]), _browser(app, desk.trainees[1])
    chosen = {"language": "zh", "next": "/drills", "csrf_token": second.csrf}
    assert second.client.post("/language", data=chosen).status_code == 303
    assert first.act(drill, key, "claim").status_code == 200
    taken = second.act(drill, key, "claim")
    assert taken.headers["HX-Retarget"] == "#alerts"
    assert f"工单 {key} 已被 {desk.trainees[0].username} 领取" in taken.text, taken.text
    early = first.act(drill, key, "close")
    assert "cannot close a ticket that is new; resolve it first" in early.text, early.text
    desk.trainer.ok(f"/tickets/{key}/unassign")
    assert second.act(drill, key, "claim").status_code == 200
    closing = second.act(drill, key, "close")
    told = "工单当前为“新建”，不能执行“关闭”；请先标记为已解决。此状态下可以：客服回复、"
    assert told in closing.text and "reply" not in closing.text, closing.text


def test_a_desk_shows_what_is_recorded_while_a_long_jump_is_caught_up(
    app: Any, factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a long clock jump a page does not wait for all of the engine's work: it shows
    what is recorded so far and says so, and an action is refused until the engine is
    through; each page read takes the catch-up further, and then the desk is whole."""
    from deskdrill.sla import catch_up
    from deskdrill.web import workspace
    from tests.test_scenario_drills import ScenarioDrill

    monkeypatch.setattr(workspace, "PAGE_WAIT", 0.0)  # a stretch per page read ...
    monkeypatch.setattr(workspace, "ACTION_WAIT", 0.0)
    monkeypatch.setattr(catch_up, "TRANSACTION_BUDGET", 0.0)  # ... and a round per stretch
    drill = ScenarioDrill(factory)
    drill.start()
    drill.jump(3 * 60)
    key = drill.ticket("外卖超时")["key"]  # the API's read catches up in full
    browser = _browser(app, drill.people[0])
    desk_path = f"/drills/{drill.id}"
    assert "Catching up" not in browser.page(desk_path).text
    drill.jump(60 * 60)
    banner = re.compile(r"Catching up after a clock jump: everything before ([\d:\- ]{14}) ")
    with catch_up.turn(drill.id, None):  # another catch-up of the drill is at work
        page = browser.page(desk_path)
        assert page.status_code == 200
        first = banner.search(page.text)
        assert first is not None, page.text[-3000:]
        assert "03-06 17:33:00" <= first.group(1) < "03-06 18:33:00"
        assert "sse:resync, every 2s" in page.text  # it asks again by itself
        debrief = browser.page(f"{desk_path}/debrief")  # a page too: the debrief so far
        assert debrief.status_code == 200 and banner.search(debrief.text), debrief.text[-3000:]
        assert '<meta http-equiv="refresh" content="3">' in debrief.text
        refused = browser.act(drill.id, key, "claim")
        assert refused.headers["HX-Retarget"] == "#alerts"
        assert "still catching up after a clock jump" in refused.text, refused.text
        ticket = browser.page(f"{desk_path}/tickets/{key}")  # a ticket's page says so too
        assert "The ticket fills in as the rest is." in ticket.text, ticket.text[-3000:]
        assert "refresh-ticket from:body, every 2s" in ticket.text
        seen = re.search(r"/view\?seen=([\w-]+)", ticket.text)
        assert seen is not None and re.fullmatch(r"\d+-\w+-[\d.]+-\d+", seen.group(1))

    shown = [first.group(1)]
    for _ in range(500):
        found = banner.search(browser.page(f"{desk_path}/desk").text)
        if found is None:
            break
        shown.append(found.group(1))
    assert len(shown) > 3 and shown == sorted(shown), shown  # step by step, in order
    page = browser.page(desk_path).text
    assert "Catching up" not in page and "every 2s" not in page
    assert {t["subject"] for t in drill.tickets()} == {"外卖超时", "Question", "Unsafe driver"}
    # The ticket's view, asked whether it changed, is redrawn once the drill is caught up.
    view = browser.page(f"{desk_path}/tickets/{key}/view?seen={seen.group(1)}")
    assert view.status_code == 200 and "Catching up" not in view.text
    assert "every 2s" not in view.text
    assert browser.act(drill.id, key, "claim").status_code == 200
    assert "Catching up" not in browser.page(f"{desk_path}/debrief").text


def test_a_ticket_view_that_says_the_drill_is_catching_up_follows_the_moment(
    app: Any, factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A closed ticket's view, asked every 2 s whether it changed while the drill catches
    up, is redrawn when the moment recorded up to moves on, not only when the ticket does."""
    from deskdrill.sla import catch_up
    from deskdrill.web import workspace
    from tests.test_scenario_drills import ScenarioDrill

    monkeypatch.setattr(workspace, "PAGE_WAIT", 0.0)  # a stretch per page read ...
    monkeypatch.setattr(catch_up, "TRANSACTION_BUDGET", 0.0)  # ... and a round per stretch
    drill = ScenarioDrill(factory)
    agent = drill.people[0]
    drill.start()
    key = drill.answer_the_question(agent)
    drill.close_the_question(agent, key)
    drill.jump(2 * 60)
    # Rated (the API's read catches up in full): nothing more happens to the ticket.
    assert drill.detail(key)["trail"][-1]["type"] == "customer_rating"
    browser = _browser(app, agent)
    drill.jump(60 * 60)
    banner = re.compile(r"Catching up after a clock jump: everything before ([\d:\- ]{14}) ")
    view = f"/drills/{drill.id}/tickets/{key}/view"

    def read(path: str) -> tuple[str, str]:
        text = browser.page(path).text
        found, seen = banner.search(text), re.search(r"/view\?seen=([\w-]+)", text)
        return (found.group(1) if found else ""), (seen.group(1) if seen else "")

    moment, seen = read(f"/drills/{drill.id}/tickets/{key}")
    assert moment and seen
    later = moment
    for _ in range(50):  # the desk's reads take the catch-up on
        later, _ = read(f"/drills/{drill.id}/desk")
        if later > moment:
            break
    assert later > moment
    redrawn = browser.page(f"{view}?seen={seen}")
    assert redrawn.status_code == 200
    again, mark = read(f"{view}?seen={seen}")
    assert again >= later and mark != seen
    assert browser.page(f"{view}?seen={mark}").status_code in (200, 204)
