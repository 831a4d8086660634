"""The policy fetch: HTTP/1.1 framed by h11, with the rules of a careful sender on top.

h11 reads the status line, headers and body framing (RFC 9112), so anything
it refuses is a malformed response, reported with its reason. On top: no
redirect is followed (RFC 8461 §3.3), 1xx interim responses such as
`103 Early Hints` are skipped (RFC 9110 §15.2), the body is capped at
64 KiB both by Content-Length and while streaming, and the whole fetch,
handshake included, runs under the domain's one deadline.
"""

from __future__ import annotations

import asyncio
import enum
import ssl
from dataclasses import dataclass

import h11

from generator import __version__
from generator.check import codes, dns, tls
from generator.check.connect import ConnectError, open_stream
from generator.check.options import ConnectTo
from generator.findings import Finding, error
from generator.policy import MAX_POLICY_BYTES

POLICY_PATH = "/.well-known/mta-sts.txt"
# The status line and headers of one response; also the most that interim
# (1xx) responses may take together before the final one.
HEAD_LIMIT = 32 * 1024
_READ_SIZE = 64 * 1024


class Status(enum.Enum):
    OK = "ok"  # a complete response; see http_status
    CONNECT_FAILED = "connect-failed"
    TLS_FAILED = "tls-failed"  # see tls_problem
    TOO_LARGE = "too-large"
    INVALID = "invalid"  # h11 refused the response, or it was cut short
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
    resolver_failed: bool = False  # CONNECT_FAILED because the address lookup could not ask the resolver

    @property
    def media_type(self) -> str | None:
        """The Content-Type without parameters, lowercase; None when absent.
        Of a repeated header (headers joins them with ", "; a type has no
        comma) the first, which senders read (Go, aiohttp)."""
        value = (self.headers or {}).get("content-type")
        return value.split(";", 1)[0].split(",", 1)[0].strip().lower() if value is not None else None


class _Failure(Exception):
    def __init__(self, status: Status, detail: str) -> None:
        super().__init__(detail)
        self.status = status


async def fetch_policy(
    host: str, *, rules: tuple[ConnectTo, ...], resolver: dns.Resolver, context: ssl.SSLContext, deadline: float,
    addresses: tuple[str, ...] = (), path: str = POLICY_PATH, body: bool = True,
) -> FetchResult:
    """GET ``https://<host><path>``; never raises for a network problem.

    ``addresses``: the host's, when already looked up (see ``open_stream``).
    ``body``: read the body of a 200 (else only the status and headers).
    """
    try:
        async with asyncio.timeout_at(deadline):
            return await _fetch(host, path, body, rules, resolver, context, deadline, addresses)
    except TimeoutError:
        return FetchResult(Status.TIMEOUT, "no complete response before the deadline")


async def _fetch(host: str, path: str, want_body: bool, rules, resolver, context, deadline, addresses) -> FetchResult:
    try:
        reader, writer = await open_stream(host, 443, rules=rules, resolver=resolver, deadline=deadline, tls=context, addresses=addresses)
    except ConnectError as exc:
        return FetchResult(Status.CONNECT_FAILED, str(exc), resolver_failed=exc.resolver_failed)
    except ssl.SSLError as exc:
        problem, detail = tls.classify(exc)
        return FetchResult(Status.TLS_FAILED, detail, tls_problem=problem)
    except OSError as exc:
        return FetchResult(Status.CONNECT_FAILED, exc.strerror or str(exc))
    days = tls.days_left(writer.get_extra_info("peercert"))
    conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=HEAD_LIMIT)
    try:
        writer.write(conn.send(h11.Request(method="GET", target=path, headers=[
            ("Host", host), ("User-Agent", f"mta-sts-pages/{__version__}"), ("Accept", "*/*"), ("Connection", "close"),
        ])) + conn.send(h11.EndOfMessage()))
        await writer.drain()
        response = await _read_head(conn, reader)
        body = await _read_body(conn, reader, response) if response.status_code == 200 and want_body else None
    except _Failure as exc:
        return FetchResult(exc.status, str(exc), cert_days_left=days)
    except h11.RemoteProtocolError as exc:
        return FetchResult(Status.INVALID, str(exc), cert_days_left=days)
    except ConnectionError as exc:
        return FetchResult(Status.INVALID, f"the connection ended early ({exc.__class__.__name__})", cert_days_left=days)
    except OSError as exc:
        return FetchResult(Status.INVALID, f"the connection failed ({exc.strerror or exc})", cert_days_left=days)
    finally:
        # Abort, not close: a TLS close waits for the peer's close_notify,
        # which some servers never send, and we have all we need.
        writer.transport.abort()
    headers: dict[str, str] = {}
    for name, value in response.headers:
        key = name.decode("ascii")  # h11 allows only token characters in names
        text = value.decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    return FetchResult(Status.OK, http_status=response.status_code, headers=headers, body=body, cert_days_left=days)


