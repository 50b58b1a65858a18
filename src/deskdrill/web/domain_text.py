"""The refusals a trainee meets on the pages, which the domain writes in English with its
values inside, in the reader's language.

The domain stays free of the web's catalogs: each sentence it writes is matched here and
told again from the catalog, with its words (statuses, actions) translated and its values
(ticket keys, amounts, names) kept. A sentence with no pattern here is shown as written.
"""

from __future__ import annotations

import re

from deskdrill.web.i18n import _, word
from deskdrill.web.retell import retell
from deskdrill.web.vocabulary import N_

_WORDS = ("action", "status", "kind", "tier", "role")  # values that are words of the vocabulary

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # tickets.lifecycle: a step its status does not allow
    (re.compile(r"cannot (?P<action>[\w ]+) a ticket that is (?P<status>\w+)"
                r"(?:; (?P<hint>[^.]+))?\. From \w+ the next steps are: (?P<options>.+)"),
     N_("cannot %(action)s a ticket that is %(status)s%(hint)s. The next steps from "
        "there are: %(options)s")),
    # tickets.recording.authorize
    (re.compile(r"only trainers and admins may (?P<action>[\w ]+)"),
     N_("only trainers and admins may %(action)s")),
    (re.compile(r"claim ticket (?P<key>\S+) first: only its assignee \(or a trainer\) may "
                r"(?P<action>[\w ]+)"),
     N_("claim ticket %(key)s first: only its assignee (or a trainer) may %(action)s")),
    (re.compile(r"ticket (?P<key>\S+) is assigned to someone else; only they or a trainer "
                r"can change it"),
     N_("ticket %(key)s is assigned to someone else; only they or a trainer can change it")),
    # tickets.service: claiming
    (re.compile(r"you already hold ticket (?P<key>\S+)"), N_("you already hold ticket %(key)s")),
    (re.compile(r"ticket (?P<key>\S+) was already claimed by (?P<who>.+)"),
     N_("ticket %(key)s was already claimed by %(who)s")),
    (re.compile(r"ticket (?P<key>\S+) is not assigned to anyone"),
     N_("ticket %(key)s is not assigned to anyone")),
    (re.compile(r"ticket (?P<key>\S+) is already (?P<priority>P\d)"),
     N_("ticket %(key)s is already %(priority)s")),
    # simulation.hooks: an incident's report comes first
    (re.compile(r"ticket (?P<key>\S+) is a major incident: file the incident report first "
                r"\(.*\)"),
     N_("ticket %(key)s is a major incident: file the incident report first")),
    # tickets.compensation
    (re.compile(r"(?P<what>.+) needs an order on the ticket; ticket (?P<key>\S+) has none"),
     N_("%(what)s needs an order on the ticket; ticket %(key)s has none")),
    (re.compile(r"refund of (?P<amount>[\d.]+) exceeds what is left to refund on order "
                r"(?P<order>\S+): (?P<paid>[\d.]+) paid, (?P<refunded>[\d.]+) already "
                r"refunded, (?P<waiting>[\d.]+) awaiting approval \(at most (?P<left>[\d.]+) "
                r"more\)"),
     N_("refund of %(amount)s exceeds what is left to refund on order %(order)s: %(paid)s "
        "paid, %(refunded)s already refunded, %(waiting)s awaiting approval (at most "
        "%(left)s more)")),
    (re.compile(r"a (?P<kind>\w+) needs an amount"), N_("a %(kind)s needs an amount")),
    (re.compile(r"counterfeit compensation needs a counterfeit finding for item "
                r"(?P<sku>'[^']*') on this ticket first"),
     N_("counterfeit compensation needs a counterfeit finding for item %(sku)s on this "
        "ticket first")),
    (re.compile(r"compensation (?P<number>\d+) is (?P<status>\w+); only requested ones can "
                r"be approved or rejected"),
     N_("compensation %(number)s is %(status)s; only requested ones can be approved or "
        "rejected")),
    (re.compile(r"(?P<kind>\w+) of (?P<amount>[\d.]+) is above your approval limit; it needs "
                r"someone with a higher limit"),
     N_("%(kind)s of %(amount)s is above your approval limit; it needs someone with a "
        "higher limit")),
    (re.compile(r"a request by (?P<who>\S+) is decided by a higher role or tier .*"),
     N_("a request by %(who)s is decided by a higher role or tier (L1 < L2 < supervisor / "
        "incident desk < trainer < admin)")),
    (re.compile(r"order (?P<order>\S+) is (?P<status>\w+); (?P<action>\w+) is only possible "
                r"before it ships .*"),
     N_("order %(order)s is %(status)s; %(action)s is only possible before it ships (use a "
        "return authorisation or reship instead)")),
    (re.compile(r"order (?P<order>\S+) is (?P<status>\w+); (?P<action>\w+) needs a delivered "
                r"order"),
     N_("order %(order)s is %(status)s; %(action)s needs a delivered order")),
    # drills and a new drill's form (web.new_drill)
    (re.compile(r"a drill named (?P<name>'[^']*') already exists"),
     N_("a drill named %(name)s already exists")),
    (re.compile(r"no user named (?P<name>'[^']*')"), N_("no user named %(name)s")),
    (re.compile(r"(?P<name>'[^']*') is on the roster twice"),
     N_("%(name)s is on the roster twice")),
    (re.compile(r"(?P<name>'[^']*') is a (?P<role>\w+), not a trainee"),
     N_("%(name)s is a %(role)s, not a trainee")),
    (re.compile(r"(?P<name>'[^']*') is a built-in bot, not a person"),
     N_("%(name)s is a built-in bot, not a person")),
    (re.compile(r"the drill's name is 2 to 128 lower-case letters, digits, - and _, "
                r"starting with a letter or digit, got (?P<name>.+)"),
     N_("the drill's name is 2 to 128 lower-case letters, digits, - and _, starting with a "
        "letter or digit, got %(name)s")),
    (re.compile(r"the seed is a whole number from 0 to (?P<most>\d+)"),
     N_("the seed is a whole number from 0 to %(most)s")),
]  # fmt: skip
_FIXED = {
    N_("QA reviewers have read-only access to tickets"),
    N_("you cannot approve or reject your own request"),
    N_("the drill is finished: its tickets stay as they were when it ended"),
    N_("a change of address needs the new address"),
    N_("counterfeit compensation names the item"),
    N_("the ticket was changed by someone else at the same moment; it has been reloaded"),
    N_("the drill is still catching up after a clock jump; try again in a moment"),
    N_("only trainers and admins start drills"), N_("choose a scenario"),
    N_("upload a scenario file or paste its text"), N_("choose a tier from the list"),
    # tickets.lifecycle's hints, told inside the sentence above
    N_("resolve it first"), N_("reopen it first"), N_("it is not waiting on anyone"),
    N_("it is closed already"),
}  # fmt: skip
# What tickets.compensation says needs an order; besides these, "a <order action>".
_NEEDING_AN_ORDER = {
    N_("a refund"), N_("counterfeit compensation"), N_("a finding about an item"),
}  # fmt: skip


def domain_text(text: str) -> str:
    """``text`` in the reader's language where it is one of the sentences above."""
    return retell(text, _FIXED, _PATTERNS, _words)


def _words(values: dict[str, str]) -> None:
    for name in _WORDS:
        if name in values:
            values[name] = word(values[name].replace(" ", "_"))
    if "what" in values:
        what = values["what"]
        values["what"] = _(what) if what in _NEEDING_AN_ORDER else word(what[2:])
    if values.get("who") == "someone else":
        values["who"] = _("someone else")
    if values.get("hint"):
        values["hint"] = _("; ") + _(values["hint"])
    if "options" in values:
        values["options"] = _(", ").join(
            word(o) if o != "nothing" else _("nothing") for o in values["options"].split(", ")
        )
