"""Cross-references of a scenario: every id it points at exists, and makes sense there.

Run after the models accept the file; each problem is (path in the file, message).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

from deskdrill.scenarios.model import Expectation, Order, Scenario, agent_groups

Found = tuple[tuple[str | int, ...], str]
MAX_ARRIVALS = 20_000


def _unique(items: Sequence[Any], where: str) -> Iterator[Found]:
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        if item.id in seen:
            yield (where, i, "id"), f"id {item.id!r} is used twice (also {where}[{seen[item.id]}])"
        seen.setdefault(item.id, i)


def _known(
    value: str | None, known: dict[str, Any], what: str, path: tuple[str | int, ...]
) -> Iterator[Found]:
    if value is not None and value not in known:
        listed = ", ".join(sorted(known)[:10]) or "none defined"
        yield path, f"no {what} with id {value!r} (known: {listed})"


def _refund_fits(expectation: Expectation, order: Order | None, i: int) -> Iterator[Found]:
    """The refund the customer is owed can be given, and without breaking the limit set
    beside it: an expectation nobody can meet only lowers every score."""
    owed = expectation.entitled.refund if expectation.entitled else None
    if owed == "full":
        owed = order.amount if order is not None else None
    if owed is None:
        return
    limit = expectation.max_refund
    if limit is not None and Decimal(owed) > Decimal(limit):
        yield (
            ("expectations", i, "max_refund"),
            f"{Decimal(limit):.2f} is less than the refund the customer is owed "
            f"({Decimal(owed):.2f}): no handling can meet both",
        )
    if order is not None and Decimal(owed) > order.amount:
        yield (
            ("expectations", i, "entitled", "refund"),
            f"{Decimal(owed):.2f} is more than order {order.id!r} was paid ({order.amount:.2f})",
        )


def _times(s: Scenario) -> Iterator[Found]:
    """Times to wait for or to meet are longer than 0s: at 0s a persona chases and gives
    up the moment the ticket arrives, and a deadline is missed before anyone can act.
    (Here, not in the models: a drill's stored scenario is read again by them, and a
    drill made before this rule must go on working.)"""
    longer = "expected a duration longer than 0s, such as 30s or 5m"
    zero = timedelta(0)
    for i, persona in enumerate(s.personas):
        if persona.patience <= zero:
            yield ("personas", i, "patience"), longer
    for i, expectation in enumerate(s.expectations):
        for name in ("escalate_within", "resolve_within"):
            value = getattr(expectation, name)
            if value is not None and value <= zero:
                yield ("expectations", i, name), longer
    for i, incident in enumerate(s.incidents):
        if incident.within <= zero:
            yield ("incidents", i, "within"), longer


def check(scenario: Scenario) -> list[Found]:
    return list(_check(scenario))


def _check(s: Scenario) -> Iterator[Found]:
    for where in ("personas", "third_parties", "orders", "articles", "macros", "timeline",
                  "generators"):  # fmt: skip
        yield from _unique(getattr(s, where), where)
    personas = {p.id: p for p in s.personas}
    parties = {t.id: t for t in s.third_parties}
    orders = {o.id: o for o in s.orders}
    tickets = {t.id: t for t in s.timeline}
    for i, order in enumerate(s.orders):
        yield from _known(order.customer, personas, "persona", ("orders", i, "customer"))
        for role in ("merchant", "courier", "driver"):
            ref = getattr(order, role)
            yield from _known(ref, parties, "third party", ("orders", i, role))
            if ref in parties and parties[ref].kind != role:
                yield (("orders", i, role),
                       f"{ref!r} is a {parties[ref].kind}, not a {role}")  # fmt: skip
    for i, ticket in enumerate(s.timeline):
        base = ("timeline", i)
        yield from _known(ticket.persona, personas, "persona", (*base, "persona"))
        yield from _known(ticket.order, orders, "order", (*base, "order"))
        order = orders.get(ticket.order or "")
        if order is not None and ticket.persona in personas and order.customer != ticket.persona:
            owner = f"belongs to {order.customer!r}, not {ticket.persona!r}"
            yield (*base, "order"), f"order {order.id!r} {owner}"
        if ticket.at > s.duration:
            yield (*base, "at"), "after the end of the scenario (its duration)"
        for j, fact in enumerate(ticket.facts):
            yield from _known(fact.revealed_by, parties, "third party",
                              (*base, "facts", j, "revealed_by"))  # fmt: skip
    for i, generator in enumerate(s.generators):
        end = generator.end if generator.end is not None else s.duration
        if generator.start >= end:
            yield ("generators", i, "end"), "must come after start"
        if end > s.duration:
            yield ("generators", i, "end"), "after the end of the scenario (its duration)"
        for j, template in enumerate(generator.templates):
            base = ("generators", i, "templates", j)
            for k, ref in enumerate(template.personas):
                yield from _known(ref, personas, "persona", (*base, "personas", k))
            for k, ref in enumerate(template.orders):
                yield from _known(ref, orders, "order", (*base, "orders", k))
            for k, fact in enumerate(template.facts):
                yield from _known(fact.revealed_by, parties, "third party",
                                  (*base, "facts", k, "revealed_by"))  # fmt: skip
            drivers = any(p.kind == "driver" for p in s.third_parties)
            if template.order_kind == "ride" and not template.orders and not drivers:
                yield (*base, "order_kind"), "fresh ride orders need a driver in third_parties"
            low, high = template.amount
            if low > high:
                yield (*base, "amount"), "the lower bound is above the upper one"
    expected = sum(
        g.per_hour
        * max([1.0, *(w.factor for w in g.profile)])
        * ((g.end if g.end is not None else s.duration) - g.start).total_seconds()
        / 3600
        for g in s.generators
    )
    if expected > MAX_ARRIVALS:
        yield (
            ("generators",),
            (
                f"up to {expected:,.0f} generated tickets; a scenario may have at most "
                f"{MAX_ARRIVALS:,} (lower per_hour, the profile factors or the duration)"
            ),
        )
    kinds = {m.kind for m in s.macros}
    for i, expectation in enumerate(s.expectations):
        yield from _known(expectation.ticket, tickets, "timeline ticket",
                          ("expectations", i, "ticket"))  # fmt: skip
        for flag in ("greeting", "closing"):
            if getattr(expectation, flag) and flag not in kinds:
                yield ("expectations", i, flag), f"needs at least one macro of kind {flag!r}"
        case = tickets.get(expectation.ticket or "")
        yield from _refund_fits(expectation, orders.get(case.order or "") if case else None, i)
    yield from _times(s)
    try:
        agent_groups(s.headless.agents)
    except ValueError as error:
        yield ("headless", "agents"), str(error)
    for i, incident in enumerate(s.incidents):
        yield from _known(incident.ticket, tickets, "timeline ticket", ("incidents", i, "ticket"))
    for person, categories in s.team.skills.items():
        if not categories:
            yield ("team", "skills", person), "list at least one category"