async def _read_head(conn: h11.Connection, reader: asyncio.StreamReader) -> h11.Response:
    """The final response's head, past any 1xx interim responses."""
    received = 0
    while True:
        event = conn.next_event()
        if isinstance(event, h11.Response):
            return event
        if isinstance(event, h11.InformationalResponse):
            continue
        # NEED_DATA: what came so far is interim responses and part of a
        # head. h11 caps one head (max_incomplete_event_size); this caps a
        # run of interim responses too.
        if received > HEAD_LIMIT:
            raise _Failure(Status.INVALID, f"the response head is longer than {HEAD_LIMIT // 1024} KiB, 1xx responses included")
        data = await reader.read(_READ_SIZE)
        if not data:
            raise _Failure(Status.INVALID, f"the connection closed after {received} bytes, before a complete response head")
        received += len(data)
        conn.receive_data(data)


def _too_large(how: str) -> _Failure:
    return _Failure(Status.TOO_LARGE, f"the policy is over {MAX_POLICY_BYTES} bytes ({how})")


async def _read_body(conn: h11.Connection, reader: asyncio.StreamReader, response: h11.Response) -> bytes:
    headers = dict(response.headers)  # h11 has merged repeated Content-Length values into one
    chunked = b"transfer-encoding" in headers  # h11 accepts only chunked, which outranks Content-Length
    length = headers.get(b"content-length")
    if length is not None and not chunked and int(length) > MAX_POLICY_BYTES:  # ASCII digits: h11 checked
        raise _too_large(f"Content-Length {length.decode()}")
    body = bytearray()
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            # b"" tells h11 the peer closed: the end of a body read until close,
            # or a body cut short (h11 says so).
            conn.receive_data(await reader.read(_READ_SIZE))
        elif isinstance(event, h11.Data):
            body += event.data
            if len(body) > MAX_POLICY_BYTES:
                raise _too_large("chunked transfer" if chunked else "read until the connection closed")
        else:  # EndOfMessage: h11 yields nothing else inside a body
            return bytes(body)


POLICY_TLS = tls.TlsCodes(
    untrusted=codes.POLICY_CERT_UNTRUSTED,
    name=codes.POLICY_CERT_NAME,
    expired=codes.POLICY_CERT_EXPIRED,
    expiring=codes.POLICY_CERT_EXPIRING,
    version=codes.POLICY_TLS_FAILED,
    handshake=codes.POLICY_TLS_FAILED,
)


def fetch_findings(result: FetchResult, host: str, owner: str | None = None) -> tuple[list[Finding], bytes | None]:
    """What a sender concludes from the fetch; the body when it would parse it.
    ``owner``: the config's pages.owner, for a fix that names it."""
    url = f"https://{host}{POLICY_PATH}"
    match result.status:
        case Status.CONNECT_FAILED:
            fix = (dns.RESOLVER_FIX if result.resolver_failed else
                   f"point {host} at the web server (GitHub Pages: CNAME to {owner or '<owner>'}.github.io.) and make it listen on 443")
            return [error(codes.POLICY_CONNECT_FAILED, f"cannot connect to {host} port 443: {result.detail}", fix)], None
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
                                 "deploy the site so .well-known/mta-sts.txt is served (with actions/upload-pages-artifact: include-hidden-files: true; "
                                 "keep _config.yml: Jekyll drops dot-folders without it)")], None
    if status != 200:
        return findings + [error(codes.POLICY_HTTP_STATUS, f"{url} answers {status}; senders accept only 200",
                                 "fix the web server so the policy is served with status 200")], None
    if result.media_type != "text/plain":
        served = f"as {result.media_type}" if result.media_type else "without a Content-Type"
        findings.append(error(codes.POLICY_CONTENT_TYPE, f"{url} is served {served}; senders expect text/plain and many reject anything else",
                              "serve the file as text/plain (GitHub Pages does so for .txt files)"))
    return findings, result.body
