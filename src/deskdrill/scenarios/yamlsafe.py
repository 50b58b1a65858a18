"""YAML for scenario files: safe, bounded, and with the place of every value.

PyYAML's safe loader refuses object tags, but it bounds nothing: a few lines of nested
aliases expand to billions of values ("billion laughs"), and nesting or size has no limit.
So the text is composed into nodes by PyYAML, and deskdrill turns the nodes into plain
data itself, counting as it goes: file size, aliases, nesting depth and the number of
values after aliases expand are all capped. Duplicate keys are errors (YAML would keep
the last one silently). Every value's line and column is kept, keyed by its path, so
validation errors can point into the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 1024 * 1024
    max_aliases: int = 100
    max_depth: int = 32
    max_values: int = 200_000


@dataclass(frozen=True)
class Place:
    line: int  # 1-based
    column: int  # 1-based


class YamlError(ValueError):
    """A file that is not acceptable YAML; ``place`` says where, when known."""

    def __init__(self, message: str, place: Place | None = None, path: Path = ()) -> None:
        super().__init__(message)
        self.message = message
        self.place = place
        self.path = path  # of the value, when the problem is one value's


def field_name(path: Path) -> str:
    """``timeline[3].persona`` for ("timeline", 3, "persona")."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


@dataclass
class Document:
    data: Any
    places: dict[Path, Place] = field(default_factory=dict)
    keys: dict[Path, Place] = field(default_factory=dict)  # where each key is written

    def place(self, path: Path) -> Place | None:
        """The place of the value at ``path``, or of its nearest enclosing value."""
        for end in range(len(path), -1, -1):
            found = self.places.get(path[:end])
            if found is not None:
                return found
        return None


_PLAIN = ("tag:yaml.org,2002:seq", "tag:yaml.org,2002:map")
_SEXAGESIMAL = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_REAL_DATE = "a real date, or date and time, such as 2026-03-06 or 2026-03-06T09:00:00+08:00"


def _place(node: Node) -> Place:
    return Place(node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.values = 0
        self.places: dict[Path, Place] = {}
        self.keys: dict[Path, Place] = {}
        self.scalars = SafeConstructor()

    def build(self, node: Node, path: Path, depth: int) -> Any:
        self.values += 1
        if self.values > self.limits.max_values:
            raise YamlError(
                f"more than {self.limits.max_values:,} values once aliases are expanded",
                _place(node),
            )
        if depth > self.limits.max_depth:
            raise YamlError(f"nested deeper than {self.limits.max_depth} levels", _place(node))
        self.places.setdefault(path, _place(node))
        if isinstance(node, ScalarNode):
            if not node.style and node.tag in _SEXAGESIMAL and ":" in node.value:
                # YAML 1.1 reads 9:30 as 570 (base 60); an author means a time of day, so
                # it stays text, as YAML 1.2 has it, and is checked as such.
                return node.value
            try:
                return self.scalars.construct_object(node, deep=True)
            except yaml.YAMLError as error:
                raise YamlError(
                    f"unreadable value: {_problem(error)}", _place(node), path
                ) from None
            except Exception:  # PyYAML's constructors raise what they meet (ValueError...)
                raise YamlError(_unreadable(node), _place(node), path) from None
        if isinstance(node, SequenceNode | MappingNode) and node.tag not in _PLAIN:
            raise YamlError(f"tags such as {node.tag!r} are not allowed", _place(node))
        if isinstance(node, SequenceNode):
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        if isinstance(node, MappingNode):
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, ScalarNode):
                    raise YamlError("a key must be plain text", _place(key_node))
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise YamlError("merge keys (<<) are not supported", _place(key_node))
                try:
                    key = self.scalars.construct_object(key_node)
                except yaml.YAMLError as error:  # a tagged key, such as !zh: text
                    raise YamlError(
                        f"unreadable key: {_problem(error)}", _place(key_node)
                    ) from None
                except Exception:
                    raise YamlError(_unreadable(key_node), _place(key_node)) from None
                if not isinstance(key, str | int | bool | float) or key is None:
                    raise YamlError("a key must be plain text", _place(key_node))
                key = str(key) if not isinstance(key, str) else key
                if key in result:
                    inside = f" in {field_name(path)}" if path else ""
                    raise YamlError(f"duplicate key {key!r}{inside}", _place(key_node))
                self.keys.setdefault((*path, key), _place(key_node))
                self.places.setdefault((*path, key), _place(value_node))
                result[key] = self.build(value_node, (*path, key), depth + 1)
            return result
        raise YamlError(f"unsupported YAML node {node.tag}", _place(node))  # pragma: no cover


