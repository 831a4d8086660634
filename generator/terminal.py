"""Text from servers and senders on its way to a terminal.

`check` quotes what servers sent (SMTP replies, headers, TXT strings) and
`reports` what report senders wrote (organisation names, host names, e-mail
headers); anyone can be such a server or sender, so the text for people
passes through :func:`printable` at the edge, and JSON meant for a pipe
that may end in a terminal through :func:`json_for_terminal`.
"""

from __future__ import annotations


def printable(text: str) -> str:
    """``text`` with each character a terminal could act on (C0 and C1 controls,
    DEL, bidi overrides and other format characters, unassigned code points)
    written as a Python escape, e.g. ``\\x1b``; letters of every script stay."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escape(ord(ch)) for ch in text)


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
    if document.isprintable():
        return document
    return "".join(ch if ch.isprintable() else _json_escape(ord(ch)) for ch in document)


def _json_escape(code: int) -> str:
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000  # a surrogate pair, as JSON writes characters beyond the BMP
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
