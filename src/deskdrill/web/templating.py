"""The Jinja2 environment of the pages: autoescaped, with gettext and a few filters."""

from __future__ import annotations

from contextvars import ContextVar
from datetime import UTC, datetime, tzinfo
from typing import Any

from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape

from deskdrill.paths import resource_dir
from deskdrill.web import i18n
from deskdrill.web.checks import check_text
from deskdrill.web.domain_text import domain_text
from deskdrill.web.scenario_text import scenario_text

# The zone a page shows its drill's times in (the drill's own: its scenario's start, or
# its business hours), set while the page's context is put together.
display_zone: ContextVar[tzinfo] = ContextVar("deskdrill_display_zone", default=UTC)


def _clock(moment: datetime | None) -> str:
    """A simulated moment as the desk shows it: day and time to the second."""
    if moment is None:
        return "—"
    return moment.astimezone(display_zone.get()).strftime("%m-%d %H:%M:%S")


def _iso(moment: datetime | None) -> str:
    """For data attributes read by the page's script (milliseconds, UTC)."""
    if moment is None:
        return ""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def age(since: datetime | None, now: datetime | None) -> str:
    """How long a ticket has waited, as a desk shows it: 45s, 12m, 1h 05m, 2d 3h."""
    if since is None or now is None:
        return "—"
    seconds = max(0, int((now - since).total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


def duration(seconds: int) -> str:
    """A countdown: m:ss, or h:mm:ss from an hour on (the same as the page's script)."""
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _money(amount: Any) -> str:
    return f"¥{amount:,.2f}" if amount is not None else "—"


def drill_title(drill: Any) -> str:
    """The drill's title in the reader's language (a scenario's drill has both)."""
    titles = (drill.settings or {}).get("titles") or {}
    return str(titles.get(i18n.current()) or drill.title)


def build_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(resource_dir("web") / "templates")),
        autoescape=select_autoescape(["html", "xml"], default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(i18n._, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(
        clock=_clock,
        iso=_iso,
        money=_money,
        word=i18n.word,
        age=age,
        duration=duration,
        check=check_text,
        domain=domain_text,
        scenario_text=scenario_text,
    )
    env.globals.update(
        languages=i18n.LANGUAGES, current_language=i18n.current, drill_title=drill_title
    )
    return env


templates = Jinja2Templates(env=build_environment())