class _Counting(Composer):
    """Composes nodes, counting aliases and depth as the parser meets them."""

    limits: Limits
    aliases = 0
    depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        event = self.peek_event()
        place = Place(event.start_mark.line + 1, event.start_mark.column + 1)
        if isinstance(event, yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > self.limits.max_aliases:
                raise YamlError(f"more than {self.limits.max_aliases} aliases (*name)", place)
        # PyYAML composes recursively: stop deep nesting before Python's recursion limit.
        self.depth += 1
        if self.depth > self.limits.max_depth:
            raise YamlError(f"nested deeper than {self.limits.max_depth} levels", place)
        try:
            return super().compose_node(parent, index)  # type: ignore[no-any-return]
        finally:
            self.depth -= 1


class _PythonComposer(_Counting, yaml.SafeLoader):
    def __init__(self, text: str, limits: Limits) -> None:
        yaml.SafeLoader.__init__(self, text)
        self.limits = limits


if yaml.__with_libyaml__:
    from yaml.cyaml import CParser

    class _LibYamlComposer(_Counting, Resolver, CParser):  # type: ignore[misc]
        """LibYAML's scanner and parser (PyYAML's wheels carry it) read a large scenario
        several times faster than the pure-Python ones; the nodes are still composed here,
        so that aliases and depth are counted as they are met."""

        def __init__(self, text: str, limits: Limits) -> None:
            CParser.__init__(self, text)
            Composer.__init__(self)
            Resolver.__init__(self)
            self.limits = limits

    _Composer: type[_Counting] = _LibYamlComposer
else:  # pragma: no cover
    _Composer = _PythonComposer


def _unreadable(node: ScalarNode) -> str:
    """A value PyYAML could not make into what its shape or tag says, such as 2026-13-45
    (shaped as a date) or ``!!int abc``."""
    if node.tag == _TIMESTAMP:
        return f"expected {_REAL_DATE}, got {node.value!r}"
    return f"{node.value!r} cannot be read as {node.tag.replace('tag:yaml.org,2002:', '!!')}"


def _problem(error: yaml.YAMLError) -> str:
    problem = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    return f"{context}: {problem}" if context else str(problem)


def load(raw: bytes, limits: Limits | None = None) -> Document:
    """Parse one YAML document from ``raw`` bytes (UTF-8) within ``limits``."""
    limits = limits or Limits()
    if len(raw) > limits.max_bytes:
        # Only so much of an upload is read: its whole size is not known here.
        raise YamlError(
            f"the file is over {limits.max_bytes:,} bytes, the most a scenario file may have"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        before = raw[: error.start]
        line = before.count(b"\n") + 1
        column = len(before[before.rfind(b"\n") + 1 :].decode("utf-8", "replace")) + 1
        raise YamlError("the file is not UTF-8 text", Place(line, column)) from None
    try:
        node = _compose(_Composer, text, limits)
    except yaml.MarkedYAMLError as error:
        if "maximum nesting depth" not in str(error.problem):
            raise _syntax(error) from None
        # LibYAML's own limit (1,000 levels), met while it reads ahead: the pure-Python
        # parser finds the level that passes deskdrill's, and where it is.
        try:
            node = _compose(_PythonComposer, text, limits)
        except yaml.MarkedYAMLError as again:
            raise _syntax(again) from None
    if node is None:
        raise YamlError("the file is empty", Place(1, 1))
    builder = _Builder(limits)
    data = builder.build(node, (), 0)
    return Document(data, builder.places, builder.keys)


def _compose(kind: type[_Counting], text: str, limits: Limits) -> Node | None:
    """The document's node tree; YamlError for what is not YAML (MarkedYAMLError passes
    on, for the caller to tell LibYAML's nesting limit from a syntax error)."""
    composer: Any = None
    try:
        composer = kind(text, limits)  # type: ignore[call-arg]
        return composer.get_single_node()  # type: ignore[no-any-return]
    except (YamlError, yaml.MarkedYAMLError):
        raise
    except yaml.reader.ReaderError as error:
        # LibYAML tells the byte of the UTF-8 text, the Python reader the character.
        before = text[: error.position]
        if kind is not _PythonComposer:
            before = text.encode()[: error.position].decode("utf-8", "replace")
        line = before.count("\n") + 1
        column = len(before) - (before.rfind("\n") + 1) + 1
        raise YamlError(
            f"character U+{error.character:04X} is not allowed in YAML", Place(line, column)
        ) from None
    except yaml.YAMLError as error:
        raise YamlError(f"YAML syntax: {_problem(error)}") from None
    finally:
        if composer is not None:
            composer.dispose()


def N_(text: str) -> str:
    """Marks a sentence for the pages' catalogs (see babel.cfg); the pages translate it."""
    return text


# What usually causes the parser's complaint, in a scenario's author's words. The parser
# notices only at the next token, which is often the start of the next line.
_CAUSES = (
    ("did not find expected ',' or '}'",
     N_("a '}' missing, or a text holding a comma, '?' or ': ' to put in quotes")),
    ("did not find expected ',' or ']'",
     N_("a ']' missing, or an item holding a comma or ': ' to put in quotes")),
    ("mapping values are not allowed",
     N_("a text holding ': ' to put in quotes, or a key indented too far")),
    ("did not find expected '-' indicator",
     N_("this line's indentation does not match the list's items above")),
    ("did not find expected key",
     N_("this line's indentation does not match the keys above, or a quote left open above")),
    ("expected <block end>",
     N_("this line's indentation does not match the lines above, or a quote left open above")),
    ("cannot start any token",
     N_("a tab (indent with spaces), or a text beginning with @ or ` to put in quotes")),
    ("found unexpected end of stream", N_("a quote opened and never closed")),
)  # fmt: skip


def _syntax(error: yaml.MarkedYAMLError) -> YamlError:
    mark = error.problem_mark or error.context_mark
    place = Place(mark.line + 1, mark.column + 1) if mark is not None else None
    text = f"YAML syntax: {_problem(error)}"
    began = error.context_mark
    if began is not None and mark is not None and began.line != mark.line:
        text += f" (it began at line {began.line + 1}, column {began.column + 1})"
    problem = str(getattr(error, "problem", "") or "")
    causes = [cause for found, cause in _CAUSES if found in problem]
    if causes:
        text += f"; often {causes[0]}"
    return YamlError(text, place)
