"""The policy fetch: a small HTTP/1.1 client that behaves like a careful sender.

No redirect is followed (RFC 8461 §3.3), the body is capped at 64 KiB both
by Content-Length and while streaming (chunked or not), and the whole fetch,
handshake included, runs under the domain's one deadline.
"""

from __future__ import annotations

import asyncio
import enum
import re
import ssl
from dataclasses import dataclass

from generator import __version__
from generator.check import codes, dns, tls
from generator.check.connect import ConnectError, LineTooLong, open_stream, read_line
from generator.check.options import ConnectTo
from generator.findings import Finding, error
from generator.policy import MAX_POLICY_BYTES

POLICY_PATH = "/.well-known/mta-sts.txt"
HEAD_LIMIT = 32 * 1024  # status line and headers together
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,8}")


class Status(enum.Enum):
    OK = "ok"  # a complete response; see http_status
    CONNECT_FAILED = "connect-failed"
    TLS_FAILED = "tls-failed"  # see tls_problem
    TOO_LARGE = "too-large"
    INVALID = "invalid"  # not HTTP/1.x, bad framing, cut short
    TIMEOUT = "timeout"


@dataclass(frozen=True)
class FetchResult:
    status: Status
    detail: str = ""
    tls_problem: tls.Problem | None = None
    http_status: int | None = None
    headers: dict[str, str] | None = None  # lowercase names; repeated headers joined with ", "
    body: bytes | None = None
    cert_days_left: float | None = None

    @property
    def media_type(self) -> str | None:
        """The Content-Type without parameters, lowercase; None when absent."""
        value = (self.headers or {}).get("content-type")
        return value.split(";", 1)[0].strip().lower() if value is not None else None


class _Failure(Exception):
    def __init__(self, status: Status, detail: str) -> None:
        super().__init__(detail)
        self.status = status


async def fetch_policy(
    host: str, *, rules: tuple[ConnectTo, ...], resolver: dns.Resolver, context: ssl.SSLContext, deadline: float,
    addresses: tuple[str, ...] = (),
) -> FetchResult:
    """GET ``https://<host>/.well-known/mta-sts.txt``; never raises for a network problem.

    ``addresses``: the host's, when already looked up (see ``open_stream``).
    """
    try:
        async with asyncio.timeout_at(deadline):
            return await _fetch(host, rules, resolver, context, deadline, addresses)
    except TimeoutError:
        return FetchResult(Status.TIMEOUT, "no complete response before the deadline")


async def _fetch(host: str, rules, resolver, context, deadline, addresses) -> FetchResult:
    try:
        reader, writer = await open_stream(host, 443, rules=rules, resolver=resolver, deadline=deadline, tls=context, addresses=addresses)
    except ConnectError as exc:
        return FetchResult(Status.CONNECT_FAILED, str(exc))
    except ssl.SSLError as exc:
        problem, detail = tls.classify(exc)
        return FetchResult(Status.TLS_FAILED, detail, tls_problem=problem)
    except OSError as exc:
        return FetchResult(Status.CONNECT_FAILED, exc.strerror or str(exc))
    days = tls.days_left(writer.get_extra_info("ssl_object"))
    try:
        writer.write(
            f"GET {POLICY_PATH} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: mta-sts-pages/{__version__}\r\n"
            "Accept: */*\r\nConnection: close\r\n\r\n".encode("ascii")
        )
        await writer.drain()
        status, headers = await _read_head(reader)
        body = await _read_body(reader, headers) if status == 200 else None
    except _Failure as exc:
        return FetchResult(exc.status, str(exc), cert_days_left=days)
    except LineTooLong as exc:
        return FetchResult(Status.INVALID, str(exc), cert_days_left=days)
    except (asyncio.IncompleteReadError, ConnectionError) as exc:
        return FetchResult(Status.INVALID, f"the connection ended early ({exc.__class__.__name__})", cert_days_left=days)
    except OSError as exc:
        return FetchResult(Status.INVALID, f"the connection failed ({exc.strerror or exc})", cert_days_left=days)
    finally:
        # Abort, not close: a TLS close waits for the peer's close_notify,
        # which some servers never send, and we have all we need.
        writer.transport.abort()
    joined = {name: ", ".join(values) for name, values in headers.items()}
    return FetchResult(Status.OK, http_status=status, headers=joined, body=body, cert_days_left=days)


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, list[str]]]:
    first = await read_line(reader)
    parts = first.decode("latin-1").rstrip("\r\n").split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not (parts[1].isdigit() and len(parts[1]) == 3):
        raise _Failure(Status.INVALID, f"not an HTTP/1.x status line: {first[:60]!r}")
    size = len(first)
    headers: dict[str, list[str]] = {}
    while True:
        line = await read_line(reader)
        size += len(line)
        if size > HEAD_LIMIT:
            raise _Failure(Status.INVALID, f"the response head is longer than {HEAD_LIMIT // 1024} KiB")
        text = line.decode("latin-1").rstrip("\r\n")
        if not text:
            return int(parts[1]), headers
        name, sep, value = text.partition(":")
        if not sep or not name or name != name.strip():
            raise _Failure(Status.INVALID, f"malformed header line {text[:60]!r}")
        headers.setdefault(name.lower(), []).append(value.strip())


