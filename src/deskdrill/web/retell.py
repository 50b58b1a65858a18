"""Sentences written in English with values inside, told again in the reader's language:
each is matched against patterns, and its values (named groups) are put into the
catalog's sentence, after ``adjust`` has translated those that are words."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence

from deskdrill.web.i18n import _, current

Patterns = Sequence[tuple[re.Pattern[str], str]]


def retell(
    text: str,
    fixed: Collection[str],
    patterns: Patterns,
    adjust: Callable[[dict[str, str]], None],
) -> str:
    """``text`` in the reader's language where it is one of ``fixed`` or matches one of
    ``patterns`` in full; otherwise as written."""
    if current() == "en":
        return text
    if text in fixed:
        return _(text)
    for pattern, message in patterns:
        found = pattern.fullmatch(text)
        if found is not None:
            values = {k: v or "" for k, v in found.groupdict().items()}
            adjust(values)
            return _(message) % values
    return text
