"""`check` against real servers: one named row per failure mode (SPEC §4).

One NSD serves a zone per row and one TLS server answers for every row's
`mta-sts.<row>.test`, so each row costs a few milliseconds (the drip row
excepted: it runs into its deadline on purpose).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.bad_dns import blackhole_dns, servfail_dns
from tests.support.certs import CertKind
from tests.support.check_run import HEALTHY, MX, POLICY_HOST, STS, TLSRPT, policy_bytes, run_check_json
from tests.support.dns_server import minimal_zone, start_nsd
from tests.support.tls_server import Mode, Route, TlsServer
from tests.support.tools import require_tool

SHARED = "shared-policies.test"  # target zone of the cross-zone CNAME row


@dataclass(frozen=True)
class Row:
    name: str
    code: str
    severity: str
    records: str = HEALTHY
    route: Route = Route()  # its body, when empty, is body(domain)
    body: Callable[[str], bytes] = policy_bytes
    cert: CertKind = CertKind.GOOD
    config: str | None = None  # YAML for the drift rows; {d} is the domain
    timeout: float = 3.0
    says: str = ""  # a part of the finding's message, when the reason matters


    @property
    def domain(self) -> str:
        return f"{self.name}.test"


def _raw(head: bytes) -> Callable[[str], bytes]:
    """A whole response sent as bytes: ``head`` (b"%d" is the body's length), a blank line, the policy."""
    def response(domain: str) -> bytes:
        body = policy_bytes(domain)
        return head.replace(b"%d", str(len(body)).encode()) + b"\r\n\r\n" + body

    return response


def _raw_row(name: str, head: bytes, code: str = "policy-http-invalid", says: str = "") -> Row:
    return Row(name, code, "error", route=Route(mode=Mode.RAW), body=_raw(head), says=says)


OK_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain"
EARLY_HINTS = b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"


def _without(text: str) -> Callable[[str], bytes]:
    return lambda d: policy_bytes(d).replace(text.format(d=d).encode(), b"")


def _padded(domain: str, size: int) -> bytes:
    """A valid policy of exactly ``size`` bytes: mx1, then patterns no MX uses,
    the first label of the first one lengthened to make up the rest."""
    count = 0
    while len(policy_bytes(domain, mx=("mx1", *(f"p{i:05d}" for i in range(count + 1))))) <= size:
        count += 1
    body = policy_bytes(domain, mx=("mx1", *(f"p{i:05d}" for i in range(count))))
    padded = body.replace(b"mx: p00000.", b"mx: p00000" + b"x" * (size - len(body)) + b".", 1)
    assert len(padded) == size
    return padded


DRIFT_CONFIG = """
domain: {d}
policy:
  mode: {mode}
  mx: [mx1.{d}]
  max_age: 1w
"""

ROWS = [
    Row("sts-missing", "sts-record-missing", "error", records="\n".join([TLSRPT, MX, POLICY_HOST])),
    Row("sts-two", "sts-record-multiple", "error", records=HEALTHY + '\n_mta-sts TXT "v=STSv1; id=other1"'),
    Row("sts-bad-id", "sts-id-invalid", "error", records=HEALTHY.replace("id=abc123", "id=2024-01-01")),
    Row("sts-cname", "sts-record-cname", "info", records="\n".join([f"_mta-sts CNAME _mta-sts.{SHARED}.", TLSRPT, MX, POLICY_HOST])),
    Row("sts-split", "sts-record-split", "info", records=HEALTHY.replace('"v=STSv1; id=abc123"', '"v=STSv1; " "id=abc123"')),
    Row("sts-unrelated-txt", "sts-record-missing", "error", records="\n".join(['_mta-sts TXT "google-site-verification=x"', TLSRPT, MX, POLICY_HOST])),
    Row("tlsrpt-missing", "tlsrpt-record-missing", "warning", records="\n".join([STS, MX, POLICY_HOST])),
    Row("tlsrpt-malformed", "tlsrpt-rua-invalid", "error", records=HEALTHY.replace("rua=mailto:tls@example.net", "rua=ftp://reports.example.net")),
    Row("tlsrpt-one-label", "tlsrpt-rua-one-label", "warning", records=HEALTHY.replace("rua=mailto:tls@example.net", "rua=mailto:tls@localhost")),
    Row("no-mx-records", "mx-records-missing", "warning", records="\n".join([STS, TLSRPT, POLICY_HOST])),
    Row("host-missing", "policy-host-missing", "error", records="\n".join([STS, TLSRPT, MX])),
    Row("redirect", "policy-redirect", "error", route=Route.redirect("https://example.net/.well-known/mta-sts.txt")),
    Row("not-found", "policy-not-found", "error", route=Route(status=404, content_type="text/html", body=b"<h1>404</h1>")),
    Row("server-error", "policy-http-status", "error", route=Route(status=500, body=b"oops\n")),
    Row("text-html", "policy-content-type", "error", route=Route(content_type="text/html")),
    Row("no-content-type", "policy-content-type", "error", route=Route(content_type=None)),
    Row("oversize-length", "policy-too-large", "error", route=Route.oversize()),
    Row("oversize-chunked", "policy-too-large", "error", route=Route.oversize(chunked=True)),
    Row("endless-chunks", "policy-too-large", "error", route=Route(mode=Mode.INFINITE_CHUNKED)),
    Row("endless-header", "policy-http-invalid", "error", route=Route(mode=Mode.ENDLESS_HEADER)),
    Row("reset", "policy-http-invalid", "error", route=Route(mode=Mode.RESET)),
    # Server bytes that once raised ValueError and ended the whole run (issue 11).
    _raw_row("status-superscript", b"HTTP/1.1 2\xb20 OK\r\nContent-Type: text/plain\r\nContent-Length: %d", says="illegal status line"),
    _raw_row("length-superscript", OK_HEAD + b"\r\nContent-Length: \xb9", says="bad Content-Length"),
    _raw_row("length-conflict", OK_HEAD + b"\r\nContent-Length: %d, 1", says="conflicting Content-Length"),
    _raw_row("bad-header-line", OK_HEAD + b"\r\nNo colon here\r\nContent-Length: %d", says="illegal header line"),
    _raw_row("length-short", OK_HEAD + b"\r\nContent-Length: 9%d", says="without sending complete message body"),
    _raw_row("endless-interim", EARLY_HINTS * 2000 + OK_HEAD + b"\r\nContent-Length: %d", says="1xx responses included"),
    # Exactly the 64 KiB senders read is still a policy (unused patterns pad it): a warning, not policy-too-large.
    Row("exactly-64k", "mx-pattern-unused", "warning", body=lambda d: _padded(d, 64 * 1024)),
    Row("exactly-64k-chunked", "mx-pattern-unused", "warning", route=Route(mode=Mode.CHUNKED), body=lambda d: _padded(d, 64 * 1024)),
    Row("drip", "policy-fetch-timeout", "error", route=Route(mode=Mode.DRIP, drip_interval=0.05), timeout=1.0),
    Row("never-respond", "policy-fetch-timeout", "error", route=Route(mode=Mode.NEVER_RESPOND), timeout=1.0),
    Row("self-signed", "policy-cert-untrusted", "error", cert=CertKind.UNTRUSTED),
    Row("wrong-name", "policy-cert-name", "error", cert=CertKind.WRONG_NAME),
    Row("expired", "policy-cert-expired", "error", cert=CertKind.EXPIRED),
    Row("near-expiry", "policy-cert-expiring", "warning", cert=CertKind.NEAR_EXPIRY),
    Row("lf-only", "policy-lf-line-endings", "info", body=lambda d: policy_bytes(d, eol="\n")),
    Row("no-mode", "policy-mode-missing", "error", body=_without("mode: enforce\r\n")),
    Row("bad-max-age", "policy-max-age-invalid", "error", body=lambda d: policy_bytes(d).replace(b"604800", b"1w")),
    Row("front-matter", "policy-front-matter", "error", body=lambda d: b"---\r\nlayout: none\r\n---\r\n" + policy_bytes(d)),
    Row("html-page", "policy-not-a-policy-file", "error", body=lambda d: b"<!DOCTYPE html>\n<html>\n" + b"<p>Welcome</p>\n" * 200 + b"</html>\n"),
    Row("no-mx", "policy-mx-missing", "error", body=_without("mx: mx1.{d}\r\n")),
    Row("uncovered-enforce", "mx-not-covered", "error", records=HEALTHY + "\n@ MX 20 mx2\nmx2 A 127.0.0.1"),
    Row("uncovered-testing", "mx-not-covered", "warning", records=HEALTHY + "\n@ MX 20 mx2\nmx2 A 127.0.0.1", body=lambda d: policy_bytes(d, mode="testing")),
    Row("unused-pattern", "mx-pattern-unused", "warning", body=lambda d: policy_bytes(d, mx=("mx1", "*.backup"))),
    Row("policy-differs", "policy-differs", "error", config=DRIFT_CONFIG.replace("{mode}", "testing")),
    Row("id-stale", "id-stale", "error", config=DRIFT_CONFIG.replace("{mode}", "enforce")),
]


@dataclass
class Servers:
    nameserver: str
    ca_file: Path
    https_port: int
    errors: list = field(default_factory=list)


# Responses a sender reads as the policy: h11 takes them as RFC 9112 and 9110 allow.
ACCEPTED = [
    Row("early-hints", "", "", route=Route(mode=Mode.RAW), body=_raw(EARLY_HINTS + OK_HEAD + b"\r\nContent-Length: %d")),
    Row("two-interims", "", "", route=Route(mode=Mode.RAW),
        body=_raw(b"HTTP/1.1 100 Continue\r\n\r\n" + EARLY_HINTS + OK_HEAD + b"\r\nContent-Length: %d")),
    Row("obs-fold", "", "", route=Route(mode=Mode.RAW), body=_raw(OK_HEAD + b"\r\nCache-Control: max-age=600,\r\n public\r\nContent-Length: %d")),
    Row("length-repeated", "", "", route=Route(mode=Mode.RAW), body=_raw(OK_HEAD + b"\r\nContent-Length: %d, %d")),
    Row("length-twice", "", "", route=Route(mode=Mode.RAW), body=_raw(OK_HEAD + b"\r\nContent-Length: %d\r\nContent-Length: %d")),
    Row("http-1-0-until-close", "", "", route=Route(mode=Mode.RAW), body=_raw(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain")),
    # nginx with default_type and add_header both set; senders (Go, aiohttp) read the first.
    Row("content-type-twice", "", "", route=Route(mode=Mode.RAW), body=_raw(OK_HEAD + b"\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d")),
]


@pytest.fixture(scope="module")
def servers(tmp_path_factory, test_ca):
    require_tool("nsd")
    require_tool("nsd-checkzone")
    zones = {row.domain: minimal_zone(row.domain, row.records) for row in ROWS + ACCEPTED}
    zones[SHARED] = minimal_zone(SHARED, STS)
    nsd = start_nsd(zones, tmp_path_factory.mktemp("nsd"))
    https = TlsServer(test_ca).start()
    for row in ROWS + ACCEPTED:
        host = f"mta-sts.{row.domain}"
        https.route(host, row.route if row.route.body else dataclasses.replace(row.route, body=row.body(row.domain)))
        https.set_cert(host, row.cert)
    yield Servers(nsd.address, test_ca.pem_path, https.port, https.errors)
    https.stop()
    nsd.stop()


def _check(servers: Servers, domain: str, *extra: str, timeout: float = 3.0):
    return run_check_json(
        domain,
        "--nameserver", servers.nameserver,
        "--ca-file", str(servers.ca_file),
        "--connect-to", f":443:127.0.0.1:{servers.https_port}",
        "--timeout", str(timeout),
        *extra,
    )


@pytest.mark.parametrize("row", [pytest.param(r, id=r.name, marks=pytest.mark.timeout(15)) for r in ROWS])
def test_scenario(row: Row, servers: Servers, tmp_path: Path) -> None:
    extra = []
    if row.config is not None:
        config = tmp_path / "mta-sts.yml"
        config.write_text(row.config.replace("{d}", row.domain))
        extra = ["-c", str(config)]
    run = _check(servers, row.domain, *extra, timeout=row.timeout)
    findings = run.findings(row.domain)
    assert (row.code, row.severity) in findings, run.report(row.domain)["findings"]
    if row.says:
        messages = [f["message"] for f in run.report(row.domain)["findings"] if f["code"] == row.code]
        assert any(row.says in m for m in messages), messages
    assert run.code == (1 if any(severity == "error" for _, severity in findings) else 0)
    assert servers.errors == []


@pytest.mark.parametrize("row", [pytest.param(r, id=r.name, marks=pytest.mark.timeout(15)) for r in ACCEPTED])
def test_a_response_that_http_allows_gives_the_policy(row: Row, servers: Servers) -> None:
    run = _check(servers, row.domain)
    report = run.report(row.domain)
    assert report["result"] == "ok", report["findings"]
    assert report["policy"] == {"mode": "enforce", "max_age": 604800, "mx": [f"mx1.{row.domain}"]}
    assert servers.errors == []


@pytest.mark.timeout(15)
def test_healthy_domain_has_no_errors_or_warnings(servers: Servers, tmp_path: Path) -> None:
    """The control row: the same setup as the table, with nothing wrong."""
    report = _check(servers, "sts-split.test").report("sts-split.test")
    assert report["result"] == "ok", report["findings"]
    assert report["sts_id"] == "abc123"
    assert report["policy"] == {"mode": "enforce", "max_age": 604800, "mx": ["mx1.sts-split.test"]}
    assert report["mx_hosts"] == ["mx1.sts-split.test"]
    assert ("smtp-not-checked", "info") in {(f["code"], f["severity"]) for f in report["findings"]}


@pytest.mark.timeout(20)
def test_one_slow_domain_does_not_stall_the_others(servers: Servers) -> None:
    """Two domains at once in one process, a dripping domain first: the other
    slot checks the rest meanwhile, each to its own finding, and they all
    report before the slow domain does. No time bound, so a loaded machine
    passes."""
    fast = [r for r in ROWS if r.name in ("redirect", "not-found", "sts-split", "text-html", "expired")]
    timeout = 3.0
    run = _check(servers, "drip.test", *(r.domain for r in fast), "--concurrency", "2", "--workers", "1", timeout=timeout)
    assert [r["domain"] for r in run.reports][-1] == "drip.test"  # JSON lines come as domains finish
    for row in fast:
        assert (row.code, row.severity) in run.findings(row.domain)
    assert ("policy-fetch-timeout", "error") in run.findings("drip.test")


@pytest.mark.timeout(15)
@pytest.mark.parametrize(
    ("server", "code"),
    [pytest.param(servfail_dns, "dns-lookup-failed", id="servfail"), pytest.param(blackhole_dns, "dns-timeout", id="silent")],
)
def test_a_failing_name_server_is_reported_not_mistaken_for_missing_records(server, code: str, test_ca) -> None:
    with server() as dns:
        run = run_check_json("example.test", "--nameserver", dns.address, "--ca-file", str(test_ca.pem_path), "--timeout", "1")
    findings = run.findings("example.test")
    assert (code, "error") in findings
    assert not {c for c, _ in findings} & {"sts-record-missing", "tlsrpt-record-missing", "mx-records-missing", "policy-host-missing"}
    assert run.code == 1


@pytest.mark.timeout(15)
def test_a_policy_host_without_tls_1_2_is_reported(servers: Servers, test_ca) -> None:
    """Its own server: the table's server picks certificates by SNI, after the
    TLS version is settled, so it cannot limit the version for one name."""
    domain = "sts-split.test"
    with TlsServer(test_ca, only=CertKind.OLD_TLS) as old:
        old.route(f"mta-sts.{domain}", Route(body=policy_bytes(domain)))
        run = run_check_json(domain, "--nameserver", servers.nameserver, "--ca-file", str(servers.ca_file),
                             "--connect-to", f":443:127.0.0.1:{old.port}", "--timeout", "3")
    report = run.report(domain)
    failed = [f for f in report["findings"] if f["code"] == "policy-tls-failed"]
    assert failed and "offers no TLS 1.2 or later" in failed[0]["message"], report["findings"]
