"""A real SMTP server (aiosmtpd) with STARTTLS on 127.0.0.1, one scenario each.

The scenario is the certificate STARTTLS presents (a ``CertKind``) or no
STARTTLS at all (``cert=None``). For a server that accepts and never sends
its banner, use ``tcp.silent_server()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
from typing import Self

from aiosmtpd.handlers import Sink
from aiosmtpd.smtp import SMTP

from .certs import CertKind, LocalCA
from .server import HOST, Server
from .tcp import ThreadedTcpServer

_START_TIMEOUT = 10.0


class SmtpServer(Server):
    """SMTP on 127.0.0.1:<ephemeral port> answering as MX ``mx_host``.

    ``connections`` counts the sessions started. Use as a context manager,
    or start()/stop().
    """

    def __init__(
        self,
        ca: LocalCA,
        mx_host: str,
        *,
        cert: CertKind | None = CertKind.GOOD,
    ) -> None:
        self.mx_host = mx_host
        self.connections = 0
        self._tls = None if cert is None else ca.server_context(mx_host, cert)
        self._sessions: list[SMTP] = []
        self._listener = socket.create_server((HOST, 0))
        self.port: int = self._listener.getsockname()[1]
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None

    def start(self) -> Self:
        """Begin serving; returns self."""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            self._loop.create_server(self._new_session, sock=self._listener), self._loop
        ).result(_START_TIMEOUT)
        return self

    def stop(self) -> None:
        """Stop listening and drop every open session."""
        if self._loop is None or self._thread is None:
            self._listener.close()
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(_START_TIMEOUT)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(_START_TIMEOUT)
        self._loop.close()

    def _new_session(self) -> SMTP:
        self.connections += 1
        session = SMTP(Sink(), hostname=self.mx_host, tls_context=self._tls, require_starttls=False)
        self._sessions.append(session)
        return session

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        for session in self._sessions:
            if session.transport is not None:
                session.transport.close()
        # Cancel the session tasks so the loop closes with nothing pending.
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def old_tls_smtp_server(ca: LocalCA, mx_host: str) -> ThreadedTcpServer:
    """An MX host whose STARTTLS speaks only TLS 1.0 and 1.1.

    A blocking server rather than aiosmtpd: asyncio's server side drops the
    TLS alert of a failed handshake and just closes, where a real MTA
    (Postfix, Exim) sends "protocol version", which is what the client is
    to recognise.
    """
    context = ca.server_context(mx_host, CertKind.OLD_TLS)

    def converse(conn: socket.socket) -> None:
        conn.settimeout(10)
        reader = conn.makefile("rb")
        conn.sendall(f"220 {mx_host} ESMTP\r\n".encode())
        while line := reader.readline():
            verb = line[:8].strip().upper()
            if verb.startswith((b"EHLO", b"HELO")):
                conn.sendall(f"250-{mx_host}\r\n250 STARTTLS\r\n".encode())
            elif verb == b"STARTTLS":
                conn.sendall(b"220 Ready to start TLS\r\n")
                with contextlib.suppress(ssl.SSLError):
                    context.wrap_socket(conn, server_side=True).unwrap()
                return
            else:
                conn.sendall(b"221 Bye\r\n")
                return

    return ThreadedTcpServer(converse)