def _too_large(how: str) -> _Failure:
    return _Failure(Status.TOO_LARGE, f"the policy is over {MAX_POLICY_BYTES} bytes ({how})")


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, list[str]]) -> bytes:
    codings = ",".join(headers.get("transfer-encoding", [])).lower()
    if codings:
        if [c.strip() for c in codings.split(",")] != ["chunked"]:
            raise _Failure(Status.INVALID, f"unsupported Transfer-Encoding {codings!r}")
        return await _read_chunked(reader)
    lengths = set(headers.get("content-length", []))
    if lengths:
        length = lengths.pop()
        if lengths or not length.isdigit():
            raise _Failure(Status.INVALID, f"invalid Content-Length {', '.join(headers['content-length'])!r}")
        if int(length) > MAX_POLICY_BYTES:
            raise _too_large(f"Content-Length {length}")
        return await reader.readexactly(int(length))
    body = await reader.read(MAX_POLICY_BYTES + 1)
    while len(body) <= MAX_POLICY_BYTES:
        more = await reader.read(MAX_POLICY_BYTES + 1 - len(body))
        if not more:
            return body
        body += more
    raise _too_large("read until the connection closed")


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = b""
    while True:
        line = (await read_line(reader)).split(b";", 1)[0].strip()
        if not _CHUNK_SIZE.fullmatch(line):
            raise _Failure(Status.INVALID, f"invalid chunk size {line[:20]!r}")
        size = int(line, 16)
        if size == 0:
            while (await read_line(reader)).strip():
                pass  # trailer fields carry nothing a policy needs
            return body
        if len(body) + size > MAX_POLICY_BYTES:
            raise _too_large("chunked transfer")
        body += await reader.readexactly(size)
        if await reader.readexactly(2) != b"\r\n":
            raise _Failure(Status.INVALID, "a chunk does not end with CRLF")


POLICY_TLS = tls.TlsCodes(
    untrusted=codes.POLICY_CERT_UNTRUSTED,
    name=codes.POLICY_CERT_NAME,
    expired=codes.POLICY_CERT_EXPIRED,
    expiring=codes.POLICY_CERT_EXPIRING,
    version=codes.POLICY_TLS_FAILED,
    handshake=codes.POLICY_TLS_FAILED,
)


def fetch_findings(result: FetchResult, host: str) -> tuple[list[Finding], bytes | None]:
    """What a sender concludes from the fetch; the body when it would parse it."""
    url = f"https://{host}{POLICY_PATH}"
    match result.status:
        case Status.CONNECT_FAILED:
            return [error(codes.POLICY_CONNECT_FAILED, f"cannot connect to {host} port 443: {result.detail}",
                          f"point {host} at the web server (GitHub Pages: CNAME to <owner>.github.io.) and make it listen on 443")], None
        case Status.TLS_FAILED:
            return [tls.problem_finding(POLICY_TLS, result.tls_problem, result.detail, host, "policy host")], None
        case Status.TIMEOUT:
            return [error(codes.POLICY_FETCH_TIMEOUT, f"{url}: {result.detail}",
                          "make the policy host answer quickly; senders give up after a minute or less")], None
        case Status.INVALID:
            return [error(codes.POLICY_HTTP_INVALID, f"{url}: invalid HTTP response: {result.detail}",
                          "serve the policy from a standard web server such as GitHub Pages")], None
        case Status.TOO_LARGE:
            return [error(codes.POLICY_TOO_LARGE, f"{url}: {result.detail}; senders stop reading there",
                          "serve the policy file built by mta-sts-pages (well under 64 KiB)")], None
    findings = tls.expiry_finding(POLICY_TLS, result.cert_days_left, host, "policy host")
    status = result.http_status
    if 300 <= status < 400:
        location = (result.headers or {}).get("location", "nowhere")
        return findings + [error(codes.POLICY_REDIRECT, f"{url} answers {status}, a redirect to {location}; senders must not follow it",
                                 f"serve the policy directly at {url} (for GitHub Pages: set the custom domain {host}, enforce HTTPS)")], None
    if status == 404:
        return findings + [error(codes.POLICY_NOT_FOUND, f"{url} answers 404 Not Found",
                                 "deploy the site so .well-known/mta-sts.txt is served (keep _config.yml: Jekyll drops dot-folders without it)")], None
    if status != 200:
        return findings + [error(codes.POLICY_HTTP_STATUS, f"{url} answers {status}; senders accept only 200",
                                 "fix the web server so the policy is served with status 200")], None
    if result.media_type != "text/plain":
        served = f"as {result.media_type}" if result.media_type else "without a Content-Type"
        findings.append(error(codes.POLICY_CONTENT_TYPE, f"{url} is served {served}; senders expect text/plain and many reject anything else",
                              "serve the file as text/plain (GitHub Pages does so for .txt files)"))
    return findings, result.body
