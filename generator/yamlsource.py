"""Read a YAML file into nodes that remember their line.

``yaml.compose`` (not ``yaml.load``) keeps each node's position, so every
config error can name its line. Aliases are refused: a config never needs
them, and following them is how "billion laughs" files exhaust memory.
"""

from __future__ import annotations

import yaml

from generator.errors import ConfigError, ConfigIssue

MAX_CONFIG_BYTES = 32 * 1024 * 1024  # far above a 10,000-domain config
# libyaml's parser is several times faster on configs with thousands of domains.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Source:
    """A config being read: its file name and the issues found so far."""

    def __init__(self, file: str):
        self.file = file
        self.issues: list[ConfigIssue] = []
        self.warnings: list[ConfigIssue] = []
        self.lines: dict[str, int] = {}  # key path -> line

    def error(self, path: str, message: str, node: yaml.Node | None = None, line: int | None = None) -> None:
        self.issues.append(ConfigIssue(path, message, self.file, line_of(node) if node is not None else line))

    def warn(self, path: str, message: str, node: yaml.Node | None = None, line: int | None = None) -> None:
        self.warnings.append(ConfigIssue(path, message, self.file, line_of(node) if node is not None else line))

    def raise_if_errors(self) -> None:
        if self.issues:
            raise ConfigError(self.issues)


def line_of(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _refuse_aliases(root: yaml.Node, source: Source) -> None:
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            source.error("", "this value is anchored (&name) and used again through an alias (*name); aliases are not supported, write the value out", node)
            source.raise_if_errors()
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack += [key, value]
        elif isinstance(node, yaml.SequenceNode):
            stack += node.value


def compose_text(text: str, source: Source) -> yaml.Node | None:
    """Parse ``text`` into a node tree, or raise :class:`ConfigError`."""
    try:
        root = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = exc.problem or "invalid YAML"
        if exc.context:
            message = f"{exc.context}, {message}"
        source.error("", f"invalid YAML: {message}", line=mark.line + 1 if mark else None)
        source.raise_if_errors()
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        source.error("", f"invalid YAML: the character U+{exc.character:04X} is not allowed", line=line)
        source.raise_if_errors()
    except yaml.YAMLError as exc:
        source.error("", f"invalid YAML: {exc}")
        source.raise_if_errors()
    except RecursionError:
        source.error("", "the YAML is nested too deeply")
        source.raise_if_errors()
    if root is not None:
        _refuse_aliases(root, source)
    return root


def compose_file(path: str) -> tuple[yaml.Node | None, Source]:
    """Read and parse the config at ``path``; errors name the file."""
    source = Source(path)
    return compose_text(read_text(path), source), source


def read_text(path: str) -> str:
    """The config at ``path`` as text, or :class:`ConfigError` naming the file."""
    source = Source(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        source.error("", "config file not found; create one with `mta-sts-pages init DOMAIN --mx HOST`")
        source.raise_if_errors()
    except IsADirectoryError:
        source.error("", "is a directory, not a config file")
        source.raise_if_errors()
    except OSError as exc:
        source.error("", f"cannot read the config: {exc.strerror}")
        source.raise_if_errors()
    if len(data) > MAX_CONFIG_BYTES:
        source.error("", f"the config is larger than {MAX_CONFIG_BYTES // (1024 * 1024)} MiB")
        source.raise_if_errors()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        source.error("", "the config is not UTF-8 text", line=line)
        source.raise_if_errors()
    return text
