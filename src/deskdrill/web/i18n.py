"""UI text in English and Simplified Chinese from gettext catalogs (``web/locale``).

Templates and page code write English; ``web/locale/zh/LC_MESSAGES/messages.po`` holds the
Chinese. The catalog is compiled in memory when first used, so a checkout needs no build
step. The language of a request is chosen once (the user's setting, else a cookie, else the
browser's Accept-Language) and held in a context variable for the templates.
"""

from __future__ import annotations

import gettext
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from io import BytesIO

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from deskdrill.paths import resource_dir

LANGUAGES = {"en": "English", "zh": "简体中文"}
DEFAULT = "en"
_current: ContextVar[str] = ContextVar("deskdrill_language", default=DEFAULT)


def catalog_path(language: str) -> str:
    return str(resource_dir("web") / "locale" / language / "LC_MESSAGES" / "messages.po")


@lru_cache
def translations(language: str) -> gettext.NullTranslations:
    if language == DEFAULT or language not in LANGUAGES:
        return gettext.NullTranslations()
    with open(catalog_path(language), "rb") as source:
        catalog = read_po(source, locale="zh_Hans_CN" if language == "zh" else language)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def use(language: str) -> None:
    """Make ``language`` the one this request's text is in."""
    _current.set(language if language in LANGUAGES else DEFAULT)


def current() -> str:
    return _current.get()


@contextmanager
def speaking(language: str) -> Iterator[None]:
    """``language`` inside the block (a command, a report written in another language),
    the one before it after."""
    before = current()
    use(language)
    try:
        yield
    finally:
        use(before)


def _(message: str) -> str:
    return translations(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_current.get()).ngettext(singular, plural, n)


def word(value: object) -> str:
    """A value from the data (a status, a category ...) in the reader's language; English
    shows it with spaces for underscores."""
    text = str(value)
    translated = _(text)
    return translated.replace("_", " ") if translated == text else translated


def negotiate(accept_language: str | None) -> str:
    """The first of our languages in an Accept-Language header (zh-CN, zh-Hans, zh ...)."""
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return DEFAULT
