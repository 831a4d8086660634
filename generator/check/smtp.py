"""The MX probe (`--smtp`): connect on port 25, EHLO, STARTTLS, and verify TLS
as an MTA-STS sender would (RFC 8461 §4.1-4.2, §7.1-7.2)."""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import re
import socket
import ssl
from dataclasses import dataclass

from generator.check import codes, dns, tls
from generator.check.connect import ConnectError, LineTooLong, open_stream, read_line
from generator.check.deadline import remaining
from generator.check.options import ConnectTo
from generator.findings import Finding, error

SMTP_PORT = 25
MAX_REPLY_LINES = 100
# RFC 5321 §4.2: three ASCII digits, then a space, a hyphen or the end.
# Not str.isdigit(): it also accepts "²", which int() then refuses.
_REPLY_CODE = re.compile(r"[0-9]{3}(?=[ -]|\Z)")


class Status(enum.Enum):
    OK = "ok"
    CONNECT_FAILED = "connect-failed"
    PROTOCOL = "protocol"  # a reply that is not the expected success
    NO_STARTTLS = "no-starttls"
    TLS_FAILED = "tls-failed"  # see tls_problem
    TIMEOUT = "timeout"


@dataclass(frozen=True)
class ProbeResult:
    host: str
    status: Status
    detail: str = ""
    tls_problem: tls.Problem | None = None
    tls_version: str | None = None
    cert_days_left: float | None = None
    names: tuple[str, ...] | None = None  # the certificate's DNS names (after a name mismatch: read again without the name check)


class _Failure(Exception):
    def __init__(self, status: Status, detail: str) -> None:
        super().__init__(detail)
        self.status = status


def ehlo_name() -> str:
    """The name we greet with: this machine's if it is a FQDN, else 'localhost'."""
    name = socket.gethostname()
    return name if "." in name and name.isascii() else "localhost"


def _timed_out(host: str) -> ProbeResult:
    return ProbeResult(host, Status.TIMEOUT, "no STARTTLS session before the deadline")


async def probe_mx(
    host: str, *, rules: tuple[ConnectTo, ...], resolver: dns.Resolver, context: ssl.SSLContext, deadline: float, helo: str,
    names_context: ssl.SSLContext | None = None,
) -> ProbeResult:
    """Talk to MX ``host`` up to a verified STARTTLS; never raises for a network
    problem. After a name mismatch, with ``names_context`` (the same trust,
    no name check), a second session reads which names the certificate carries."""
    try:
        async with asyncio.timeout_at(deadline):
            result = await _probe(host, rules, resolver, context, deadline, helo)
            if result.tls_problem is tls.Problem.NAME and names_context is not None:
                again = await _probe(host, rules, resolver, names_context, deadline, helo)
                if again.status is Status.OK:
                    result = dataclasses.replace(result, names=again.names)
            return result
    except TimeoutError:
        return _timed_out(host)


class MxProbes:
    """One probe per MX host per run, shared by every domain that uses it.

    Domains at one mail provider share its MX hosts; the provider then sees
    one connection instead of one per domain (and does not rate-limit us).
    A probe runs under the deadline of the domain that started it, so a
    timeout is shared only with domains whose deadline is no later: a domain
    with more time left probes again under its own.
    """

    def __init__(self, rules: tuple[ConnectTo, ...], resolver: dns.Resolver, context: ssl.SSLContext,
                 names_context: ssl.SSLContext | None = None) -> None:
        self._rules = rules
        self._resolver = resolver
        self._context = context
        self._names_context = names_context
        self._helo = ehlo_name()
        self._probes: dict[str, tuple[asyncio.Task[ProbeResult], float]] = {}  # host: (probe, its deadline)

    def _start(self, host: str, deadline: float) -> tuple[asyncio.Task[ProbeResult], float]:
        task = asyncio.create_task(
            probe_mx(host, rules=self._rules, resolver=self._resolver, context=self._context, deadline=deadline, helo=self._helo,
                     names_context=self._names_context)
        )
        self._probes[host] = (task, deadline)
        return task, deadline

    async def probe(self, host: str, deadline: float) -> ProbeResult:
        try:
            async with asyncio.timeout_at(deadline):
                while True:
                    task, until = self._probes.get(host) or self._start(host, deadline)
                    result = await asyncio.shield(task)
                    if result.status is not Status.TIMEOUT or until >= deadline:
                        return result
                    if self._probes[host][0] is task:  # else another domain already probes again
                        del self._probes[host]
        except TimeoutError:
            return _timed_out(host)


