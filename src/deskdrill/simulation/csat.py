"""The simulated customer's satisfaction rating (1 to 5) when a ticket is closed.

The rule, applied to what happened (records and trail, not the tone of the words):

- start at 5;
- first response later than its target: -1;
- resolution later than its target: -1;
- each chase after the first: -1, at most -2;
- short of what the customer was entitled to (refund, coupon, order action): -2;
- a greeting or closing the scenario requires, missing: -1 each;
- a forbidden phrase in any reply: -2;
- the customer gave up (abandoned): 1 whatever else happened;
- never below 1.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from deskdrill.scenarios.model import Macro, Scenario
from deskdrill.simulation import outcomes
from deskdrill.simulation.models import ScenarioTicket
from deskdrill.tickets.models import Ticket


def _fixed_part(text: str, *, first: bool) -> str:
    """The words of a macro before its first placeholder (or after its last)."""
    parts = [p.strip() for p in text.replace("}", "{").split("{")[::2]]
    words = [p for p in parts if p]
    if not words:
        return ""
    return words[0] if first else words[-1]


def opens_with(body: str, macros: list[Macro]) -> bool:
    return any(
        (prefix := _fixed_part(getattr(m.text, lang), first=True))
        and body.strip().startswith(prefix)
        for m in macros
        for lang in ("zh", "en")
    )


def ends_with(body: str, macros: list[Macro]) -> bool:
    return any(
        (suffix := _fixed_part(getattr(m.text, lang), first=False))
        and body.strip().endswith(suffix)
        for m in macros
        for lang in ("zh", "en")
    )


def forbidden_used(replies: list[str], phrases: list[str]) -> list[str]:
    text = "\n".join(replies).casefold()
    return [p for p in phrases if p.casefold() in text]


def rate(
    session: Session, scenario: Scenario, ticket: Ticket, link: ScenarioTicket
) -> tuple[int, list[str]]:
    if "abandoned" in ticket.tags:
        return 1, ["the customer gave up waiting"]
    reasons: list[str] = []
    score = 5
    if ticket.first_response_due is not None and (
        ticket.first_response_at is None or ticket.first_response_at > ticket.first_response_due
    ):
        score -= 1
        reasons.append("first response late")
    due, done = ticket.resolution_due, ticket.resolved_at
    if due is not None and done is not None and done > due:
        score -= 1
        reasons.append("resolution late")
    if link.chases > 1:
        score -= min(2, link.chases - 1)
        reasons.append(f"chased {link.chases} times")
    expectations = outcomes.expectations_for(scenario, link, str(ticket.category))
    got = outcomes.outcome(session, ticket)
    owed = outcomes.entitlement(expectations)
    if owed is not None:
        missing = outcomes.shortfalls(owed, got, session, ticket)
        if missing:
            score -= 2
            reasons.append("short of what was owed: " + ", ".join(missing))
    greetings = [m for m in scenario.macros if m.kind == "greeting"]
    closings = [m for m in scenario.macros if m.kind == "closing"]
    if any(e.greeting for e in expectations) and not (
        got.replies and opens_with(got.replies[0], greetings)
    ):
        score -= 1
        reasons.append("no greeting")
    if any(e.closing for e in expectations) and not (
        got.replies and ends_with(got.replies[-1], closings)
    ):
        score -= 1
        reasons.append("no closing")
    phrases = [
        text for e in expectations for p in e.forbidden_phrases for text in (p.zh, p.en) if text
    ]
    used = forbidden_used(got.replies, list(dict.fromkeys(phrases)))
    if used:
        score -= 2
        reasons.append("forbidden phrase: " + ", ".join(used))
    return max(1, score), reasons or ["handled well"]
