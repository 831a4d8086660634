"""The SMTP TLS Reporting record (RFC 8460 §3) and its report URIs."""

from __future__ import annotations

import re
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

from generator.findings import Finding, error, raise_if_errors, warning
from generator.names import InvalidName, OneLabelName, normalize_domain
from generator.policy import EXT_NAME, EXT_VALUE, record_fields

# Characters that may stand in a URI at all (RFC 3986), '%' for escapes.
_URI_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@$&'()*+=%]+\Z")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*\Z")


class InvalidRua(ValueError):
    """A report URI a sender could not use; the message says why."""


class OneLabelHost(InvalidRua):
    """A valid URI whose host is one label (``mailto:x@localhost``): no
    sender can deliver reports there over the internet."""


_ONE_LABEL = "is a single label: the URI is valid, but senders cannot deliver reports to it over the internet"


def check_rua(uri: str) -> str:
    """Validate one ``rua`` URI and return it unchanged.

    ``mailto:`` needs an address with a valid domain; ``https:`` needs a host.
    ``,`` ``!`` and ``;`` must be percent-encoded: unencoded they split or end
    the record (RFC 8460 §3).
    """
    if not isinstance(uri, str) or not uri:
        raise InvalidRua("is empty")
    for ch in ",!;":
        if ch in uri:
            raise InvalidRua(f"contains an unencoded {ch!r}; write it as %{ord(ch):02X}")
    if not _URI_CHARS.match(uri):
        bad = next(c for c in uri if not _URI_CHARS.match(c))
        shown = "a space" if bad == " " else f"U+{ord(bad):04X}" if not bad.isprintable() else repr(bad)
        raise InvalidRua(f"contains {shown}, which a URI cannot hold unencoded")
    if _BAD_ESCAPE.search(uri):
        raise InvalidRua("has a '%' that is not followed by two hex digits")
    scheme, _, rest = uri.partition(":")
    scheme = scheme.lower()
    if scheme == "mailto":
        local, at, domain = rest.split("?", 1)[0].rpartition("@")
        local, domain = unquote(local), unquote(domain)
        if not at or not local or not domain:
            raise InvalidRua("needs an address: mailto:tls-reports@example.com")
        # Decoded, the local part must be one a mail server accepts: an
        # RFC 5322 dot-atom (a '!' written %21 is fine; '%40', '%20' are not).
        if not _DOT_ATOM.match(local):
            raise InvalidRua(f"has a local part {local!r} that is not a plain mailbox name")
        try:
            normalize_domain(domain)
        except OneLabelName:
            raise OneLabelHost(f"address domain {domain!r} {_ONE_LABEL}") from None
        except InvalidName as exc:
            raise InvalidRua(f"address domain {domain!r} {exc}") from None
        return uri
    if scheme == "https":
        parts = urlsplit(uri)
        if not rest.startswith("//") or not parts.hostname:
            raise InvalidRua("needs a host: https://reports.example.com/path")
        try:
            port = parts.port  # raises ValueError past 65535
        except ValueError as exc:
            raise InvalidRua(f"host {parts.netloc!r} {exc}") from None
        if port == 0:
            raise InvalidRua(f"host {parts.netloc!r} has port 0")
        try:
            normalize_domain(parts.hostname)
        except OneLabelName:
            raise OneLabelHost(f"host {parts.netloc!r} {_ONE_LABEL}") from None
        except InvalidName as exc:
            raise InvalidRua(f"host {parts.netloc!r} {exc}") from None
        return uri
    raise InvalidRua("must start with mailto: or https:")


def render_tlsrpt_record(rua: tuple[str, ...] | list[str]) -> str:
    """``v=TLSRPTv1; rua=<uri>[,<uri>]``."""
    return "v=TLSRPTv1; rua=" + ",".join(rua)


# A NamedTuple, not a frozen dataclass: Python 3.11 compiles each of a
# dataclass's methods from source when the module is imported, and every
# command's start-up imports this one (README, Performance).
class TlsRptRecord(NamedTuple):
    rua: tuple[str, ...]
    extensions: tuple[tuple[str, str], ...] = ()


def parse_tlsrpt_record(text: str) -> tuple[TlsRptRecord, tuple[Finding, ...]]:
    """Parse one `_smtp._tls` TXT value (strings joined), RFC 8460 §3.

    Raises :class:`ParseError` with every problem found.
    """
    fields, findings = record_fields(text, "v=TLSRPTv1", "tlsrpt", "publish 'v=TLSRPTv1; rua=mailto:tls-reports@<domain>'")
    rua: list[str] = []
    extensions: list[tuple[str, str]] = []
    rua_fields = 0
    for field in fields:
        name, sep, value = field.partition("=")
        if name == "rua" and sep:
            rua_fields += 1
            for uri in (u.strip(" \t") for u in value.split(",")):
                try:
                    rua.append(check_rua(uri))
                except OneLabelHost as exc:
                    # Valid URI syntax (RFC 8460 §3): someone else's record is
                    # linted with a warning; a config this tool publishes
                    # refuses it (check_rua's callers there see the error).
                    rua.append(uri)
                    findings.append(warning("tlsrpt-rua-one-label", f"rua {uri!r} {exc}",
                                            "use a full domain name, e.g. mailto:tls-reports@example.com"))
                except InvalidRua as exc:
                    findings.append(error("tlsrpt-rua-invalid", f"rua {uri!r} {exc}",
                                          "use mailto:address or https://host/path, with , ! ; percent-encoded"))
        elif sep and EXT_NAME.match(name) and EXT_VALUE.match(value) and name != "v":
            extensions.append((name, value))
            findings.append(warning("tlsrpt-record-extension", f"extension field {name!r} is ignored by senders",
                                    "publish only v= and rua="))
        else:
            findings.append(error("tlsrpt-record-syntax", f"field {field[:40]!r} is not 'name=value'",
                                  "publish 'v=TLSRPTv1; rua=<uri>[,<uri>]'"))
    if rua_fields == 0:
        findings.append(error("tlsrpt-rua-missing", "the record has no 'rua=' field", "add 'rua=mailto:tls-reports@<domain>'"))
    elif rua_fields > 1:
        findings.append(warning("tlsrpt-rua-repeated", "'rua=' appears more than once; list the URIs in one field",
                                "join the URIs with ',' in one rua= field"))
    raise_if_errors(findings)
    return TlsRptRecord(tuple(rua), tuple(extensions)), tuple(findings)
