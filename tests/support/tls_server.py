"""A real HTTPS server on 127.0.0.1 that picks its certificate by SNI.

One server stands in for ``mta-sts.<domain>`` of any number of domains: every
SNI name gets a certificate from the test CA on first use, unless the test
asked for a bad one. Each host answers with a ``Route`` (one response and how
to misbehave while sending it) or with the files of a built site.
"""

from __future__ import annotations

import dataclasses
import enum
import http
import itertools
import mimetypes
import socket
import ssl
import struct
import threading
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Self

from .certs import CertKind, LocalCA
from .server import Server
from .tcp import ThreadedTcpServer

# Senders stop reading a policy here (RFC 8461 section 3.3); oversize routes pass it.
POLICY_LIMIT = 64 * 1024
_MAX_REQUEST_HEAD = 16 * 1024
_CHUNK = 4096


class Mode(enum.Enum):
    """How a route sends its response."""

    NORMAL = "normal"  # Content-Length, whole body
    CHUNKED = "chunked"  # Transfer-Encoding: chunked, then a final chunk
    DRIP = "drip"  # the normal response, one byte per drip_interval
    RESET = "reset"  # TCP reset once the request is read
    ENDLESS_HEADER = "endless-header"  # header lines that never end
    INFINITE_CHUNKED = "infinite-chunked"  # chunks that never end
    NEVER_RESPOND = "never-respond"  # read the request, then silence
    RAW = "raw"  # the body is the whole response, sent as it is (status line and headers included)


@dataclasses.dataclass(frozen=True)
class Route:
    """One response: status, Content-Type (None: no header), body, extra headers."""

    status: int = 200
    content_type: str | None = "text/plain"
    body: bytes = b""
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)
    mode: Mode = Mode.NORMAL
    drip_interval: float = 1.0

    @classmethod
    def redirect(cls, location: str, status: int = 301) -> Route:
        """A redirect, which a sender must not follow."""
        return cls(status=status, content_type="text/html", headers={"Location": location})

    @classmethod
    def oversize(cls, *, chunked: bool = False, size: int = POLICY_LIMIT + 1) -> Route:
        """A policy-looking body of ``size`` bytes, announced by Content-Length or chunked."""
        head = b"version: STSv1\r\nmode: testing\r\n"
        body = head + b"x" * (size - len(head))
        return cls(body=body, mode=Mode.CHUNKED if chunked else Mode.NORMAL)


@dataclasses.dataclass(frozen=True)
class Request:
    """What the server saw of one request."""

    sni: str | None
    host: str | None
    method: str
    path: str


_NOT_FOUND = Route(status=404, content_type="text/html", body=b"<h1>404</h1>\n")


