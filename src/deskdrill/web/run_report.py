"""The standalone HTML page of a headless run's report (one file, charts inline)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from deskdrill.paths import resource_dir
from deskdrill.web import charts, i18n
from deskdrill.web.checks import check_text
from deskdrill.web.i18n import _, word

LABELS = {
    "en": {
        "report": "Headless run",
        "seed": "seed",
        "digest": "trail digest",
        "agents": "agents",
        "summary": "Summary",
        "tickets": "Tickets",
        "events": "Trail events",
        "first_response": "First response met",
        "resolution": "Resolution met",
        "score": "Score",
        "csat": "Mean rating (1-5)",
        "wall": "Wall time",
        "speedup": "Simulated / wall",
        "backlog": "Open backlog over time",
        "queue_wait": "Queue wait before the first claim",
        "mean": "Mean",
        "share_waiting": "Never claimed",
        "utilisation": "Agent utilisation",
        "sla": "SLA breaches by timer",
        "attainment": "SLA attainment",
        "by_expectation": "Score by expectation",
        "applies_to": "Applies to",
        "checks": "Checks and evidence",
        "ticket": "Ticket",
        "check": "Check",
        "result": "Result",
        "evidence": "Evidence (trail events)",
        "passed": "✓",
        "failed": "✗",
    },
    "zh": {
        "report": "无人值守演练",
        "seed": "随机种子",
        "digest": "轨迹摘要",
        "agents": "坐席",
        "summary": "概要",
        "tickets": "工单",
        "events": "轨迹事件",
        "first_response": "首次响应达标率",
        "resolution": "解决时效达标率",
        "score": "得分",
        "csat": "平均满意度（1-5）",
        "wall": "实际用时",
        "speedup": "模拟时间 / 实际时间",
        "backlog": "未结工单随时间变化",
        "queue_wait": "首次认领前的排队时间",
        "mean": "平均",
        "share_waiting": "始终无人认领",
        "utilisation": "坐席利用率",
        "sla": "各计时器的 SLA 违约数",
        "attainment": "SLA 达标率",
        "by_expectation": "按考核项得分",
        "applies_to": "适用于",
        "checks": "检查项与证据",
        "ticket": "工单",
        "check": "检查项",
        "result": "结果",
        "evidence": "证据（轨迹事件）",
        "passed": "✓",
        "failed": "✗",
    },
}


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}%"


def _minutes(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds / 60:.1f} {_('min')}"


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def render(report: dict[str, Any], lang: str = "en") -> str:
    """The page in ``lang``: its labels, and the scoring's check names and details and
    the data's words (timers, actions, categories) as the debrief shows them."""
    with i18n.speaking("zh" if lang == "zh" else "en"):
        return _render(report, lang)


def _render(report: dict[str, Any], lang: str) -> str:
    t = LABELS["zh" if lang == "zh" else "en"]
    sla = report["sla"]
    attained = [
        (t[key], float(sla[f"{key}_attainment"]))
        for key in ("first_response", "resolution")
        if sla[f"{key}_attainment"] is not None
    ]
    # Times on the axis in the scenario's own zone, as its trainers plan them (a dinner
    # peak at 18:00 in Shanghai, not at 10:00 UTC).
    start = report["scenario"].get("start")
    zone = datetime.fromisoformat(start).tzinfo if start else UTC
    backlog = [
        (datetime.fromisoformat(p["sim_at"]).astimezone(zone).strftime("%H:%M"), float(p["open"]))
        for p in report["sla"]["backlog"]
    ]
    util = [(u["agent"], float(u["share"] or 0)) for u in report["utilisation"]]
    breaches = sorted(report["sla"]["breaches_by_timer"].items())
    by_exp = [
        (
            f"#{r['expectation'] + 1}",
            round(100 * r["earned"] / r["points"], 1) if r["points"] else 0.0,
        )
        for r in report["score"]["by_expectation"]
    ]
    figures = {
        "backlog": charts.line(t["backlog"], backlog),
        "utilisation": charts.bars(t["utilisation"], util, top_value=100, unit="%"),
        "attainment": charts.bars(t["attainment"], attained, top_value=100, unit="%"),
        "breaches": charts.bars(
            t["sla"], [(word(k), float(v)) for k, v in breaches], color="#dc2626"
        ),
        "expectations": charts.bars(t["by_expectation"], by_exp, top_value=100, unit="%"),
    }
    env = Environment(
        loader=FileSystemLoader(str(resource_dir("web") / "templates")),
        autoescape=select_autoescape(["html"]),
    )
    template = env.get_template("reports/run.html")
    return template.render(
        report=report,
        t=t,
        lang="zh" if lang == "zh" else "en",
        charts=figures,
        pct=_pct,
        check=check_text,
        word=word,
        minutes=_minutes,
        num=_num,
    )
