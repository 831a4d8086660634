"""A test certificate authority that issues good and deliberately bad server certs."""

from __future__ import annotations

import datetime
import enum
import ssl
import threading
import warnings
from pathlib import Path

import trustme

NEAR_EXPIRY_DAYS = 5
WRONG_NAME = "wrong-name.invalid"


class CertKind(enum.Enum):
    """What is wrong, if anything, with the certificate a server presents."""

    GOOD = "good"
    UNTRUSTED = "untrusted"  # chains to another CA, as a self-signed cert would
    WRONG_NAME = "wrong-name"  # valid, trusted, but for WRONG_NAME
    EXPIRED = "expired"
    NEAR_EXPIRY = "near-expiry"  # valid for NEAR_EXPIRY_DAYS more days
    OLD_TLS = "old-tls"  # a good certificate, on a server that speaks only TLS 1.0 and 1.1
    GITHUB_IO = "github-io"  # valid, trusted, for *.github.io: what Pages presents for a domain it does not know


class LocalCA:
    """A trustme CA with its PEM on disk, issuing server SSLContexts on demand.

    Contexts are cached per (host, kind): a TLS server answering for a
    thousand SNI names issues each certificate once, from any thread.
    """

    def __init__(self, directory: Path) -> None:
        self.ca = trustme.CA()
        self.pem_path = directory / "test-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.pem_path))
        self._untrusted_ca: trustme.CA | None = None
        self._contexts: dict[tuple[str, CertKind], ssl.SSLContext] = {}
        self._lock = threading.Lock()

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts this CA only."""
        return ssl.create_default_context(cafile=str(self.pem_path))

    def server_context(self, host: str, kind: CertKind = CertKind.GOOD) -> ssl.SSLContext:
        """A server context presenting a ``kind`` certificate for ``host``, made once."""
        with self._lock:
            context = self._contexts.get((host, kind))
            if context is None:
                context = self._contexts[(host, kind)] = self.new_server_context(host, kind)
            return context

    def new_server_context(self, host: str, kind: CertKind = CertKind.GOOD) -> ssl.SSLContext:
        """A context of one's own, for a server that changes it (an SNI callback)."""
        # No system trust store is loaded: a bare server context is much
        # cheaper when issuing per SNI name.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._issue(host, kind).configure_cert(context)
        if kind is CertKind.OLD_TLS:
            _old_tls_only(context)
        return context

    def _issue(self, host: str, kind: CertKind) -> trustme.LeafCert:
        now = datetime.datetime.now(datetime.UTC)
        day = datetime.timedelta(days=1)
        match kind:
            case CertKind.GOOD | CertKind.OLD_TLS:
                return self.ca.issue_cert(host)
            case CertKind.UNTRUSTED:
                if self._untrusted_ca is None:
                    self._untrusted_ca = trustme.CA()
                return self._untrusted_ca.issue_cert(host)
            case CertKind.WRONG_NAME:
                return self.ca.issue_cert(WRONG_NAME)
            case CertKind.GITHUB_IO:
                return self.ca.issue_cert("*.github.io", "github.io")
            case CertKind.EXPIRED:
                return self.ca.issue_cert(host, not_before=now - 60 * day, not_after=now - day)
            case CertKind.NEAR_EXPIRY:
                return self.ca.issue_cert(
                    host, not_before=now - day, not_after=now + NEAR_EXPIRY_DAYS * day
                )


def _old_tls_only(context: ssl.SSLContext) -> None:
    """Limit a server to TLS 1.0-1.1, as an outdated MX or web server would be.

    OpenSSL 3 refuses those versions below security level 0, and Python
    warns that they are deprecated: both are the point here.
    """
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
