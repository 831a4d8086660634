"""A threaded TCP listener on 127.0.0.1 that can always be stopped.

Misbehaving test servers park connections (dripping, hanging); stop() must
still return promptly, so it shuts down every open connection itself.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from typing import Self

from .server import HOST, Server


class ThreadedTcpServer(Server):
    """Runs ``handle(conn)`` in a daemon thread for each accepted connection.

    Handlers that wait should wait on ``stopping``; handlers blocked in
    send/recv are woken by stop(). Expected I/O errors (peer gone, stop) are
    ignored; anything else a handler raises is kept in ``errors`` so tests can
    assert the server itself had no bug.
    """

    def __init__(self, handle: Callable[[socket.socket], None], port: int = 0) -> None:
        self._handle = handle
        self.stopping = threading.Event()
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()
        # A dup of each connection: shutting it down wakes the handler even
        # after the handler's socket was detached (e.g. wrapped in TLS).
        self._open: dict[threading.Thread, socket.socket] = {}
        self._listener = socket.create_server((HOST, port), backlog=socket.SOMAXCONN)
        self.port: int = self._listener.getsockname()[1]
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)

    def start(self) -> Self:
        """Begin accepting; returns self for chaining."""
        self._acceptor.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, cut every open connection and wait for the handlers."""
        self.stopping.set()
        _shutdown(self._listener)
        self._listener.close()
        if self._acceptor.is_alive():
            self._acceptor.join(timeout)
        with self._lock:
            open_now = dict(self._open)
        for dup in open_now.values():
            _shutdown(dup)
        deadline = time.monotonic() + timeout
        for thread in open_now:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _accept_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return  # listener shut down by stop()
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            with self._lock:
                if self.stopping.is_set():
                    conn.close()
                    return
                self._open[thread] = conn.dup()
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self._handle(conn)
        except OSError:
            pass  # the client went away or stop() cut the connection
        except Exception as error:  # a bug in the handler: keep it for the test
            if not self.stopping.is_set():
                self.errors.append(error)
        finally:
            conn.close()
            with self._lock:
                dup = self._open.pop(threading.current_thread())
            dup.close()


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # the peer may have closed it already
        sock.shutdown(socket.SHUT_RDWR)


def silent_server() -> ThreadedTcpServer:
    """A server that accepts connections and never sends a byte.

    It stands in for an SMTP server that never greets, or an HTTPS host that
    never starts the handshake.
    """
    server: ThreadedTcpServer

    def hold(conn: socket.socket) -> None:
        server.stopping.wait()

    server = ThreadedTcpServer(hold)
    return server
