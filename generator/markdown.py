"""GitHub-flavoured Markdown pieces for text that came from a server.

Job summaries and issue bodies render Markdown and a subset of HTML, so a
server's text (a TXT record, a Location header, a policy body) could turn
into links, images, tables or hidden HTML there. Everything a server or a
user wrote goes through one of these functions first.
"""

from __future__ import annotations

import re
from pathlib import Path

from generator.errors import UsageError

# Characters that start inline Markdown or GFM constructs (emphasis, code,
# links, tables, strike-through); the text never starts a line, so block
# markers (#, -, 1.) need nothing.
_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
# "@name" notifies a GitHub user and "#12" links an issue; "$...$" is a
# math expression in issues and comments (MathJax, where "\\$" does not
# escape reliably): written as character references they render the same
# and do none of it.
_PINGS = re.compile(r"@(?=[A-Za-z0-9])|#(?=[0-9])|\$")


def visible(text: str) -> str:
    """``text`` with every character that is not printable shown as
    ``\\uXXXX`` (``\\UXXXXXXXX`` beyond the BMP): controls, bidi overrides,
    zero-width, tag and other format characters, line separators,
    unassigned code points; the rule :mod:`generator.terminal` applies.
    Tabs and line ends stay, for the callers to place."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch in "\t\n" else _escape(ord(ch)) for ch in text)


def _escape(code: int) -> str:
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def text(value: str) -> str:
    """Inline text that renders as exactly these characters, on one line,
    safe inside a table cell."""
    value = visible(value.replace("\r\n", "\n")).replace("\n", " ")
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    value = _SPECIAL.sub(r"\\\1", value)
    return _PINGS.sub(lambda m: f"&#{ord(m.group(0))};", value)


_CODE_SPAN = re.compile(r"`([^`\n]+)`")


def prose(value: str) -> str:
    """A finding's words (a message, a fix): each `quoted` part a code span,
    as the words mean it, the rest :func:`text`. Code spans make no links,
    mentions or HTML, so a server's backticks inside gain nothing."""
    parts = _CODE_SPAN.split(value)
    return "".join(code(part) if index % 2 else text(part) for index, part in enumerate(parts))


def code(value: str) -> str:
    """An inline code span of ``value`` (on one line), safe inside a table cell."""
    value = visible(value.replace("\r\n", "\n")).replace("\n", " ").replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", value)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if value.startswith("`") or value.endswith("`") or longest else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def block(value: str, language: str = "text") -> str:
    """A fenced code block of ``value``: rendered literally, HTML included."""
    value = visible(value.replace("\r\n", "\n"))
    longest = max((len(run) for run in re.findall(r"`+", value)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{value.rstrip(chr(10))}\n{fence}"


def append(path: Path, document: str) -> None:
    """Add ``document`` to a summary file such as ``$GITHUB_STEP_SUMMARY``."""
    try:
        with path.open("a", encoding="utf-8") as out:
            out.write(document)
    except OSError as exc:
        raise UsageError(f"--summary {path}: {exc.strerror or exc}") from None
