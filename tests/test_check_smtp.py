"""`check --smtp` against a real SMTP server (aiosmtpd) with STARTTLS on 127.0.0.1,
and how domains share the probe of an MX host (with a stub session)."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from pathlib import Path

import pytest

from generator.check import smtp as check_smtp
from tests.support.certs import CertKind
from tests.support.check_run import HEALTHY, POLICY_HOST, STS, TLSRPT, policy_bytes, run_check_json
from tests.support.dns_server import minimal_zone, start_nsd
from tests.support.tls_server import Route, TlsServer
from tests.support.tools import require_tool

pytestmark = pytest.mark.timeout(20)

# One domain per scenario, each with MX mx1.<domain> and a policy naming it.
SCENARIOS = ["good", "no-starttls", "wrong-name", "expired", "untrusted", "near-expiry", "old-tls", "silent", "refused"]
# Two domains whose mail goes to one provider's MX host.
PROVIDER_MX = "mx.provider.test"
SHARING = ["share-a.test", "share-b.test"]


def _domain(name: str) -> str:
    return f"smtp-{name}.test"


@dataclass
class Servers:
    nameserver: str
    ca_file: Path
    https_port: int


@pytest.fixture(scope="module")
def servers(tmp_path_factory, test_ca):
    require_tool("nsd")
    require_tool("nsd-checkzone")
    zones = {_domain(n): minimal_zone(_domain(n), HEALTHY) for n in SCENARIOS}
    zones |= {d: minimal_zone(d, "\n".join([STS, TLSRPT, POLICY_HOST, f"@ MX 10 {PROVIDER_MX}."])) for d in SHARING}
    nsd = start_nsd(zones, tmp_path_factory.mktemp("nsd"))
    https = TlsServer(test_ca).start()
    for name in SCENARIOS:
        https.route(f"mta-sts.{_domain(name)}", Route(body=policy_bytes(_domain(name))))
    for domain in SHARING:
        https.route(f"mta-sts.{domain}", Route(body=policy_bytes(domain).replace(f"mx1.{domain}".encode(), PROVIDER_MX.encode())))
    yield Servers(nsd.address, test_ca.pem_path, https.port)
    https.stop()
    nsd.stop()


def _check_smtp(servers: Servers, name: str, smtp_port: int, timeout: float = 3.0):
    domain = _domain(name)
    run = run_check_json(
        domain,
        "--smtp",
        "--nameserver", servers.nameserver,
        "--ca-file", str(servers.ca_file),
        "--connect-to", f"mta-sts.{domain}:443:127.0.0.1:{servers.https_port}",
        "--connect-to", f"mx1.{domain}:25:127.0.0.1:{smtp_port}",
        "--timeout", str(timeout),
    )
    return run, run.findings(domain)


def test_good_mx_passes_and_is_really_probed(servers, smtp_server_factory) -> None:
    smtp = smtp_server_factory(f"mx1.{_domain('good')}")
    run, findings = _check_smtp(servers, "good", smtp.port)
    assert run.code == 0, findings
    assert run.report(_domain("good"))["result"] == "ok", findings
    assert not any(code.startswith("smtp-") for code, _ in findings)
    assert smtp.connections == 1


@pytest.mark.parametrize(
    ("name", "cert", "code", "severity"),
    [
        pytest.param("no-starttls", None, "smtp-starttls-missing", "error", id="starttls-not-offered"),
        pytest.param("wrong-name", CertKind.WRONG_NAME, "smtp-cert-name", "error", id="wrong-name"),
        pytest.param("expired", CertKind.EXPIRED, "smtp-cert-expired", "error", id="expired"),
        pytest.param("untrusted", CertKind.UNTRUSTED, "smtp-cert-untrusted", "error", id="self-signed"),
        pytest.param("near-expiry", CertKind.NEAR_EXPIRY, "smtp-cert-expiring", "warning", id="near-expiry"),
        pytest.param("old-tls", CertKind.OLD_TLS, "smtp-tls-version", "error", id="tls-1.1-only"),
    ],
)
def test_bad_mx(servers, smtp_server_factory, name: str, cert: CertKind | None, code: str, severity: str) -> None:
    smtp = smtp_server_factory(f"mx1.{_domain(name)}", cert=cert)
    run, findings = _check_smtp(servers, name, smtp.port)
    assert (code, severity) in findings
    assert run.code == (1 if severity == "error" else 0)


def test_an_mx_certificate_for_another_name_is_named(servers, smtp_server_factory) -> None:
    smtp = smtp_server_factory(f"mx1.{_domain('wrong-name')}", cert=CertKind.WRONG_NAME)
    run, _ = _check_smtp(servers, "wrong-name", smtp.port)
    (finding,) = [f for f in run.report(_domain("wrong-name"))["findings"] if f["code"] == "smtp-cert-name"]
    assert finding["message"] == f"the MX host's certificate does not name mx1.{_domain('wrong-name')}: it names wrong-name.invalid"
    assert smtp.connections == 2  # the second session reads the names


def test_mx_that_never_greets_runs_into_the_deadline(servers, smtp_server_factory) -> None:
    silent = smtp_server_factory(f"mx1.{_domain('silent')}", banner=False)
    run, findings = _check_smtp(servers, "silent", silent.port, timeout=1.0)
    assert ("smtp-timeout", "error") in findings
    assert run.code == 1


def test_mx_refusing_connections(servers) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    run, findings = _check_smtp(servers, "refused", port)
    assert ("smtp-connect-failed", "error") in findings


def test_an_mx_host_shared_by_many_domains_is_probed_once(servers, smtp_server_factory) -> None:
    smtp = smtp_server_factory(PROVIDER_MX)
    run = run_check_json(
        *SHARING,
        "--smtp",
        "--nameserver", servers.nameserver,
        "--ca-file", str(servers.ca_file),
        "--connect-to", f":443:127.0.0.1:{servers.https_port}",
        "--connect-to", f"{PROVIDER_MX}:25:127.0.0.1:{smtp.port}",
    )
    assert run.code == 0
    assert [run.report(d)["result"] for d in SHARING] == ["ok", "ok"], run.reports
    assert smtp.connections == 1


@pytest.mark.parametrize("together", [pytest.param(True, id="while-probing"), pytest.param(False, id="after-the-timeout")])
def test_a_domain_never_inherits_the_deadline_of_another_sharing_its_mx(monkeypatch, together: bool) -> None:
    """The first session never gets its greeting and runs into the first
    domain's short deadline; the second domain, with time left, probes again
    and passes; a third reuses that finished probe."""
    sessions = []

    async def session(host, rules, resolver, context, deadline, helo):
        sessions.append(deadline)
        if len(sessions) == 1:
            await asyncio.Event().wait()
        return check_smtp.ProbeResult(host, check_smtp.Status.OK)

    monkeypatch.setattr(check_smtp, "_probe", session)

    async def run():
        probes = check_smtp.MxProbes((), None, None)
        now = asyncio.get_running_loop().time()
        hurried, patient = probes.probe(PROVIDER_MX, now + 0.2), probes.probe(PROVIDER_MX, now + 10)
        first = await asyncio.gather(hurried, patient) if together else [await hurried, await patient]
        return [*first, await probes.probe(PROVIDER_MX, now + 10)]

    results = asyncio.run(run())
    assert [r.status for r in results] == [check_smtp.Status.TIMEOUT, check_smtp.Status.OK, check_smtp.Status.OK]
    assert len(sessions) == 2
