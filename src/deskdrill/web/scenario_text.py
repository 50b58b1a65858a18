"""A scenario file's problems, which the validator writes in English, in the reader's
language on the pages and with ``--lang zh`` on the command line.

The validator's sentences (YAML syntax and limits, missing and unknown keys, values of the
wrong shape or out of bounds, unknown or repeated ids, the rules of orders, expectations,
generators, bots and SLA policies) are matched here and told again from the catalog, with
the file's own words (keys, ids, values) kept as written. What other libraries say inside
them (PyYAML's description of a syntax error, Python's of an impossible date) stays as
they wrote it, and so does a sentence not matched here.
"""

from __future__ import annotations

import re

from deskdrill.web.i18n import _
from deskdrill.web.retell import retell
from deskdrill.web.vocabulary import N_

# What a value was expected to be, as the validator says it after "expected".
_SHAPES = {
    N_("a whole number"),
    N_("a number, such as 12 or 12.50"),
    N_("true or false"),
    N_("text"),
    N_("a list ('- item' lines, or [a, b])"),
    N_("a duration with units, such as 45s, 5m, 1h30m or 2d"),
    N_("a text, or one per language ({zh: ..., en: ...})"),
    N_("a date and time, such as 2026-03-06T09:00:00+08:00"),
    N_("a date and time with its offset from UTC, such as 2026-03-06T17:30:00+08:00"),
    N_("a mapping (key: value)"),
    N_("a finite number, such as 12 or 12.50"),
    N_("a real date, or date and time, such as 2026-03-06 or 2026-03-06T09:00:00+08:00"),
    N_("a time of day, such as 09:00 or 18:30"),
    N_("minutes (such as 30) or a duration with units (such as 45s, 5m or 1h30m)"),
    # the text patterns (scenarios.load.PATTERNS)
    N_("an id of letters, digits, '_', '.' and '-' that begins with a letter or digit"),
    N_("a phone number: 5 to 31 digits, spaces or '-', after an optional '+'"),
    N_("an email address, such as name@example.com"),
    N_("a currency code of three capital letters, such as CNY"),
    N_("a time of day as HH:MM, such as 09:30"),
    N_("a time of day as HH:MM, such as 09:30, or 24:00"),
}
# Shapes with a bound inside (scenarios.load._BOUNDS).
_BOUNDED: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"at least (?P<n>\d+) items?"), N_("at least %(n)s items")),
    (re.compile(r"at most (?P<n>\d+) items?"), N_("at most %(n)s items")),
    (re.compile(r"text of at least (?P<n>\d+) characters?"),
     N_("text of at least %(n)s characters")),
    (re.compile(r"text of at most (?P<n>\d+) characters?"), N_("text of at most %(n)s characters")),
    (re.compile(r"a number of at most (?P<n>\d+) digits"), N_("a number of at most %(n)s digits")),
    (re.compile(r"at most (?P<n>\d+) decimal places?"), N_("at most %(n)s decimal places")),
    (re.compile(r"a value of at least (?P<n>\S+)"), N_("a value of at least %(n)s")),
    (re.compile(r"a value above (?P<n>\S+)"), N_("a value above %(n)s")),
    (re.compile(r"a value of at most (?P<n>\S+)"), N_("a value of at most %(n)s")),
    (re.compile(r"a value below (?P<n>\S+)"), N_("a value below %(n)s")),
    (re.compile(r"a mapping \(key: value\) with keys such as: (?P<n>.+)"),
     N_("a mapping (key: value) with keys such as: %(n)s")),
]  # fmt: skip


def _re(pattern: str) -> re.Pattern[str]:
    """``pattern``, with each quoted value ('[^']*') quoted either way, as repr() does: in
    double quotes when it holds a single one."""
    return re.compile(pattern.replace("'[^']*'", r"""(?:'[^']*'|"[^"]*")"""))


