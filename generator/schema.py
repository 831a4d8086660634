"""A small declarative schema: validates YAML nodes and emits JSON Schema.

The config model in :mod:`generator.config` is written once with these
types; the same objects check a file (collecting every error with its key
path and line) and produce the published JSON Schema, so the two cannot
drift apart.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from typing import Any, Callable, NamedTuple

import yaml

from generator.yamlsource import Source

INVALID = object()  # a value that failed validation; its error is already recorded

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_TYPE_NAMES = {
    "tag:yaml.org,2002:bool": "a boolean",
    "tag:yaml.org,2002:null": "nothing (null)",
    _INT: "a number",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:timestamp": "a date",
    _STR: "a string",
}


def describe(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    name = _TYPE_NAMES.get(node.tag, f"a {node.tag}")
    return f"{name} ({node.value!r})" if node.tag != "tag:yaml.org,2002:null" else name


def _hint(node: yaml.Node) -> str:
    if node.tag == "tag:yaml.org,2002:bool":
        return "; YAML reads yes/no/on/off as booleans, so put the value in quotes"
    if isinstance(node, yaml.MappingNode):
        return "; a ':' at the end or before a space starts a mapping, so put the value in quotes"
    return ""


class Type(ABC):
    """Base of the schema types.

    The types are plain classes with their own ``__init__``, not dataclasses:
    the config model builds them at import, on every command's start-up, and
    Python 3.11 compiles each dataclass method from source.
    """

    @abstractmethod
    def check(self, node: yaml.Node, path: str, source: Source) -> Any:
        """The validated value, or :data:`INVALID` after recording an error."""

    @abstractmethod
    def json_schema(self) -> dict:
        """This type as a JSON Schema fragment."""


class Text(Type):
    """A string scalar, optionally normalised by ``convert``.

    ``convert`` raises ``ValueError`` whose message completes
    "<value> ..." (e.g. "contains a space"). ``numbers_as_text`` accepts an
    unquoted number and keeps its exact source text (ids like 20261128).
    ``pattern`` serves the JSON Schema only: a regular expression for the
    whole value, in the syntax Python and ECMA-262 share, that lets an
    editor flag the common slips as they are typed. It must never reject
    what ``convert`` accepts; ``convert`` has the last word.
    """

    def __init__(self, convert: Callable[[str], str] | None = None, pattern: str | None = None, numbers_as_text: bool = False):
        self.convert = convert
        self.pattern = pattern
        self.numbers_as_text = numbers_as_text

    def check(self, node, path, source):
        accepted = (_STR, _INT) if self.numbers_as_text else (_STR,)
        if not isinstance(node, yaml.ScalarNode) or node.tag not in accepted:
            source.error(path, f"expected a string, got {describe(node)}{_hint(node)}", node)
            return INVALID
        value = node.value
        if self.convert is None:
            return value
        try:
            return self.convert(value)
        except ValueError as exc:
            source.error(path, f"{_show(value)} {exc}", node)
            return INVALID

    def json_schema(self):
        schema: dict = {"type": "string"} if not self.numbers_as_text else {"type": ["string", "integer"]}
        if self.pattern:
            schema["pattern"] = f"^(?:{self.pattern})$"
        return schema


def _show(value: str) -> str:
    return repr(value if len(value) <= 80 else value[:77] + "...")


class Choice(Type):
    def __init__(self, choices: tuple[str, ...]):
        self.choices = choices

    def check(self, node, path, source):
        if not isinstance(node, yaml.ScalarNode) or node.tag != _STR:
            source.error(path, f"expected one of {', '.join(self.choices)}, got {describe(node)}{_hint(node)}", node)
            return INVALID
        if node.value not in self.choices:
            source.error(path, f"{_show(node.value)} is not one of {', '.join(self.choices)}", node)
            return INVALID
        return node.value

    def json_schema(self):
        return {"type": "string", "enum": list(self.choices)}


class Flag(Type):
    """true or false; YAML 1.1's yes/no/on/off are refused, since they read as
    one thing and mean another elsewhere in the config."""

    def check(self, node, path, source):
        if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:bool" or node.value not in ("true", "false"):
            source.error(path, f"expected true or false, got {describe(node)}; write true or false", node)
            return INVALID
        return node.value == "true"

    def json_schema(self):
        return {"type": "boolean"}


_DURATION = re.compile(r"([0-9]+)([smhdw]?)\Z")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class Duration(Type):
    """Seconds as a number, or a number with a unit: 3600, 1h, 7d, 2w."""

    def __init__(self, minimum: int, maximum: int):
        self.minimum = minimum
        self.maximum = maximum

    def check(self, node, path, source):
        if not isinstance(node, yaml.ScalarNode) or node.tag not in (_STR, _INT):
            source.error(path, f"expected seconds or a duration like 1d or 1w, got {describe(node)}", node)
            return INVALID
        # Parse the source text ourselves: YAML 1.1 would read 0o17 or 1_0 as numbers.
        match = _DURATION.match(node.value.strip() if node.tag == _INT else node.value)
        if not match:
            source.error(path, f"{_show(node.value)} is not seconds or a duration like 3600, 1h, 1d, 1w", node)
            return INVALID
        seconds = int(match.group(1)) * _UNITS[match.group(2)]
        if not self.minimum <= seconds <= self.maximum:
            source.error(path, f"{node.value} is {seconds} seconds, outside {self.minimum}..{self.maximum}", node)
            return INVALID
        return seconds

    def json_schema(self):
        return {
            "oneOf": [
                {"type": "integer", "minimum": self.minimum, "maximum": self.maximum},
                {"type": "string", "pattern": "^" + _DURATION.pattern.removesuffix(r"\Z") + "$"},
            ]
        }


class ListOf(Type):
    def __init__(self, item: Type, min_items: int = 0, max_items: int | None = None):
        self.item = item
        self.min_items = min_items
        self.max_items = max_items

    def check(self, node, path, source):
        if not isinstance(node, yaml.SequenceNode):
            source.error(path, f"expected a list, got {describe(node)}", node)
            return INVALID
        if len(node.value) < self.min_items:
            source.error(path, f"needs at least {self.min_items} item(s)", node)
            return INVALID
        if self.max_items is not None and len(node.value) > self.max_items:
            source.error(path, f"has {len(node.value)} items; at most {self.max_items} are allowed", node)
            return INVALID
        values = []
        for i, child in enumerate(node.value):
            source.lines[f"{path}[{i}]"] = child.start_mark.line + 1
            values.append(self.item.check(child, f"{path}[{i}]", source))
        return INVALID if any(v is INVALID for v in values) else values

    def json_schema(self):
        schema = {"type": "array", "items": self.item.json_schema()}
        if self.min_items:
            schema["minItems"] = self.min_items
        if self.max_items is not None:
            schema["maxItems"] = self.max_items
        return schema


class Key(NamedTuple):
    """One key of a :class:`Section`, with its documentation."""

    type: Type
    doc: str
    required: bool = False
    default: Any = None


class Section(Type):
    """A mapping with known keys. Unknown and duplicate keys are errors.

    Returns a dict of the keys present (defaults are applied later, so a
    per-domain section can override defaults key by key) and records each
    key's line in ``source.lines`` for checks that span several keys.
    """

    def __init__(self, keys: dict[str, Key], doc: str = ""):
        self.keys = keys
        self.doc = doc

    def check(self, node, path, source):
        if not isinstance(node, yaml.MappingNode):
            source.error(path, f"expected a mapping of keys ({', '.join(self.keys)}), got {describe(node)}", node)
            return INVALID
        result: dict[str, Any] = {}
        ok = True
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            where = f"{path}.{key}" if path and key is not None else key or path
            if key is None or key_node.tag != _STR:
                source.error(path, f"keys must be plain names, got {describe(key_node)}", key_node)
                ok = False
                continue
            if key in seen:
                source.error(where, f"duplicate key (first defined on line {seen[key]})", key_node)
                ok = False
                continue
            seen[key] = source.lines[where] = key_node.start_mark.line + 1
            spec = self.keys.get(key)
            if spec is None:
                source.error(where, f"unknown key; expected one of: {', '.join(self.keys)}", key_node)
                ok = False
                continue
            value = spec.type.check(value_node, where, source)
            if value is INVALID:
                ok = False
            else:
                result[key] = value
        for name, spec in self.keys.items():
            if spec.required and name not in seen:
                source.error(path, f"missing required key {name!r}", node)
                ok = False
        return result if ok else INVALID

    def json_schema(self):
        schema: dict = {
            "type": "object",
            "additionalProperties": False,
            "properties": {},
        }
        if self.doc:
            schema["description"] = self.doc
        for name, spec in self.keys.items():
            prop = spec.type.json_schema()
            prop["description"] = spec.doc
            if spec.default is not None:
                prop["default"] = spec.default
            schema["properties"][name] = prop
        required = [name for name, spec in self.keys.items() if spec.required]
        if required:
            schema["required"] = required
        return schema
