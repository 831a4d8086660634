"""Domain names and MX patterns: validation, IDNA conversion, matching.

Every name the tool writes into a policy or a DNS record passes through
:func:`normalize_domain`, so the checks live in one place.
"""

from __future__ import annotations

import re

# idna is imported where a name is not plain ASCII: most configs never need it,
# and every command's start-up would pay for it.

MAX_NAME = 253
MAX_LABEL = 63
# The longest policy domain whose longest record name, `_smtp._tls.<domain>`,
# still fits in MAX_NAME.
MAX_POLICY_DOMAIN = MAX_NAME - len("_smtp._tls.")

# RFC 5321 "Domain": letters, digits and hyphens, no hyphen at either end.
_LDH_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\Z")


class InvalidName(ValueError):
    """A name is not a usable domain; the message says why in plain words."""


class OneLabelName(InvalidName):
    """A well-formed name of one label (``localhost``): not a domain on the internet."""


def _describe(ch: str) -> str:
    if ch == " ":
        return "a space"
    if ch == "\n":
        return "a newline"
    if ch == "\r":
        return "a carriage return"
    if ch == "\t":
        return "a tab"
    if ch == "_":
        return "an underscore"
    if ord(ch) < 0x20 or ord(ch) == 0x7F:
        return f"the control character U+{ord(ch):04X}"
    return repr(ch)


def _check_ascii_label(label: str) -> None:
    if not label:
        raise InvalidName("has an empty label (two dots in a row, or a dot at an end)")
    if len(label) > MAX_LABEL:
        raise InvalidName(f"label {label[:20]}... is {len(label)} characters long (at most {MAX_LABEL})")
    if not _LDH_LABEL.match(label):
        bad = next((c for c in label if not (c.isascii() and (c.isalnum() or c == "-"))), None)
        if bad is not None:
            raise InvalidName(f"contains {_describe(bad)}, which a host name cannot hold")
        raise InvalidName(f"label {label!r} starts or ends with a hyphen")
    if label[2:4] == "--":
        if not label.startswith("xn--"):
            raise InvalidName(f"label {label!r} has '--' in positions 3-4, reserved for IDNA")
        import idna

        try:
            idna.decode(label)
        except idna.IDNAError as exc:
            raise InvalidName(f"label {label!r} is not a valid IDNA A-label ({exc})") from None


def normalize_domain(name: str) -> str:
    """Return ``name`` as a lowercase A-label domain, or raise :class:`InvalidName`.

    Accepts internationalized names (converted with IDNA 2008 / UTS 46, not
    Python's IDNA 2003 codec). Rejects IP addresses, single-label names,
    trailing dots and anything a sender would not accept in an ``mx`` line.
    """
    if not isinstance(name, str) or not name:
        raise InvalidName("is empty")
    if not name.strip("."):
        raise InvalidName("is not a host name (a lone dot names the DNS root)")
    bad = next((c for c in name if ord(c) < 0x20 or ord(c) == 0x7F or c in " \u00a0"), None)
    if bad is not None:
        raise InvalidName(f"contains {_describe(bad)}")
    if name.endswith("."):
        raise InvalidName("ends with a dot; write the name without the trailing dot")
    # Only digits and dots (IPv4) or a colon (IPv6) can make an address: a
    # host name skips the parse, and start-up the ipaddress module.
    if ":" in name or name.replace(".", "").isdigit():
        import ipaddress

        try:
            ipaddress.ip_address(name)
        except ValueError:
            pass
        else:
            raise InvalidName("is an IP address; MTA-STS needs a host name")
    if name.isascii():
        ascii_name = name.lower()
    else:
        import idna

        try:
            ascii_name = idna.encode(name, uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            raise InvalidName(f"is not a valid internationalized name ({exc})") from None
    labels = ascii_name.split(".")
    for label in labels:
        _check_ascii_label(label)
    if len(ascii_name) > MAX_NAME:
        raise InvalidName(f"is {len(ascii_name)} characters long (at most {MAX_NAME})")
    if len(labels) < 2:
        raise OneLabelName("is a bare top-level name; give a full domain such as example.com")
    if labels[-1].isdigit():
        raise InvalidName("ends in an all-numeric label; an IP address is not a host name")
    return ascii_name


def normalize_policy_domain(name: str) -> str:
    """:func:`normalize_domain`, short enough for every record MTA-STS puts under it."""
    ascii_name = normalize_domain(name)
    if len(ascii_name) > MAX_POLICY_DOMAIN:
        raise InvalidName(
            f"is {len(ascii_name)} characters long; at most {MAX_POLICY_DOMAIN} leave room for _smtp._tls.{ascii_name[:12]}..."
        )
    return ascii_name


def normalize_mx_pattern(pattern: str) -> str:
    """Return a valid policy ``mx`` pattern (``host`` or ``*.parent``) in A-labels."""
    if not isinstance(pattern, str) or not pattern:
        raise InvalidName("is empty")
    if pattern.startswith("*."):
        rest = pattern[2:]
        if "*" in rest:
            raise InvalidName("may hold '*' only as the whole leftmost label ('*.example.com')")
        parent = normalize_domain(rest)
        return "*." + parent
    if "*" in pattern:
        raise InvalidName("may hold '*' only as the whole leftmost label ('*.example.com')")
    return normalize_domain(pattern)


def mx_matches(pattern: str, host: str) -> bool:
    """True when MX ``host`` is covered by policy ``pattern`` (RFC 8461 §4.1).

    A wildcard covers exactly one leftmost label: ``*.example.com`` matches
    ``mx.example.com`` but neither ``example.com`` nor ``a.b.example.com``.
    """
    pattern = pattern.lower()
    host = host.lower().rstrip(".")
    if pattern.startswith("*."):
        head, sep, tail = host.partition(".")
        return bool(sep) and bool(head) and tail == pattern[2:]
    return host == pattern


def to_a_labels(name: str) -> str:
    """Best-effort lowercase A-label form of a name someone else wrote (a
    report's domain): a trailing dot dropped, U-labels converted as
    :func:`normalize_domain` converts them (UTS 46 maps capitals and the
    ideographic full stop); a name IDNA refuses is only lowercased, since
    it matches no configured domain either way."""
    name = name.strip().rstrip(".").lower()
    return ascii_form(name) or name


def ascii_form(name: str) -> str | None:
    """``name`` lower-cased, its U-labels as A-labels (UTS 46); None when
    IDNA refuses it."""
    if name.isascii():
        return name.lower()
    import idna  # only for an internationalized name: every check loads this module

    try:
        return idna.encode(name, uts46=True).decode("ascii")
    except idna.IDNAError:
        return None


def to_unicode(name: str) -> str:
    """Best-effort U-label form for display; falls back to the input."""
    if "xn--" not in name.lower():
        return name  # nothing to decode; idna would return it as it is
    import idna

    try:
        return idna.decode(name)
    except idna.IDNAError:
        return name