async def _probe(host: str, rules, resolver, context, deadline, helo) -> ProbeResult:
    try:
        reader, writer = await open_stream(host, SMTP_PORT, rules=rules, resolver=resolver, deadline=deadline)
    except ConnectError as exc:
        return ProbeResult(host, Status.CONNECT_FAILED, str(exc))
    try:
        await _expect(reader, 220, "greeting")
        keywords = await _ehlo(reader, writer, helo)
        if "STARTTLS" not in keywords:
            writer.write(b"QUIT\r\n")
            return ProbeResult(host, Status.NO_STARTTLS, f"EHLO offers {', '.join(sorted(keywords)) or 'no extensions'}")
        writer.write(b"STARTTLS\r\n")
        await _expect(reader, 220, "STARTTLS")
        try:
            await writer.start_tls(context, server_hostname=host, ssl_handshake_timeout=remaining(deadline))
        except ssl.SSLError as exc:
            problem, detail = tls.classify(exc)
            return ProbeResult(host, Status.TLS_FAILED, detail, tls_problem=problem)
        ssl_object = writer.get_extra_info("ssl_object")
        writer.write(b"QUIT\r\n")
        cert = writer.get_extra_info("peercert")
        return ProbeResult(host, Status.OK, tls_version=ssl_object.version(), cert_days_left=tls.days_left(cert), names=tls.dns_names(cert))
    except _Failure as exc:
        return ProbeResult(host, exc.status, str(exc))
    except LineTooLong as exc:
        return ProbeResult(host, Status.PROTOCOL, str(exc))
    except (asyncio.IncompleteReadError, ConnectionError) as exc:
        return ProbeResult(host, Status.PROTOCOL, f"the server closed the connection ({exc.__class__.__name__})")
    except OSError as exc:
        return ProbeResult(host, Status.CONNECT_FAILED, exc.strerror or str(exc))
    finally:
        # Abort, not close: a TLS close waits for the peer's close_notify,
        # which some servers never send, and we have all we need.
        writer.transport.abort()


async def _reply(reader: asyncio.StreamReader) -> tuple[int, list[str]]:
    """One SMTP reply (RFC 5321 §4.2): its code and the text of each line."""
    lines: list[str] = []
    while len(lines) < MAX_REPLY_LINES:
        line = (await read_line(reader)).decode("latin-1").rstrip("\r\n")
        if not _REPLY_CODE.match(line):
            raise _Failure(Status.PROTOCOL, f"not an SMTP reply: {line[:60]!r}")
        lines.append(line[4:])
        if line[3:4] != "-":
            return int(line[:3]), lines
    raise _Failure(Status.PROTOCOL, f"a reply of more than {MAX_REPLY_LINES} lines")


async def _expect(reader: asyncio.StreamReader, code: int, step: str) -> list[str]:
    got, lines = await _reply(reader)
    if got != code:
        raise _Failure(Status.PROTOCOL, f"{step} answered {got} {' '.join(lines)[:120]}".rstrip())
    return lines


async def _ehlo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, helo: str) -> set[str]:
    writer.write(f"EHLO {helo}\r\n".encode("ascii"))
    lines = await _expect(reader, 250, "EHLO")
    return {line.split(" ", 1)[0].upper() for line in lines[1:] if line}


SMTP_TLS = tls.TlsCodes(
    untrusted=codes.SMTP_CERT_UNTRUSTED,
    name=codes.SMTP_CERT_NAME,
    expired=codes.SMTP_CERT_EXPIRED,
    expiring=codes.SMTP_CERT_EXPIRING,
    version=codes.SMTP_TLS_VERSION,
    handshake=codes.SMTP_TLS_FAILED,
)


def probe_findings(result: ProbeResult) -> list[Finding]:
    """What an MTA-STS sender concludes from the probe of one MX host."""
    host = result.host
    match result.status:
        case Status.OK:
            return tls.expiry_finding(SMTP_TLS, result.cert_days_left, host, "MX host")
        case Status.CONNECT_FAILED:
            return [error(codes.SMTP_CONNECT_FAILED, f"cannot connect to MX host {host} port 25: {result.detail}",
                          f"make {host} resolve and accept connections on port 25 (from here, too: some networks block port 25)")]
        case Status.PROTOCOL:
            return [error(codes.SMTP_PROTOCOL, f"MX host {host}: {result.detail}",
                          f"check the mail server on {host}; it must greet with 220 and answer EHLO with 250")]
        case Status.NO_STARTTLS:
            return [error(codes.SMTP_STARTTLS_MISSING, f"MX host {host} does not offer STARTTLS ({result.detail}); MTA-STS senders cannot deliver securely",
                          f"enable STARTTLS on {host} with a certificate naming {host}")]
        case Status.TLS_FAILED:
            return [tls.problem_finding(SMTP_TLS, result.tls_problem, result.detail, host, "MX host", result.names)]
        case _:
            return [error(codes.SMTP_TIMEOUT, f"MX host {host}: {result.detail}",
                          f"make {host} answer promptly (greeting delays of many seconds make senders give up)")]
