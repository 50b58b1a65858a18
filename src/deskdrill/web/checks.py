"""The debrief's check names and details, which the scoring writes in English with their
values inside, in the reader's language."""

from __future__ import annotations

import re

from deskdrill.web.i18n import _, word
from deskdrill.web.vocabulary import N_

# A message's %(action)s and %(tier)s take the translated word; the others the value.
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"escalate to (?P<tier>\w+) within (?P<limit>.+)"),
     N_("escalate to %(tier)s within %(limit)s")),
    (re.compile(r"refund at most (?P<amount>[\d.]+)"), N_("refund at most %(amount)s")),
    (re.compile(r"resolved within (?P<limit>.+)"), N_("resolved within %(limit)s")),
    (re.compile(r"did: (?P<action>.+)"), N_("did: %(action)s")),
    (re.compile(r"escalated: (?P<when>.+)"), N_("escalated: %(when)s")),
    (re.compile(r"refunded (?P<amount>[\d.]+)"), N_("refunded %(amount)s")),
    # what the customer was owed and did not get (simulation.outcomes.shortfalls)
    (re.compile(r"refund (?P<got>[\d.]+) of (?P<owed>[\d.]+)"),
     N_("refund %(got)s of %(owed)s")),
    (re.compile(r"coupon (?P<got>[\d.]+) of (?P<owed>[\d.]+)"),
     N_("coupon %(got)s of %(owed)s")),
    (re.compile(r"order action (?P<action>\w+)"), N_("order action %(action)s")),
]  # fmt: skip
_FIXED = {
    N_("greeting macro opens the first reply"), N_("closing macro ends the last reply"),
    N_("no forbidden phrase"), N_("what the customer was owed"), N_("done"), N_("not done"),
    N_("used"), N_("none used"), N_("given in full"), N_("not resolved"), N_("never"),
    N_("counterfeit compensation"),
}  # fmt: skip
_MINUTES = N_("min")
_DURATION = re.compile(r"[\d.]+ min")


def check_text(text: str) -> str:
    """``text`` translated where it is one of the scoring's phrases; else as it is."""
    if text in _FIXED:
        return _(text)
    if "; " in text:  # several shortfalls, each told on its own
        return "; ".join(check_text(part) for part in text.split("; "))
    for pattern, message in _PATTERNS:
        found = pattern.fullmatch(text)
        if found is None:
            continue
        values = found.groupdict()
        for name in ("action", "tier"):
            if name in values:
                values[name] = word(values[name].replace(" ", "_"))
        for name in ("limit", "when"):
            if name in values:
                values[name] = values[name].replace(" min", " " + _(_MINUTES))
        return _(message) % values
    if _DURATION.fullmatch(text):  # how long it took ("escalated: 12.5 min" without the head)
        return text.replace(" min", " " + _(_MINUTES))
    return text
