"""The test servers really serve what they are told to, and fail as they are told to."""

from __future__ import annotations

import datetime
import http.client
import smtplib
import socket
import ssl
import time
from collections.abc import Callable
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.resolver
import dns.tsigkeyring
import dns.update
import pytest

from tests.support import tools
from tests.support.bad_dns import ScriptedDns, blackhole_dns, servfail_dns, truncating_dns, zone_answer
from tests.support.bind_server import TsigKey, start_named
from tests.support.certs import NEAR_EXPIRY_DAYS, CertKind, LocalCA
from tests.support.dns_server import NsdServer, ZoneError, minimal_zone, start_nsd
from tests.support.fixtures import DnsServerFactory, SmtpServerFactory, TlsServerFactory
from tests.support.smtp_server import SmtpServer
from tests.support.tls_server import POLICY_LIMIT, Mode, Route, TlsServer

pytestmark = pytest.mark.timeout(20)

POLICY = b"version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmax_age: 604800\r\n"
HOST = "mta-sts.example.com"
BIG_TXT = " ".join(f'"{"s" * 200}-{n}"' for n in range(5))  # ~1 KiB, over 512 bytes

EXAMPLE_RECORDS = """
_mta-sts          TXT   "v=STSv1; " "id=20240101T000000"
_smtp._tls        TXT   "v=TLSRPTv1; rua=mailto:tls@example.com"
@                 MX    10 mx1
mx1               A     127.0.0.2
mta-sts           CNAME example-org.github.io.
_mta-sts.alias    CNAME _mta-sts
"""


def _join(answer: dns.resolver.Answer) -> list[bytes]:
    """Each TXT record of the answer, its strings joined as a sender does."""
    return [b"".join(rdata.strings) for rdata in answer]


# --- NSD ---------------------------------------------------------------------


def test_nsd_serves_txt_mx_a_cname(dns_server_factory: DnsServerFactory) -> None:
    server = dns_server_factory({"example.com": minimal_zone("example.com", EXAMPLE_RECORDS)})
    resolver = server.resolver()

    sts = resolver.resolve("_mta-sts.example.com", "TXT")
    assert [rdata.strings for rdata in sts] == [(b"v=STSv1; ", b"id=20240101T000000")]
    assert _join(resolver.resolve("_smtp._tls.example.com", "TXT")) == [
        b"v=TLSRPTv1; rua=mailto:tls@example.com"
    ]
    mx = resolver.resolve("example.com", "MX")
    assert [(r.preference, r.exchange.to_text()) for r in mx] == [(10, "mx1.example.com.")]
    assert [r.address for r in resolver.resolve("mx1.example.com", "A")] == ["127.0.0.2"]
    cname = resolver.resolve("mta-sts.example.com", "CNAME")
    assert [r.target.to_text() for r in cname] == ["example-org.github.io."]
    followed = resolver.resolve("_mta-sts.alias.example.com", "TXT")
    assert followed.canonical_name.to_text() == "_mta-sts.example.com."
    assert _join(followed) == [b"v=STSv1; id=20240101T000000"]
    with pytest.raises(dns.resolver.NXDOMAIN):
        resolver.resolve("missing.example.com", "TXT")


def test_nsd_serves_many_zones_and_stops(tmp_path: Path) -> None:
    tools.require_tool("nsd")
    tools.require_tool("nsd-checkzone")
    zones = {
        f"d{n}.test": minimal_zone(f"d{n}.test", f'_mta-sts TXT "v=STSv1; id={n}"')
        for n in range(25)
    }
    with start_nsd(zones, tmp_path) as server:
        resolver = server.resolver()
        for n in (0, 12, 24):
            txt = resolver.resolve(f"_mta-sts.d{n}.test", "TXT")
            assert _join(txt) == [f"v=STSv1; id={n}".encode()]
    assert server.process.poll() is not None
    assert not server.answers("d0.test")


def test_nsd_truncates_oversized_udp_answers(dns_server_factory: DnsServerFactory) -> None:
    server = dns_server_factory({"example.com": minimal_zone("example.com", f"big TXT {BIG_TXT}")})
    query = dns.message.make_query("big.example.com", "TXT")  # no EDNS: 512-byte limit
    udp_reply = dns.query.udp(query, server.host, port=server.port, timeout=2)
    assert udp_reply.flags & dns.flags.TC
    tcp_reply = dns.query.tcp(query, server.host, port=server.port, timeout=2)
    assert len(b"".join(tcp_reply.answer[0][0].strings)) > 1000


