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
# What GitHub turns into a link or a notification after Markdown, in the
# rendered text: GFM's autolinks (http://, www., e-mail addresses), mentions
# (@user, @org/team), issue references (#12, GH-12, owner/repo#12, a
# repository's own autolink prefixes such as TICKET-12) and commit SHAs (7 to
# 40 hex digits). Escapes and character references do not stop these
# filters, which read the rendered text, so the text itself is broken: a WORD
# JOINER (U+2060: invisible, not a word character, and not a character an
# autolink, a mention or a reference takes) after each "@" and "#", inside
# "://" and "www.", between "-" and a digit, and after every sixth digit of a
# hex run.
# "$...$" is math in issues and comments (MathJax, where "\\$" does not
# escape reliably): as a character reference it renders the same and is not.
_JOIN = "\u2060"
_BREAKS = re.compile(r"[@#]|:(?=/)|(?<=www)(?=\.)|-(?=[0-9])|(?<![0-9a-f])[0-9a-f]{7,}(?![0-9a-f])", re.IGNORECASE)


def _break(match: re.Match) -> str:
    found = match.group(0)
    if len(found) > 1:  # a hex run: no piece long enough to be a commit
        return _JOIN.join(found[i:i + 6] for i in range(0, len(found), 6))
    return found + _JOIN


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
    """Inline text that renders as these characters, on one line, safe
    inside a table cell, and that GitHub makes no link, mention or
    reference of (it holds word joiners, invisible, where it would)."""
    value = _BREAKS.sub(_break, visible(value.replace("\r\n", "\n")).replace("\n", " "))
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("$", "&#36;")
    return _SPECIAL.sub(r"\\\1", value)


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
