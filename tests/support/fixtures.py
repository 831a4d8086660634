"""pytest fixtures that start the test servers and stop them at teardown."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Protocol

import pytest

from .bind_server import BindServer, TsigKey, start_named
from .certs import CertKind, LocalCA
from .dns_server import NsdServer, start_nsd
from .local_github import LocalGitHub
from .smtp_server import SmtpServer, old_tls_smtp_server
from .tcp import ThreadedTcpServer, silent_server
from .tls_server import TlsServer
from .tools import require_tool

DnsServerFactory = Callable[[Mapping[str, str]], NsdServer]
TlsServerFactory = Callable[[], TlsServer]
BindServerFactory = Callable[[Mapping[str, str]], BindServer]


class SmtpServerFactory(Protocol):
    """The type of the ``smtp_server_factory`` fixture."""

    def __call__(
        self, mx_host: str, cert: CertKind | None = ..., banner: bool = ...
    ) -> SmtpServer | ThreadedTcpServer: ...


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> LocalCA:
    """The session's test CA; ``test_ca.pem_path`` is the ``--ca-file``."""
    return LocalCA(tmp_path_factory.mktemp("ca"))


@pytest.fixture
def dns_server_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[DnsServerFactory]:
    """``start(zones)`` serves ``{zone name: zone text}`` with a fresh NSD."""
    require_tool("nsd")
    require_tool("nsd-checkzone")
    with contextlib.ExitStack() as servers:
        yield lambda zones: servers.enter_context(start_nsd(zones, tmp_path_factory.mktemp("nsd")))


@pytest.fixture
def bind_server_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BindServerFactory]:
    """``start(zones)`` serves ``{zone name: zone text}`` with a fresh named
    that takes updates signed with its own random TSIG key (``server.key``)."""
    require_tool("named")
    with contextlib.ExitStack() as servers:
        yield lambda zones: servers.enter_context(start_named(zones, tmp_path_factory.mktemp("named"), TsigKey.random()))


@pytest.fixture
def tls_server_factory(test_ca: LocalCA) -> Iterator[TlsServerFactory]:
    """``start()`` gives a running HTTPS server; configure its hosts after."""
    with contextlib.ExitStack() as servers:
        yield lambda: servers.enter_context(TlsServer(test_ca))


@pytest.fixture
def smtp_server_factory(test_ca: LocalCA) -> Iterator[SmtpServerFactory]:
    """``start(mx_host, cert=CertKind.GOOD, banner=True)`` gives a running SMTP server.

    ``cert=None``: STARTTLS not offered; ``banner=False``: accepts, never speaks;
    ``cert=CertKind.OLD_TLS``: STARTTLS with TLS 1.0-1.1 only.
    """
    with contextlib.ExitStack() as servers:

        def start(
            mx_host: str, cert: CertKind | None = CertKind.GOOD, banner: bool = True
        ) -> SmtpServer | ThreadedTcpServer:
            server: SmtpServer | ThreadedTcpServer
            if not banner:
                server = silent_server()
            elif cert is CertKind.OLD_TLS:
                server = old_tls_smtp_server(test_ca, mx_host)
            else:
                server = SmtpServer(test_ca, mx_host, cert=cert)
            servers.enter_context(server)
            return server

        yield start


@pytest.fixture
def local_github(test_ca: LocalCA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalGitHub]:
    """A running local GitHub (see local_github.py); at teardown, every
    request it saw must have been inside GitHub's REST API description."""
    require_tool("gh")
    require_tool("git")
    with LocalGitHub(test_ca, tmp_path_factory.mktemp("github")) as github:
        yield github
    assert github.violations == [], "requests or responses outside GitHub's description:\n" + "\n".join(github.violations)


@pytest.fixture(autouse=True)
def _no_github_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reaches github.com: with a token in the environment, `check -c`,
    `verify` and `monitor` would ask it for each site (tests that want a
    token point gh at the local GitHub themselves)."""
    for name in ("GH_TOKEN", "GITHUB_TOKEN", "GH_ENTERPRISE_TOKEN", "GH_HOST"):
        monkeypatch.delenv(name, raising=False)
