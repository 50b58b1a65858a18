"""A trainer starts a drill from a scenario file in a real Chromium (the demo trainer reads
Chinese): a mistake in the file is shown by line and field, the fixed file makes the
drill, and its clock starts."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Browser, expect

from tests.browser.test_workspace import _login
from tests.support.server import Server
from tests.test_scenario_drills import scenario


def test_a_trainer_starts_a_drill_from_a_scenario_file(
    browser: Browser, demo_server: Server, screenshots: Path
) -> None:
    page = _login(browser, demo_server, "trainer", locale="zh-CN")
    page.get_by_role("link", name="从场景新建演练").click()
    page.wait_for_url("**/drills/new")
    page.locator("#name").fill("browser-first-drill")
    page.get_by_label("我自己的场景文件").check()
    page.locator("#yaml").fill(scenario().replace("personas:", "persona:"))
    page.get_by_label("trainee2 的层级").select_option("L2")
    for username in ("trainee1", "trainee2"):
        page.locator(f"input[name=trainee][value={username}]").check()
    page.get_by_role("button", name="创建演练").click()
    problems = page.locator("#problems")
    expect(problems).to_contain_text("第 8 行第 1 列")
    expect(problems).to_contain_text("未知的键 'persona'（是不是 'personas'？）")
    page.locator("#problems").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "new-drill.png"), full_page=False)
    # What was chosen is still chosen: fix the file and send the form again.
    expect(page.get_by_label("trainee2 的层级")).to_have_value("L2")
    expect(page.locator("input[name=trainee][value=trainee1]")).to_be_checked()
    page.locator("#yaml").fill(scenario())
    page.get_by_role("button", name="创建演练").click()
    page.wait_for_url(re.compile(r"/drills/\d+$"))
    expect(page.get_by_role("heading", name="测试")).to_be_visible()
    page.get_by_role("button", name="开始", exact=True).click()
    expect(page.locator(".clockbar")).to_contain_text("运行中", timeout=10_000)
    page.close()