# What an id names, in "no <what> with id ...".
_THINGS = {
    "persona": N_("persona"),
    "order": N_("order"),
    "third party": N_("third party"),
    "timeline ticket": N_("timeline ticket"),
    "macro": N_("macro"),
}
# A third party's kind, in "'x' is a merchant, not a courier".
_KINDS = {"merchant": N_("merchant"), "courier": N_("courier"), "driver": N_("driver")}

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (_re(r"required, but missing"), N_("required, but missing")),
    (_re(r"unknown key (?P<key>'[^']*') \(did you mean (?P<close>'[^']*')\?\); "
                r"expected one of: (?P<keys>.+)"),
     N_("unknown key %(key)s (did you mean %(close)s?); the keys here are: %(keys)s")),
    (_re(r"unknown key (?P<key>'[^']*'); expected one of: (?P<keys>.+)"),
     N_("unknown key %(key)s; the keys here are: %(keys)s")),
    (_re(r"unknown key (?P<key>'[^']*')"), N_("unknown key %(key)s")),
    (_re(r"expected (?P<shape>.+?), got (?P<given>.+)"),
     N_("expected %(shape)s, got %(given)s")),
    (_re(r"expected a mapping \(key: value\) with keys such as: (?P<keys>.+)"),
     N_("expected a mapping (key: value) with keys such as: %(keys)s")),
    (_re(r"expected a mapping \(key: value\)"), N_("expected a mapping (key: value)")),
    (_re(r"no (?P<thing>[a-z ]+) with id (?P<id>'[^']*') \(known: (?P<known>.*)\)"),
     N_("no %(thing)s with id %(id)s (known: %(known)s)")),
    (_re(r"id (?P<id>'[^']*') is used twice \(also (?P<where>.+)\)"),
     N_("id %(id)s is used twice (also %(where)s)")),
    (_re(r"(?P<id>'[^']*') is a (?P<kind>\w+), not a (?P<role>\w+)"),
     N_("%(id)s is a %(kind)s, not a %(role)s")),
    # The parser's own description stays as it wrote it; where it began and the likely
    # cause are told.
    (_re(r"YAML syntax: (?P<detail>.+?)"
                r"(?: \(it began at line (?P<line>\d+), column (?P<column>\d+)\))?"
                r"(?:; often (?P<cause>.+))?"),
     N_("YAML syntax: %(detail)s%(began)s%(cause)s")),
    (_re(r"duplicate key (?P<key>'[^']*') in (?P<inside>.+)"),
     N_("duplicate key %(key)s in %(inside)s")),
    (_re(r"duplicate key (?P<key>'[^']*')"), N_("duplicate key %(key)s")),
    (_re(r"the file is over (?P<most>[\d,]+) bytes, the most a scenario file may have"),
     N_("the file is over %(most)s bytes, the most a scenario file may have")),
    (_re(r"more than (?P<most>[\d,]+) aliases \(\*name\)"),
     N_("more than %(most)s aliases (*name)")),
    (_re(r"more than (?P<most>[\d,]+) values once aliases are expanded"),
     N_("more than %(most)s values once aliases are expanded")),
    (_re(r"nested deeper than (?P<most>\d+) levels"),
     N_("nested deeper than %(most)s levels")),
    (_re(r"tags such as (?P<tag>'[^']*') are not allowed"),
     N_("tags such as %(tag)s are not allowed")),
    (_re(r"at most (?P<days>\d+) days, got (?P<given>.+)"),
     N_("at most %(days)s days, got %(given)s")),
    (_re(r"an action takes at least 1s, got (?P<given>.+)"),
     N_("an action takes at least 1s, got %(given)s")),
    # orders, expectations and generators (scenarios.model, scenarios.references)
    (_re(r"(?P<limit>[-+\d.E]+) is less than the refund the customer is owed "
                r"\((?P<owed>[-+\d.E]+)\): no handling can meet both"),
     N_("%(limit)s is less than the refund the customer is owed (%(owed)s): no handling "
        "can meet both")),
    (_re(r"(?P<owed>[-+\d.E]+) is more than order (?P<order>'[^']*') was paid "
                r"\((?P<paid>[-+\d.E]+)\)"),
     N_("%(owed)s is more than order %(order)s was paid (%(paid)s)")),
    (_re(r"order (?P<order>'[^']*') belongs to (?P<owner>'[^']*'), not "
                r"(?P<persona>'[^']*')"),
     N_("order %(order)s belongs to %(owner)s, not %(persona)s")),
    (_re(r"amount (?P<amount>[-+\d.E]+) is more than the items' total (?P<total>[-+\d.E]+)"),
     N_("amount %(amount)s is more than the items' total %(total)s")),
    (_re(r"needs at least one macro of kind (?P<kind>'[^']*')"),
     N_("needs at least one macro of kind %(kind)s")),
    (_re(r"up to (?P<expected>[\d,]+) generated tickets; a scenario may have at most "
                r"(?P<most>[\d,]+) \(lower per_hour, the profile factors or the duration\)"),
     N_("up to %(expected)s generated tickets; a scenario may have at most %(most)s (lower "
        "per_hour, the profile factors or the duration)")),
    (_re(r"no SLA policy named (?P<name>'[^']*'); shipped: (?P<shipped>.+)"),
     N_("no SLA policy named %(name)s; shipped: %(shipped)s")),
    (_re(r"unknown placeholder (?P<name>\{[^{}]*\}) in (?P<language>zh|en); "
                r"known: (?P<known>.+)"),
     N_("unknown placeholder %(name)s in %(language)s; known: %(known)s")),
    # headless.agents and the SLA limits (scenarios.model)
    (_re(r"(?P<part>'[^']*'): an empty entry between commas"),
     N_("%(part)s: an empty entry between commas")),
    (_re(r"(?P<part>'[^']*'): agents are careful \(or bot\) and sloppy"),
     N_("%(part)s: agents are careful (or bot) and sloppy")),
    (_re(r"(?P<part>'[^']*'): the count must be a whole number from 1 to (?P<most>\d+)"),
     N_("%(part)s: the count must be a whole number from 1 to %(most)s")),
    (_re(r"(?P<part>'[^']*'): unknown tier (?P<tier>'[^']*') \(tiers: (?P<tiers>.+)\)"),
     N_("%(part)s: unknown tier %(tier)s (tiers: %(tiers)s)")),
    (_re(r"unknown levels? (?P<unknown>.+); levels: (?P<levels>.+)"),
     N_("unknown level %(unknown)s; levels: %(levels)s")),
    # a policy of the scenario's own (sla.policy, sla.calendar)
    (_re(r"unknown day (?P<day>'[^']*'); days are (?P<days>.+)"),
     N_("unknown day %(day)s; days are %(days)s")),
    (_re(r"unknown time zone (?P<zone>'[^']*') \(e\.g\. Asia/Shanghai, UTC\)"),
     N_("unknown time zone %(zone)s (e.g. Asia/Shanghai, UTC)")),
    (_re(r"targets are missing for (?P<missing>.+)"), N_("targets are missing for %(missing)s")),
    (_re(r"(?P<where>by_\w+\.[^:]+): unknown priority (?P<unknown>.+)"),
     N_("%(where)s: unknown priority %(unknown)s")),
    (_re(r"business_hours: a target of (?P<minutes>[\d.]+) minutes needs more open time than "
         r"the calendar has in (?P<days>\d+) days; open more days or hours, or shorten the "
         r"targets"),
     N_("business_hours: a target of %(minutes)s minutes needs more open time than the "
        "calendar has in %(days)s days; open more days or hours, or shorten the targets")),
    # the file as a whole (scenarios.load, scenarios.yamlsafe); PyYAML's words stay
    (_re(r"unreadable value: (?P<reason>.+)"), N_("unreadable value: %(reason)s")),
    (_re(r"unreadable key: (?P<reason>.+)"), N_("unreadable key: %(reason)s")),
    (_re(r"(?P<value>'[^']*') cannot be read as (?P<tag>!!\w+)"),
     N_("%(value)s cannot be read as %(tag)s")),
    (_re(r"expected a mapping of keys \((?P<keys>.+), \.\.\.\) at the top"),
     N_("expected a mapping of keys (%(keys)s, ...) at the top")),
    (_re(r"the file is (?P<size>[\d,]+) bytes; scenario files may have at most (?P<most>[\d,]+)"),
     N_("the file is %(size)s bytes; scenario files may have at most %(most)s")),
    # a shape alone, when the value given is a list or a mapping
    (_re(r"expected (?P<shape>.+)"), N_("expected %(shape)s")),
]  # fmt: skip
_FIXED = {
    N_("the file is empty"),
    N_("the file is not UTF-8 text"),
    N_("a key must be plain text"),
    N_("merge keys (<<) are not supported"),
    N_("after the end of the scenario (its duration)"),
    N_("give the text in zh, en or both"),
    N_("a scenario needs a timeline, generators, or both"),
    N_("must come after start"),
    N_("expected a duration longer than 0s, such as 30s or 5m"),
    N_("fresh ride orders need a driver in third_parties"),
    N_("the lower bound is above the upper one"),
    N_("list at least one category"),
    N_("a ride needs a driver"),
    N_("name at least one agent, e.g. careful:4"),
    N_("opens and closes are local times, without a zone"),
    N_("the desk must open before it closes (opens < closes)"),
    N_("a goods or food order needs at least one item"),
    N_("an expectation applies to either a ticket or a category"),
    N_("escalate_to and escalate_within go together"),
    N_("an incident rule applies to either a ticket or a category"),
}