class TlsServer(Server):
    """HTTPS on 127.0.0.1:<ephemeral port> (or ``port``), configured per host name.

    Unconfigured hosts get a good certificate and a 404. ``requests`` lists
    what was asked, in order. Use as a context manager, or start()/stop().
    """

    def __init__(self, ca: LocalCA, *, io_timeout: float = 10.0, port: int = 0, only: CertKind | None = None) -> None:
        self.ca = ca
        self.io_timeout = io_timeout
        self._certs: dict[str, CertKind] = {}
        self._routes: dict[tuple[str, str | None], Route] = {}
        self._sites: dict[str, Path] = {}
        self._requests: list[Request] = []
        self._lock = threading.Lock()
        self._sni = threading.local()
        # Clients that send no SNI (plain IP) still get a certificate. With
        # ``only`` every host gets that kind: needed for OLD_TLS, since the
        # protocol versions are those of this first context.
        self._only = only
        self._default_context = ca.new_server_context("localhost", only or CertKind.GOOD)
        self._default_context.sni_callback = self._select_certificate
        self._tcp = ThreadedTcpServer(self._handle, port)
        self.port = self._tcp.port

    @property
    def ca_pem_path(self) -> Path:
        """The CA bundle a client needs (``--ca-file``)."""
        return self.ca.pem_path

    @property
    def errors(self) -> list[BaseException]:
        """Unexpected exceptions inside the server: a test asserts this is empty."""
        return self._tcp.errors

    @property
    def requests(self) -> list[Request]:
        """A copy of every request read so far."""
        with self._lock:
            return list(self._requests)

    def set_cert(self, host: str, kind: CertKind) -> None:
        """Present a ``kind`` certificate when a client sends SNI ``host``."""
        self._certs[host.lower()] = kind

    def route(self, host: str, route: Route, path: str | None = None) -> None:
        """Answer ``path`` of ``host`` (every path when None) with ``route``."""
        self._routes[(host.lower(), path)] = route

    def serve_directory(self, host: str, directory: Path) -> None:
        """Serve the files under ``directory`` for ``host``, like GitHub Pages."""
        self._sites[host.lower()] = directory.resolve()

    def start(self) -> Self:
        """Begin serving; returns self."""
        self._tcp.start()
        return self

    def stop(self) -> None:
        """Stop, cutting any dripping or hanging connection."""
        self._tcp.stop()

    def _select_certificate(
        self, tls: ssl.SSLObject | ssl.SSLSocket, name: str | None, _: ssl.SSLContext
    ) -> None:
        # Runs inside do_handshake, on the connection's own thread.
        self._sni.name = name
        if name is not None:
            kind = self._only or self._certs.get(name.lower(), CertKind.GOOD)
            tls.context = self.ca.server_context(name.lower(), kind)

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(self.io_timeout)
        self._sni.name = None
        with self._default_context.wrap_socket(conn, server_side=True) as tls:
            request = _read_request(tls, self._sni.name)
            if request is None:
                return
            with self._lock:
                self._requests.append(request)
            route = self._find_route(request)
            if route.mode is Mode.RESET:
                # Linger 0 makes close() send RST instead of FIN.
                tls.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            self._respond(tls, route, head_only=request.method == "HEAD")

    def _find_route(self, request: Request) -> Route:
        host = (request.host or request.sni or "").lower()
        for key in ((host, request.path), (host, None)):
            if key in self._routes:
                return self._routes[key]
        if host in self._sites:
            return _file_route(self._sites[host], request.path)
        return _NOT_FOUND

    def _respond(self, tls: ssl.SSLSocket, route: Route, *, head_only: bool) -> None:
        stopping = self._tcp.stopping
        match route.mode:
            case Mode.NORMAL:
                tls.sendall(_head(route, chunked=False) + (b"" if head_only else route.body))
            case Mode.CHUNKED:
                tls.sendall(_head(route, chunked=True))
                for start in range(0, len(route.body), _CHUNK):
                    tls.sendall(_chunk(route.body[start : start + _CHUNK]))
                tls.sendall(b"0\r\n\r\n")
            case Mode.DRIP:
                for byte in _head(route, chunked=False) + route.body:
                    tls.sendall(bytes([byte]))
                    if stopping.wait(route.drip_interval):
                        return
            case Mode.ENDLESS_HEADER:
                tls.sendall(f"HTTP/1.1 {route.status} {_reason(route.status)}\r\n".encode())
                for number in itertools.count():
                    if stopping.is_set():
                        return
                    tls.sendall(f"X-Filler-{number}: {'x' * 64}\r\n".encode())
            case Mode.INFINITE_CHUNKED:
                tls.sendall(_head(route, chunked=True))
                filler = route.body or b"x" * _CHUNK
                while not stopping.is_set():
                    tls.sendall(_chunk(filler))
            case Mode.NEVER_RESPOND:
                stopping.wait()
            case Mode.RAW:
                tls.sendall(route.body)


def _read_request(tls: ssl.SSLSocket, sni: str | None) -> Request | None:
    """Read one request head; None if the client left or sent garbage."""
    data = b""
    while b"\r\n\r\n" not in data:
        if len(data) > _MAX_REQUEST_HEAD:
            return None
        piece = tls.recv(4096)
        if not piece:
            return None
        data += piece
    lines = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        return None
    method, target, _ = parts
    host = None
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "host":
            host = urllib.parse.urlsplit("//" + value.strip()).hostname
    path = urllib.parse.urlsplit(target).path or "/"
    return Request(sni=sni, host=host, method=method, path=path)


def _file_route(root: Path, path: str) -> Route:
    """The response GitHub Pages gives for ``path`` under ``root``."""
    target = (root / urllib.parse.unquote(path).lstrip("/")).resolve()
    if target.is_dir():
        target = target / "index.html"
    if not target.is_relative_to(root) or not target.is_file():
        return _NOT_FOUND
    content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    if content_type.startswith("text/"):
        content_type += "; charset=utf-8"
    return Route(content_type=content_type, body=target.read_bytes())


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _head(route: Route, *, chunked: bool) -> bytes:
    lines = [f"HTTP/1.1 {route.status} {_reason(route.status)}"]
    if route.content_type is not None:
        lines.append(f"Content-Type: {route.content_type}")
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    else:
        lines.append(f"Content-Length: {len(route.body)}")
    lines.append("Connection: close")
    lines.extend(f"{name}: {value}" for name, value in route.headers.items())
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)
