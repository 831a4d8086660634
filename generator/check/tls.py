"""TLS as RFC 8461 wants it, for the policy host and for MX hosts alike:
a trusted chain, a DNS-ID in the SAN naming the host, not expired, TLS >= 1.2."""

from __future__ import annotations

import enum
import functools
import ssl
import time
from dataclasses import dataclass
from pathlib import Path

from generator.errors import UsageError
from generator.findings import Finding, error, warning

EXPIRY_WARNING_DAYS = 14

# OpenSSL X509_V_ERR_* codes that say which rule the certificate breaks.
_EXPIRED = {9, 10}  # not yet valid, has expired
_NAME = {62}  # hostname mismatch


class Problem(enum.Enum):
    UNTRUSTED = "untrusted"
    NAME = "name"
    EXPIRED = "expired"
    VERSION = "version"  # no TLS 1.2 or later in common
    HANDSHAKE = "handshake"  # anything else


def context_for(ca_file: Path | None) -> ssl.SSLContext:
    """:func:`client_context` for a --ca-file flag: a file that holds no PEM
    CA certificates is a usage error."""
    try:
        return client_context(ca_file)
    except ssl.SSLError as exc:
        raise UsageError(f"--ca-file {ca_file}: not a PEM file of CA certificates ({exc.reason or exc})") from None


def client_context(ca_file: Path | None) -> ssl.SSLContext:
    """Verifying context: ``ca_file`` replaces the system roots when given."""
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # RFC 8461 §4.2 (and RFC 6125): the name must be a SAN DNS-ID; the
    # subject CN does not count.
    context.hostname_checks_common_name = False
    return context


@functools.lru_cache(maxsize=4)
def names_context(ca_file: Path | None) -> ssl.SSLContext:
    """The check's trust, without the name check: to read whom a trusted
    certificate names after the name check failed."""
    context = client_context(ca_file)
    context.check_hostname = False
    return context


def dns_names(cert: dict | None) -> tuple[str, ...]:
    """The SAN DNS-IDs of a peer certificate as the transport decodes it."""
    return tuple(value.lower() for kind, value in (cert or {}).get("subjectAltName", ()) if kind == "DNS")


def _named(names: tuple[str, ...]) -> str:
    """The names a certificate carries, for a message (outside text: the
    report's edge makes it printable)."""
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return f"it names {shown}" if names else "it names no DNS name"


def classify(exc: ssl.SSLError) -> tuple[Problem, str]:
    """Which rule a failed handshake broke, and OpenSSL's words for it."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        detail = exc.verify_message or str(exc)
        if exc.verify_code in _EXPIRED:
            return Problem.EXPIRED, detail
        if exc.verify_code in _NAME:
            return Problem.NAME, detail
        return Problem.UNTRUSTED, detail
    reason = (exc.reason or "").upper()
    if ("PROTOCOL" in reason and "VERSION" in reason) or reason in ("UNSUPPORTED_PROTOCOL", "NO_PROTOCOLS_AVAILABLE"):
        return Problem.VERSION, exc.reason or str(exc)
    return Problem.HANDSHAKE, exc.reason or str(exc)


def days_left(cert: dict | None) -> float | None:
    """Days until the notAfter of ``cert``, the peer certificate as the TLS
    transport's ``peercert`` holds it (None if unknown). The transport reads
    it once, at the end of the handshake; asking the SSL object again would
    decode the certificate a second time."""
    if not cert or "notAfter" not in cert:
        return None
    return (ssl.cert_time_to_seconds(cert["notAfter"]) - time.time()) / 86400


@dataclass(frozen=True)
class TlsCodes:
    """The finding codes of one TLS client (policy host or MX)."""

    untrusted: str
    name: str
    expired: str
    expiring: str
    version: str
    handshake: str


def problem_finding(tls_codes: TlsCodes, problem: Problem, detail: str, host: str, what: str,
                    names: tuple[str, ...] | None = None) -> Finding:
    """The finding for a failed handshake with ``host`` (``what``: 'policy host',
    'MX host'); ``names``: the certificate's DNS names, when read after a name mismatch."""
    match problem:
        case Problem.NAME if names is not None:
            return error(tls_codes.name, f"the {what}'s certificate does not name {host}: {_named(names)}",
                         f"issue a certificate with {host} (or a one-label wildcard covering it) in its subject alternative names")
        case Problem.UNTRUSTED:
            return error(tls_codes.untrusted, f"the {what} {host} presents a certificate that does not chain to a trusted root ({detail})",
                         "install a certificate from a public CA with its full chain (intermediates included)")
        case Problem.NAME:
            return error(tls_codes.name, f"the {what}'s certificate does not name {host} ({detail})",
                         f"issue a certificate with {host} (or a one-label wildcard covering it) in its subject alternative names")
        case Problem.EXPIRED:
            return error(tls_codes.expired, f"the {what} {host} presents a certificate outside its validity period ({detail})",
                         "renew the certificate and make sure renewal is automatic")
        case Problem.VERSION:
            return error(tls_codes.version, f"the {what} {host} offers no TLS 1.2 or later ({detail})",
                         "enable TLS 1.2 and 1.3 on the server")
        case _:
            return error(tls_codes.handshake, f"the TLS handshake with the {what} {host} failed ({detail})",
                         "check the server's TLS configuration, e.g. with openssl s_client")


def expiry_finding(tls_codes: TlsCodes, days: float | None, host: str, what: str) -> list[Finding]:
    if days is None or days >= EXPIRY_WARNING_DAYS:
        return []
    return [warning(tls_codes.expiring, f"the {what} {host}'s certificate expires in {max(days, 0):.0f} days",
                    "renew the certificate now, and check that renewal is automatic")]