def _shape(text: str) -> str:
    """One shape, or several ("a whole number, or 'full'"); a list of allowed values
    ("'pull', 'round_robin' or 'skill_based'") keeps its values."""
    if text in _SHAPES:  # some shapes hold ", or " themselves
        return _(text)
    return _(", or ").join(_one_shape(part) for part in text.split(", or "))


def _one_shape(text: str) -> str:
    told = retell(text, _SHAPES, _BOUNDED, _as_written)
    return told if told != text else text.replace(" or ", _(" or "))


def _as_written(_values: dict[str, str]) -> None:
    """A bound is a number or a list of keys: nothing in it to translate."""


# A quoted value of the file's (passed over whole) or the "; " between two sentences.
_QUOTED_OR_BREAK = re.compile(r"""'[^']*'|"[^"]*"|; """)


def _sentences(text: str) -> list[str]:
    """``text`` split at each "; " that is not inside a quoted value."""
    parts, start = [], 0
    for found in _QUOTED_OR_BREAK.finditer(text):
        if found.group() == "; ":
            parts.append(text[start : found.start()])
            start = found.end()
    return [*parts, text[start:]]


def scenario_text(text: str) -> str:
    """``text``, a problem the validator found, in the reader's language where it is one
    of the sentences above."""
    parts = _sentences(text)
    if len(parts) > 1 and all(p.startswith("expected ") for p in parts):
        # a value that fails each shape it may take, each said in full
        return _("; ").join(retell(part, _FIXED, _PATTERNS, _words) for part in parts)
    return retell(text, _FIXED, _PATTERNS, _words)


def _words(values: dict[str, str]) -> None:
    if "detail" in values:  # a YAML syntax error
        line, column = values.pop("line"), values.pop("column")
        began = _(" (it began at line %(line)s, column %(column)s)")
        values["began"] = began % {"line": line, "column": column} if line else ""
        cause = values["cause"]
        values["cause"] = _("; often %(cause)s") % {"cause": _(cause)} if cause else ""
    if "shape" in values:
        shape = _shape(values["shape"])
        # "应为 'full'": a space between the Chinese and a value of the file's, as before
        # the value given; none before a shape told in Chinese ("应为整数").
        values["shape"] = f" {shape}" if shape[:1].isascii() else shape
    if "thing" in values:
        values["thing"] = _(_THINGS.get(values["thing"], values["thing"]))
    for name in ("kind", "role"):
        if name in values:
            values[name] = _(_KINDS.get(values[name], values[name]))
