"""Text from servers and senders on its way to a terminal.

`check` quotes what servers sent (SMTP replies, headers, TXT strings) and
`reports` what report senders wrote (organisation names, host names, e-mail
headers); anyone can be such a server or sender, so the text for people
passes through :func:`printable` at the edge, and JSON meant for a pipe
that may end in a terminal through :func:`json_for_terminal`.

The terminal may be a GitHub Actions log, whose runner obeys workflow
commands in the output of a step (``::add-mask::``, ``::error::``,
``::stop-commands::``): its ``ActionCommand.TryParseV2`` takes a line that
starts with ``::`` once leading white space is trimmed, and the legacy
``TryParse``, tried next, a line that holds ``##[`` anywhere. Both functions
write one character of each such pattern as an escape, so no line they pass
can be a command, whatever a server or a sender wrote.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TextIO

# After the escaping below, the only white space left is the plain space
# (every other kind is not printable); \s also covers the JSON case.
_COMMAND = re.compile(r"^(\s*):(?=:)|#(?=#\[)", re.MULTILINE)


def without_commands(text: str) -> str:
    """``text`` (lines of it) with a line-leading ``::`` and every ``##[``
    broken by an escape: for Markdown on its way to a terminal, whose other
    characters :mod:`generator.markdown` has made visible already (and whose
    word joiners must stay)."""
    return _no_commands(text, _escape)


def _no_commands(text: str, escape: Callable[[int], str]) -> str:
    if ":" not in text and "#" not in text:
        return text
    return _COMMAND.sub(lambda m: m.group(1) + escape(ord(":")) if m.group(0).endswith(":") else escape(ord("#")), text)


def printable(text: str) -> str:
    """``text`` with each character a terminal could act on (C0 and C1 controls,
    DEL, bidi overrides and other format characters, unassigned code points)
    written as a Python escape, e.g. ``\\x1b``; letters of every script stay.
    A line starting with ``::`` or holding ``##[`` has a colon or a hash
    escaped, so a CI runner does not read it as a workflow command."""
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else _escape(ord(ch)) for ch in text)
    return _no_commands(text, _escape)


def lines_for_terminal(lines: list[str]) -> str:
    """``lines`` joined by newlines, each made :func:`printable`."""
    return "\n".join(printable(line) for line in lines)


def _escape(code: int) -> str:
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def json_for_terminal(document: str) -> str:
    """JSON text with every non-printable character written as a ``\\u``
    escape. ``json.dumps`` escapes C0 controls but, with ``ensure_ascii``
    off (kept so names and messages stay readable), leaves C1 controls,
    bidi overrides and the like raw; an escape decodes to the same string,
    so the document means the same."""
    if not document.replace("\n", "").isprintable():
        document = "\n".join("".join(ch if ch.isprintable() else _json_escape(ord(ch)) for ch in line)
                             for line in document.split("\n"))
    return _no_commands(document, _json_escape)


class LinesForTerminal:
    """A text stream for writers that write whole lines (``dns``), each line
    passed through :func:`printable` on its way to ``stream``."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        return self.stream.write(lines_for_terminal(text.split("\n")))

    def flush(self) -> None:
        self.stream.flush()


def _json_escape(code: int) -> str:
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000  # a surrogate pair, as JSON writes characters beyond the BMP
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