def test_bad_zone_is_rejected_before_start(tmp_path: Path) -> None:
    tools.require_tool("nsd-checkzone")
    zones = {
        "good.test": minimal_zone("good.test"),
        "bad.test": minimal_zone("bad.test", "www BOGUS 1"),
    }
    with pytest.raises(ZoneError, match=r"zone bad\.test\.(.|\n)*BOGUS"):
        start_nsd(zones, tmp_path)


# --- misbehaving DNS ----------------------------------------------------------


def test_named_takes_updates_signed_with_its_key_only(tmp_path: Path) -> None:
    tools.require_tool("named")
    key = TsigKey.random()
    with start_named({"example.com": minimal_zone("example.com", EXAMPLE_RECORDS)}, tmp_path, key) as server:
        before = server.transfer("example.com")
        assert ("_mta-sts.example.com.", 300, "TXT", '"v=STSv1; " "id=20240101T000000"') in before

        def update(secret: str) -> int:
            message = dns.update.UpdateMessage("example.com", keyring=dns.tsigkeyring.from_text({key.name: secret}),
                                               keyalgorithm=key.algorithm)
            message.add("www", 300, "A", "192.0.2.80")
            try:
                return dns.query.tcp(message, server.host, port=server.port, timeout=5).rcode()
            except dns.exception.DNSException:  # dnspython refuses a reply signed with another key
                return dns.rcode.NOTAUTH

        assert update(TsigKey.random().secret) != dns.rcode.NOERROR
        assert server.transfer("example.com") == before
        assert update(key.secret) == dns.rcode.NOERROR
        assert set(server.transfer("example.com")) - set(before) == {("www.example.com.", 300, "A", "192.0.2.80")}


