"""Reading a scenario file: safe YAML, the scenario models, then the cross-references.

Every problem names the file, line, column and field and says what was expected; all the
problems of a file are reported at once, never a traceback.
"""

from __future__ import annotations

import difflib
import threading
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from deskdrill.scenarios import references
from deskdrill.scenarios.model import Scenario
from deskdrill.scenarios.yamlsafe import Document, Limits, YamlError, field_name, load


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    column: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}:{self.column}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "column": self.column,
                "field": self.field, "message": self.message}  # fmt: skip


class ScenarioInvalid(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        # In the order of the file, as an author reads it (those with no place last).
        problems = sorted(problems, key=lambda p: (p.line is None, p.line or 0, p.column or 0))
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


M = typing.TypeVar("M", bound=BaseModel)


def validated(
    model: type[M], raw: bytes, source: str, limits: Limits | None = None
) -> tuple[M, Document]:
    """``raw`` (the bytes of file ``source``) read safely as a ``model``, with the places of
    its values; or ScenarioInvalid with every problem of the file. Scenario files and the
    run plans of headless runs are read so."""
    try:
        document = load(raw, limits)
    except YamlError as error:
        place, field = error.place, field_name(error.path)
        raise ScenarioInvalid(
            [Problem(source, place and place.line, place and place.column, field, error.message)]
        ) from None
    if not isinstance(document.data, dict):
        required = [k for k, f in model.model_fields.items() if f.is_required()]
        keys = ", ".join((required or list(model.model_fields))[:2])
        raise ScenarioInvalid(
            [Problem(source, 1, 1, "", f"expected a mapping of keys ({keys}, ...) at the top")]
        )
    try:
        return model.model_validate(document.data), document
    except ValidationError as error:
        raise ScenarioInvalid(_problems(error, document, source, model)) from None


def parse(raw: bytes, source: str, limits: Limits | None = None) -> Scenario:
    """The scenario in ``raw`` (the bytes of file ``source``), or ScenarioInvalid."""
    scenario, document = validated(Scenario, raw, source, limits)
    found = [
        problem_at(document, source, path, message) for path, message in references.check(scenario)
    ]
    if found:
        raise ScenarioInvalid(found)
    return scenario


# Reading a large file is a few seconds of Python, part of it in single calls that hold
# the interpreter (validating the whole model): several at once made every other request
# of a server process wait up to a second. One at a time, the others queue behind it.
_READING = threading.BoundedSemaphore(1)


def parse_in_turn(raw: bytes, source: str, limits: Limits | None = None) -> Scenario:
    """``parse``, one file at a time in the process: for a server's requests."""
    with _READING:
        return parse(raw, source, limits)


def read(path: Path, limits: Limits | None = None) -> Scenario:
    limits = limits or Limits()
    return parse(read_bytes(path, limits), str(path), limits)


def read_bytes(path: Path, limits: Limits) -> bytes:
    """The bytes of ``path``, refused (ScenarioInvalid) above the size limit before they
    are read, or when the file cannot be read."""
    source = str(path)
    try:
        size = path.stat().st_size
        if size > limits.max_bytes:
            message = f"the file is {size:,} bytes; scenario files may have at most "
            raise ScenarioInvalid(
                [Problem(source, None, None, "", f"{message}{limits.max_bytes:,}")]
            )
        return path.read_bytes()
    except OSError as error:
        raise ScenarioInvalid(
            [Problem(source, None, None, "", error.strerror or str(error))]
        ) from None


def problem_at(
    document: Document, source: str, path: tuple[str | int, ...], message: str, *, key: bool = False
) -> Problem:
    """A problem with the value at ``path`` of ``document``, at its line and column.
    ``key``: the problem is the key itself (one not allowed there), so its place is the
    key's rather than its value's."""
    place = document.keys.get(path) if key else None
    place = place or document.place(path)
    return Problem(source, place and place.line, place and place.column, field_name(path), message)


def _problems(
    error: ValidationError, document: Document, source: str, root: type[BaseModel]
) -> list[Problem]:
    found: list[tuple[tuple[str | int, ...], str, str]] = []
    for detail in error.errors(include_url=False):
        path = _data_path(document.data, detail["loc"], detail["type"])
        found.append((path, detail["type"], _message(detail, path, root)))
    # A value that may be one of several shapes (a policy's name or a whole policy) fails
    # each shape; when a deeper problem, or a rule of one shape broken, shows which shape
    # was meant, the others are noise.
    meant = {p[:i] for p, _, _ in found for i in range(len(p))}
    meant |= {p for p, kind, _ in found if kind == "value_error"}
    said: dict[tuple[tuple[str | int, ...], bool], list[str]] = {}
    for path, kind, message in found:
        if kind.endswith("_type") and path in meant:
            continue
        messages = said.setdefault((path, kind == "extra_forbidden"), [])
        if message not in messages:
            messages.append(message)
    problems = [
        problem_at(document, source, path, _either(messages), key=key)
        for (path, key), messages in said.items()
    ]
    # In the order of the file (stable: problems without a place keep theirs, at the end).
    return sorted(problems, key=lambda p: (p.line is None, p.line or 0, p.column or 0))


def _either(messages: list[str]) -> str:
    """One value that fails each shape it may take (a number, or 'full'), said once:
    'expected a number, such as 12 or 12.50, or 'full', got 'lots''."""
    if len(messages) == 1:
        return messages[0]
    # "expected <shape>, got <value>": the shape never holds ", got ", the value may.
    tails = {m.partition(", got ")[2] for m in messages}
    if len(tails) != 1 or not all(m.startswith("expected ") and ", got " in m for m in messages):
        return "; ".join(messages)
    shapes = [m.partition(", got ")[0].removeprefix("expected ") for m in messages]
    return f"expected {', or '.join(shapes)}, got {tails.pop()}"


def _data_path(data: Any, loc: tuple[Any, ...], kind: str) -> tuple[str | int, ...]:
    """The path in the file of an error's ``loc``, leaving out the names pydantic adds for
    the member of a union it tried (``str``, ``SlaPolicy``...)."""
    path: list[str | int] = []
    node = data
    for position, part in enumerate(loc):
        inside = (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        )
        if inside:
            node = node[part]
            path.append(part)
        elif kind == "missing" and position == len(loc) - 1 and isinstance(part, str):
            path.append(part)
    return tuple(path)


def _message(detail: Any, path: tuple[str | int, ...], root: type[BaseModel]) -> str:
    kind, message = detail["type"], detail["msg"]
    if kind == "extra_forbidden":
        allowed = _fields_at(path[:-1], root)
        text = f"unknown key {path[-1]!r}"
        if allowed:
            close = difflib.get_close_matches(str(path[-1]), allowed, n=1)
            if close:
                text += f" (did you mean {close[0]!r}?)"
            text += f"; expected one of: {', '.join(allowed)}"
        return text
    if kind == "missing":
        return "required, but missing"
    if kind == "value_error":
        return message.removeprefix("Value error, ")
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        keys = _fields_at(path, root)
        message = "expected a mapping (key: value)" + (
            f" with keys such as: {', '.join(keys)}" if keys else ""
        )
    elif kind in _BOUNDS:
        message = _BOUNDS[kind](detail.get("ctx") or {})
    else:
        message = _EXPECTED.get(kind) or _expected(message)
    given = detail.get("input")
    if not isinstance(given, dict | list):
        shown = repr(given.isoformat() if isinstance(given, date) else given)  # datetime too
        return f"{message}, got {shown if len(shown) <= 80 else shown[:77] + '...'}"
    return message


# Pydantic's wording of the common shapes, in the words a scenario's author uses.
_WHOLE = "expected a whole number"
_NUMBER = "expected a number, such as 12 or 12.50"
_EXPECTED = {
    "int_parsing": _WHOLE,
    "int_type": _WHOLE,
    "int_from_float": _WHOLE,
    "float_parsing": _NUMBER,
    "float_type": _NUMBER,
    "decimal_parsing": _NUMBER,
    "decimal_type": _NUMBER,
    "bool_parsing": "expected true or false",
    "bool_type": "expected true or false",
    "string_type": "expected text",
    "list_type": "expected a list ('- item' lines, or [a, b])",
    "tuple_type": "expected a list ('- item' lines, or [a, b])",
    "finite_number": "expected a finite number, such as 12 or 12.50",
    **dict.fromkeys(
        ("time_parsing", "time_type"), "expected a time of day, such as 09:00 or 18:30"
    ),
    **dict.fromkeys(
        ("datetime_parsing", "datetime_type", "datetime_from_date_parsing"),
        "expected a date and time, such as 2026-03-06T09:00:00+08:00",
    ),
}


def _bound(value: object) -> str:
    """A bound as its field's author wrote it: 600, not 600.0."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def _items(n: int, noun: str = "item") -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


# Sizes and values out of bounds, and text of the wrong form, from pydantic's context.
_BOUNDS: dict[str, Callable[[dict[str, Any]], str]] = {
    "too_short": lambda c: (
        f"expected at least {_items(c['min_length'])}, got {c.get('actual_length', 0)}"
    ),
    "too_long": lambda c: (
        f"expected at most {_items(c['max_length'])}, got {c.get('actual_length', 'more')}"
    ),
    "string_too_short": lambda c: (
        f"expected text of at least {_items(c['min_length'], 'character')}"
    ),
    "string_too_long": lambda c: f"expected text of at most {_items(c['max_length'], 'character')}",
    "decimal_max_digits": lambda c: f"expected a number of at most {c['max_digits']} digits",
    "decimal_max_places": lambda c: (
        f"expected at most {_items(c['decimal_places'], 'decimal place')}"
    ),
    "timezone_aware": lambda _c: (
        "expected a date and time with its offset from UTC, such as 2026-03-06T17:30:00+08:00"
    ),
    "greater_than_equal": lambda c: f"expected a value of at least {_bound(c['ge'])}",
    "greater_than": lambda c: f"expected a value above {_bound(c['gt'])}",
    "less_than_equal": lambda c: f"expected a value of at most {_bound(c['le'])}",
    "less_than": lambda c: f"expected a value below {_bound(c['lt'])}",
    "string_pattern_mismatch": lambda c: (
        "expected " + PATTERNS.get(c["pattern"], f"text matching {c['pattern']}")
    ),
}

# The text patterns of the scenario's fields, as an author reads them.
PATTERNS = {
    r"^[A-Za-z0-9][A-Za-z0-9_.-]*$": (
        "an id of letters, digits, '_', '.' and '-' that begins with a letter or digit"
    ),
    r"^\+?[0-9 -]{5,31}$": "a phone number: 5 to 31 digits, spaces or '-', after an optional '+'",
    r"^[^@\s]+@[^@\s]+$": "an email address, such as name@example.com",
    r"^[A-Z]{3}$": "a currency code of three capital letters, such as CNY",
    r"^([01]\d|2[0-3]):[0-5]\d$": "a time of day as HH:MM, such as 09:30",
    r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$": "a time of day as HH:MM, such as 09:30, or 24:00",
}


def _expected(message: str) -> str:
    """'Input should be less than 20' as 'expected less than 20'."""
    if message.startswith("Input should be "):
        return "expected " + message.removeprefix("Input should be ")
    return message


def _fields_at(path: tuple[str | int, ...], root: type[BaseModel]) -> list[str]:
    """The keys the model at ``path`` in a ``root`` accepts (empty if it cannot tell)."""
    annotation: Any = root
    for part in path:
        if isinstance(part, int):
            continue  # a list's item: _model looks inside list[...]
        mapping = _mapping_values(annotation)
        if mapping is not None:
            annotation = mapping  # a key of a dict[str, ...]
            continue
        model = _model(annotation)
        if model is None or part not in model.model_fields:
            return []
        annotation = model.model_fields[part].annotation
    found = _model(annotation)
    return list(found.model_fields) if found else []


def _mapping_values(annotation: Any) -> Any:
    """V of a ``dict[K, V]`` (possibly optional), else None."""
    if typing.get_origin(annotation) is dict:
        return typing.get_args(annotation)[1]
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        for arg in typing.get_args(annotation):
            if typing.get_origin(arg) is dict:
                return typing.get_args(arg)[1]
    return None


def _model(annotation: Any) -> type[BaseModel] | None:
    """The model inside an annotation such as ``list[Persona]`` or ``Entitlement | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is None and not isinstance(annotation, types.UnionType):
        return None
    for arg in typing.get_args(annotation):
        found = _model(arg)
        if found is not None:
            return found
    return None
