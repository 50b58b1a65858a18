"""The pages a newcomer opens first, in a real Chromium."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, expect

from tests.support.server import Server


def test_home_page_in_both_languages(
    browser: Browser, demo_server: Server, screenshots: Path
) -> None:
    page = browser.new_page(locale="zh-CN", viewport={"width": 1280, "height": 720})
    page.goto(demo_server.url + "/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_text("客服工单培训沙盘")).to_be_visible()
    page.screenshot(path=str(screenshots / "home-zh.png"))
    page.get_by_role("link", name="English").click()
    expect(page.get_by_text("A support-desk ticketing sandbox")).to_be_visible()
    page.close()


def test_api_docs_list_the_ticket_operations(
    browser: Browser, demo_server: Server, screenshots: Path
) -> None:
    page = browser.new_page(viewport={"width": 1240, "height": 900})
    page.goto(demo_server.url + "/docs")
    expect(page.get_by_text("/api/v1/tickets/{key}/claim").first).to_be_visible(timeout=15000)
    expect(page.get_by_text("/api/v1/tickets/{key}/trail/verify").first).to_be_visible()
    page.screenshot(path=str(screenshots / "api-docs.png"))
    page.close()


def test_a_headless_run_report_shows_its_charts(
    browser: Browser, screenshots: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from deskdrill.cli.main import app as cli

    out = tmp_path / "report"
    result = CliRunner().invoke(
        cli, ["scenario", "run", "food-dinner-peak", "--out", str(out), "--lang", "zh"]
    )
    assert result.exit_code == 0, result.output
    page = browser.new_page(locale="zh-CN", viewport={"width": 1100, "height": 1400})
    page.goto((out / "report.html").as_uri())
    expect(page.get_by_role("heading", name="外卖晚高峰：暴雨配送延误")).to_be_visible()
    expect(page.get_by_role("img", name="未结工单随时间变化")).to_be_visible()
    expect(page.get_by_role("img", name="坐席利用率")).to_be_visible()
    page.screenshot(path=str(screenshots / "run-report.png"), full_page=False)
    page.close()