def test_named_tries_another_port_when_the_probed_one_is_taken_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Between the free-port probe and named binding the port, any process
    (a resolver's UDP socket) may take it: named then exits, and start_named
    must try another port rather than fail the test."""
    tools.require_tool("named")
    from tests.support import bind_server

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("0.0.0.0", 0))
        lost = taken.getsockname()[1]
        probes = iter([lost, bind_server._free_port()])
        monkeypatch.setattr(bind_server, "_free_port", lambda: next(probes))
        with start_named({"example.com": minimal_zone("example.com")}, tmp_path, TsigKey.random()) as server:
            assert server.port != lost
            assert server.answers("example.com")


def test_the_start_up_probe_skips_a_late_answer_to_an_earlier_probe(tmp_path: Path) -> None:
    """A probe that timed out may be answered after all, at a source port a
    later probe gets again: that probe skips the stray answer."""
    soa = zone_answer(minimal_zone("example.com"), "example.com")

    def late_then_due(query: dns.message.Message, over_tcp: bool) -> list[bytes]:
        earlier = dns.message.make_query("example.com", "SOA", id=(query.id + 1) % 65536)
        return [dns.message.make_response(earlier).to_wire(), soa(query, over_tcp).to_wire()]

    with ScriptedDns(late_then_due) as server:
        assert NsdServer(None, server.port, tmp_path).answers("example.com")
        assert server.errors == []


def test_blackhole_dns_never_answers() -> None:
    with blackhole_dns() as server:
        query = dns.message.make_query("example.com", "TXT")
        with pytest.raises(dns.exception.Timeout):
            dns.query.udp(query, server.host, port=server.port, timeout=0.3)
        assert server.queries == [("example.com.", "TXT", "udp")]


def test_servfail_dns_fails_everything() -> None:
    with servfail_dns() as server:
        query = dns.message.make_query("example.com", "TXT")
        for ask in (dns.query.udp, dns.query.tcp):
            reply = ask(query, server.host, port=server.port, timeout=2)
            assert reply.rcode() == dns.rcode.SERVFAIL
        assert server.errors == []


def test_truncating_dns_needs_tcp() -> None:
    zone = minimal_zone("example.com", f"_mta-sts TXT {BIG_TXT}")
    query = dns.message.make_query("_mta-sts.example.com", "TXT")
    with truncating_dns(zone, "example.com") as server:
        udp_reply = dns.query.udp(query, server.host, port=server.port, timeout=2)
        assert udp_reply.flags & dns.flags.TC and not udp_reply.answer
        txt = server.resolver().resolve("_mta-sts.example.com", "TXT")
        assert len(_join(txt)[0]) > 1000
        assert [transport for *_, transport in server.queries] == ["udp", "udp", "tcp"]
        assert server.errors == []
    with (
        truncating_dns(zone, "example.com", tcp=False) as server,
        pytest.raises(ConnectionRefusedError),
    ):
        dns.query.tcp(query, server.host, port=server.port, timeout=2)


# --- HTTPS ----------------------------------------------------------------------


def _connect(server: TlsServer, host: str, context: ssl.SSLContext) -> ssl.SSLSocket:
    """A verified TLS connection to the server, sending SNI ``host``."""
    sock = socket.create_connection((server.host, server.port), timeout=5)
    return context.wrap_socket(sock, server_hostname=host)


def _get(
    server: TlsServer, host: str, path: str, context: ssl.SSLContext
) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection(host)
    connection.sock = _connect(server, host, context)
    connection.request("GET", path)
    return connection.getresponse()


Https = tuple[TlsServer, ssl.SSLContext]


@pytest.fixture
def https(tls_server_factory: TlsServerFactory, test_ca: LocalCA) -> Https:
    """A started server and a client context that trusts its CA file only."""
    return tls_server_factory(), ssl.create_default_context(cafile=str(test_ca.pem_path))


def test_https_serves_policy_and_records_requests(https: Https) -> None:
    server, context = https
    server.route(HOST, Route(body=POLICY), path="/.well-known/mta-sts.txt")

    response = _get(server, HOST, "/.well-known/mta-sts.txt?x=1", context)
    assert (response.status, response.getheader("Content-Type")) == (200, "text/plain")
    assert response.read() == POLICY
    assert _get(server, HOST, "/other", context).status == 404
    assert [(r.sni, r.host, r.method, r.path) for r in server.requests] == [
        (HOST, HOST, "GET", "/.well-known/mta-sts.txt"),
        (HOST, HOST, "GET", "/other"),
    ]
    assert server.ca_pem_path.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    assert server.errors == []


def test_https_issues_a_certificate_per_sni_name(https: Https) -> None:
    server, context = https
    for n in range(30):
        host = f"mta-sts.d{n}.test"
        server.route(host, Route(body=f"domain {n}".encode()))
        assert _get(server, host, "/", context).read() == f"domain {n}".encode()


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        (CertKind.WRONG_NAME, "Hostname mismatch"),
        (CertKind.UNTRUSTED, "unable to get local issuer certificate"),
        (CertKind.EXPIRED, "certificate has expired"),
    ],
)
def test_https_bad_certificates_fail_verification(
    https: Https, kind: CertKind, reason: str
) -> None:
    server, context = https
    server.set_cert(HOST, kind)
    with pytest.raises(ssl.SSLCertVerificationError, match=reason):
        _connect(server, HOST, context)


def test_https_github_io_certificate_names_only_github_io(https: Https) -> None:
    """What Pages presents for a custom domain it does not know: trusted, wrong name."""
    server, context = https
    server.set_cert(HOST, CertKind.GITHUB_IO)
    with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
        _connect(server, HOST, context)
    context.check_hostname = False
    with _connect(server, HOST, context) as tls:
        cert = tls.getpeercert()
    assert cert is not None and cert["subjectAltName"] == (("DNS", "*.github.io"), ("DNS", "github.io"))


def test_https_near_expiry_certificate_verifies(https: Https) -> None:
    server, context = https
    server.set_cert(HOST, CertKind.NEAR_EXPIRY)
    with _connect(server, HOST, context) as tls:
        cert = tls.getpeercert()
    assert cert is not None and isinstance(cert["notAfter"], str)
    not_after = ssl.cert_time_to_seconds(cert["notAfter"])
    left = datetime.timedelta(seconds=not_after - time.time())
    assert (
        datetime.timedelta(days=NEAR_EXPIRY_DAYS - 1)
        < left
        <= datetime.timedelta(days=NEAR_EXPIRY_DAYS)
    )


def test_https_serves_a_built_site_like_pages(https: Https, tmp_path: Path) -> None:
    server, context = https
    (tmp_path / ".well-known").mkdir()
    (tmp_path / ".well-known" / "mta-sts.txt").write_bytes(POLICY)
    (tmp_path / "index.html").write_text("<p>hello</p>")
    (tmp_path.parent / "secret.txt").write_text("outside the site")
    server.serve_directory(HOST, tmp_path)

    policy = _get(server, HOST, "/.well-known/mta-sts.txt", context)
    assert policy.getheader("Content-Type") == "text/plain; charset=utf-8"
    assert policy.read() == POLICY
    index = _get(server, HOST, "/", context)
    assert (index.getheader("Content-Type"), index.read()) == (
        "text/html; charset=utf-8",
        b"<p>hello</p>",
    )
    assert _get(server, HOST, "/missing.txt", context).status == 404
    assert _get(server, HOST, "/../secret.txt", context).status == 404
    assert _get(server, HOST, "/%2e%2e/secret.txt", context).status == 404


def _read_for(tls: ssl.SSLSocket, seconds: float) -> bytes:
    """Whatever arrives within ``seconds`` (stops early at EOF)."""
    data = b""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        tls.settimeout(left)
        try:
            piece = tls.recv(65536)
        except TimeoutError:
            break
        if not piece:
            break
        data += piece
    return data


def _raw_get(server: TlsServer, context: ssl.SSLContext, seconds: float) -> bytes:
    with _connect(server, HOST, context) as tls:
        tls.sendall(f"GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
        return _read_for(tls, seconds)


def test_https_redirect(https: Https) -> None:
    server, context = https
    server.route(HOST, Route.redirect("https://elsewhere.example/"))
    response = _get(server, HOST, "/.well-known/mta-sts.txt", context)
    assert (response.status, response.getheader("Location")) == (
        301,
        "https://elsewhere.example/",
    )


def test_https_chunked_body_reassembles(https: Https) -> None:
    server, context = https
    body = POLICY * 500
    server.route(HOST, Route(body=body, mode=Mode.CHUNKED))
    response = _get(server, HOST, "/.well-known/mta-sts.txt", context)
    assert response.getheader("Transfer-Encoding") == "chunked"
    assert response.read() == body


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_https_oversize_bodies(https: Https, chunked: bool) -> None:
    server, context = https
    server.route(HOST, Route.oversize(chunked=chunked))
    response = _get(server, HOST, "/.well-known/mta-sts.txt", context)
    length = response.getheader("Content-Length")
    assert (length is None) == chunked
    assert len(response.read()) == POLICY_LIMIT + 1


def _endless_head(data: bytes) -> bool:
    return data.count(b"X-Filler-") > 1000 and b"\r\n\r\n" not in data


@pytest.mark.parametrize(
    ("mode", "check"),
    [
        pytest.param(Mode.DRIP, lambda data: 0 < len(data) < 10, id="drip"),
        pytest.param(Mode.NEVER_RESPOND, lambda data: data == b"", id="never-respond"),
        pytest.param(Mode.ENDLESS_HEADER, _endless_head, id="endless-header"),
        pytest.param(
            Mode.INFINITE_CHUNKED,
            lambda data: len(data) > 4 * POLICY_LIMIT,
            id="infinite-chunked",
        ),
    ],
)
def test_https_modes_that_never_finish(
    https: Https, mode: Mode, check: Callable[[bytes], bool]
) -> None:
    server, context = https
    server.route(HOST, Route(body=POLICY, mode=mode, drip_interval=0.2))
    assert check(_raw_get(server, context, seconds=0.6))
    assert server.errors == []


def test_https_raw_mode_sends_the_bytes_as_they_are(https: Https) -> None:
    server, context = https
    raw = b"HTTP/1.1 2\xb20 OK\r\nContent-Length: \xb9\r\n obs-fold\r\n\r\nbody"
    server.route(HOST, Route(body=raw, mode=Mode.RAW))
    assert _raw_get(server, context, seconds=5) == raw
    assert server.errors == []


def test_https_reset_after_request(https: Https) -> None:
    server, context = https
    server.route(HOST, Route(body=POLICY, mode=Mode.RESET))
    # OpenSSL reports the RST to Python as an EOF, so the client sees a drop.
    with pytest.raises(http.client.RemoteDisconnected):
        _get(server, HOST, "/.well-known/mta-sts.txt", context)
    assert len(server.requests) == 1


def test_https_stop_cuts_hanging_connections(test_ca: LocalCA) -> None:
    server = TlsServer(test_ca).start()
    context = test_ca.client_context()
    server.route(HOST, Route(body=POLICY, mode=Mode.DRIP, drip_interval=5))
    server.route("hang.test", Route(mode=Mode.NEVER_RESPOND))
    clients = [_connect(server, HOST, context), _connect(server, "hang.test", context)]
    for tls in clients:
        tls.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    idle = socket.create_connection((server.host, server.port))  # never handshakes
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 2
    for sock in (*clients, idle):
        sock.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((server.host, server.port), timeout=1)


# --- SMTP ---------------------------------------------------------------------

MX = "mx1.example.com"


class LoopbackSMTP(smtplib.SMTP):
    """Talks to 127.0.0.1 but names (and verifies) the MX host, as a sender would."""

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return socket.create_connection(("127.0.0.1", port), timeout)


def test_smtp_starttls_with_good_certificate(
    smtp_server_factory: SmtpServerFactory, test_ca: LocalCA
) -> None:
    server = smtp_server_factory(MX)
    assert isinstance(server, SmtpServer)
    with LoopbackSMTP(MX, server.port, timeout=5) as smtp:
        smtp.ehlo("sender.test")
        assert smtp.has_extn("starttls")
        smtp.starttls(context=test_ca.client_context())
        assert isinstance(smtp.sock, ssl.SSLSocket)
        assert smtp.sock.version() in {"TLSv1.2", "TLSv1.3"}
        assert smtp.ehlo("sender.test")[0] == 250
        assert smtp.sendmail("a@sender.test", ["b@example.com"], b"Subject: hi\r\n\r\nhi\r\n") == {}
    assert server.connections == 1


def test_smtp_without_starttls(smtp_server_factory: SmtpServerFactory, test_ca: LocalCA) -> None:
    server = smtp_server_factory(MX, cert=None)
    with LoopbackSMTP(MX, server.port, timeout=5) as smtp:
        smtp.ehlo("sender.test")
        assert not smtp.has_extn("starttls")
        with pytest.raises(smtplib.SMTPNotSupportedError):
            smtp.starttls(context=test_ca.client_context())


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        (CertKind.WRONG_NAME, "Hostname mismatch"),
        (CertKind.EXPIRED, "certificate has expired"),
        (CertKind.UNTRUSTED, "unable to get local issuer certificate"),
    ],
)
def test_smtp_bad_certificates_fail(
    smtp_server_factory: SmtpServerFactory, test_ca: LocalCA, kind: CertKind, reason: str
) -> None:
    server = smtp_server_factory(MX, cert=kind)
    with LoopbackSMTP(MX, server.port, timeout=5) as smtp:
        smtp.ehlo("sender.test")
        with pytest.raises(ssl.SSLCertVerificationError, match=reason):
            smtp.starttls(context=test_ca.client_context())


def test_smtp_stop_drops_open_sessions(test_ca: LocalCA) -> None:
    server = SmtpServer(test_ca, MX).start()
    smtp = LoopbackSMTP(MX, server.port, timeout=5)
    smtp.ehlo("sender.test")
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 2
    with pytest.raises(smtplib.SMTPServerDisconnected):
        smtp.noop()
    smtp.close()


def test_smtp_without_banner_times_out(smtp_server_factory: SmtpServerFactory) -> None:
    server = smtp_server_factory(MX, banner=False)
    with pytest.raises(smtplib.SMTPServerDisconnected, match="timed out"):
        LoopbackSMTP(MX, server.port, timeout=0.5)


# --- tools --------------------------------------------------------------------


def test_require_tool_finds_an_installed_tool() -> None:
    assert Path(tools.require_tool("sh")).name == "sh"


@pytest.mark.parametrize(
    ("ci", "outcome"),
    [("true", pytest.fail.Exception), ("", pytest.skip.Exception)],
    ids=["ci-fails", "local-skips"],
)
def test_require_tool_missing(monkeypatch: pytest.MonkeyPatch, ci: str, outcome: type) -> None:
    monkeypatch.setenv("CI", ci)
    monkeypatch.setitem(tools.DEBIAN_PACKAGES, "no-such-tool", "some-package")
    with pytest.raises(outcome, match="apt-get install -y some-package"):
        tools.require_tool("no-such-tool")
