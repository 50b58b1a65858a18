"""Standard replies: a drill's scenario macros (or the built-in set) with placeholders
filled from the ticket, in the agent's language, ready to edit before sending."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from deskdrill.scenarios.fields import Bilingual
from deskdrill.scenarios.model import PLACEHOLDERS, Macro, Scenario


def _macro(id_: str, kind: str, title: tuple[str, str], text: tuple[str, str]) -> Macro:
    return Macro(
        id=id_,
        kind=kind,  # type: ignore[arg-type]
        title=Bilingual(zh=title[0], en=title[1]),
        text=Bilingual(zh=text[0], en=text[1]),
    )


BUILT_IN = [
    _macro(
        "greeting",
        "greeting",
        ("问候", "Greeting"),
        (
            "您好{customer}，我是客服{agent}，很高兴为您服务。",
            "Hello {customer}, this is {agent} from customer service. I'm glad to help.",
        ),
    ),
    _macro(
        "checking",
        "solution",
        ("正在核实", "Checking"),
        (
            "关于订单{order}，我正在为您核实情况，请稍候。",
            "I'm looking into order {order} for you now; please bear with me a moment.",
        ),
    ),
    _macro(
        "transfer",
        "transfer",
        ("转交", "Transfer"),
        (
            "您的问题需要专门的同事处理，我已将工单{ticket}转交给他们，他们会尽快联系您。",
            "Your case needs a specialist colleague; I have passed ticket {ticket} to them "
            "and they will contact you shortly.",
        ),
    ),
    _macro(
        "closing",
        "closing",
        ("结束语", "Closing"),
        (
            "感谢您的耐心，如还有其他问题，欢迎随时联系我们。祝您生活愉快！",
            "Thank you for your patience. If there is anything else, just contact us. "
            "Have a good day!",
        ),
    ),
]


@dataclass(frozen=True)
class FilledMacro:
    id: str
    kind: str
    title: str
    text: str


def fill(text: str, values: Mapping[str, str]) -> str:
    """Replace the known placeholders; anything else in braces stays as written."""
    for name in PLACEHOLDERS:
        text = text.replace("{" + name + "}", values.get(name, ""))
    return text


def filled(
    scenario: Scenario | None, language: str, values: Mapping[str, str]
) -> list[FilledMacro]:
    macros = scenario.macros if scenario is not None and scenario.macros else BUILT_IN
    lang = "zh" if language == "zh" else "en"
    return [
        FilledMacro(
            id=m.id,
            kind=m.kind,
            title=str(getattr(m.title, lang)),
            text=fill(str(getattr(m.text, lang)), values),
        )
        for m in macros
    ]
