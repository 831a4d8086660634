"""Asking name servers: one UDP socket per server for the whole run, each
reply matched to its query by ID and question, TCP when a reply is truncated.

A socket per query (as dnspython's resolver opens) costs more CPU than the
answer itself when a thousand domains are checked at once; one connected
socket per server also hears "port unreachable" at once instead of timing out.
"""

from __future__ import annotations

import asyncio
import os
import struct

from generator.check import wire


class ServerFailed(Exception):
    """This server gave no usable answer; the message says why."""


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return str(exc) or type(exc).__name__


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        # ID -> (question, future of the reply)
        self.waiting: dict[int, tuple[tuple[wire.Labels, int], asyncio.Future]] = {}

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        ident = int.from_bytes(data[:2], "big")
        entry = self.waiting.get(ident)
        if entry is None or entry[1].done():
            return  # a late reply to a query given up on
        (qname, rdtype), future = entry
        try:
            reply = wire.parse(data)
        except wire.Malformed as exc:
            future.set_exception(ServerFailed(f"sent a malformed reply ({exc})"))
            return
        # Anything else is not the reply to this query (a stale one to an
        # earlier query that had the same ID): keep waiting.
        if reply.answers_question(ident, qname, rdtype):
            future.set_result(reply)

    def error_received(self, exc: Exception) -> None:
        # An ICMP error on a connected socket: the server is unreachable, for
        # every query waiting on it.
        self._fail_all(ServerFailed(_reason(exc)))

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail_all(ServerFailed(_reason(exc) if exc else "socket closed"))

    def _fail_all(self, exc: ServerFailed) -> None:
        for _, future in self.waiting.values():
            if not future.done():
                future.set_exception(exc)


class NameServer:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._opening: asyncio.Future | None = None
        self._protocol: _Datagrams | None = None

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    async def _datagrams(self) -> _Datagrams:
        if self._protocol is not None:
            return self._protocol
        if self._opening is None:
            loop = asyncio.get_running_loop()
            self._opening = asyncio.ensure_future(loop.create_datagram_endpoint(_Datagrams, remote_addr=(self.host, self.port)))
        # Shielded: the first asker being cancelled must not close it for all.
        _, self._protocol = await asyncio.shield(self._opening)
        return self._protocol

    async def ask_udp(self, qname: wire.Labels, qname_wire: bytes, rdtype: int, timeout: float) -> wire.Reply:
        protocol = await self._datagrams()
        ident = _new_id(protocol.waiting)
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        protocol.waiting[ident] = ((qname, rdtype), future)
        # A bare timer rather than asyncio.timeout(): a tenth of the CPU time
        # of a query, and there are four queries a domain.
        timer = loop.call_later(timeout, _expire, future)
        try:
            protocol.transport.sendto(wire.query(ident, qname_wire, rdtype))
            return await future
        finally:
            timer.cancel()
            del protocol.waiting[ident]

    async def ask_tcp(self, qname: wire.Labels, qname_wire: bytes, rdtype: int, timeout: float) -> wire.Reply:
        ident = _new_id({})
        message = wire.query(ident, qname_wire, rdtype)
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(self.host, self.port)
            try:
                writer.write(len(message).to_bytes(2, "big") + message)
                size = int.from_bytes(await reader.readexactly(2), "big")
                data = await reader.readexactly(size)
            except asyncio.IncompleteReadError:
                raise ServerFailed("closed the TCP connection before a whole reply") from None
            finally:
                writer.close()
        try:
            reply = wire.parse(data)
        except wire.Malformed as exc:
            raise ServerFailed(f"sent a malformed reply over TCP ({exc})") from None
        if not reply.answers_question(ident, qname, rdtype):
            raise ServerFailed("answered another question over TCP")
        return reply

    def close(self) -> None:
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.close()
        self._opening = self._protocol = None


def _expire(future: asyncio.Future) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


# Query IDs are unpredictable, so that a reply cannot easily be forged; they
# are drawn from os.urandom in batches, one system call per 512 queries.
_ids: list[int] = []


def _new_id(taken) -> int:
    while True:
        if not _ids:
            _ids.extend(struct.unpack("!512H", os.urandom(1024)))
        ident = _ids.pop()
        if ident not in taken:
            return ident


class Client:
    """Asks its servers in turn until one answers NOERROR or NXDOMAIN.

    A server that fails (SERVFAIL, REFUSED, unreachable, a malformed reply)
    is not asked again for this question; one that is silent is asked
    again after the others, with a growing pause, until the deadline.
    """

    def __init__(self, servers: list[tuple[str, int]], attempt_timeout: float) -> None:
        self.servers = [NameServer(host, port) for host, port in servers]
        self._attempt_timeout = attempt_timeout

    async def exchange(self, qname: wire.Labels, qname_wire: bytes, rdtype: int, deadline: float) -> wire.Reply:
        """The first usable reply; TimeoutError at ``deadline`` (event-loop time)."""
        loop = asyncio.get_running_loop()
        live = list(self.servers)
        failures: dict[NameServer, str] = {}
        pause = 0.1
        while True:
            for server in list(live):
                timeout = min(self._attempt_timeout, deadline - loop.time())
                if timeout <= 0:
                    raise TimeoutError
                try:
                    reply = await server.ask_udp(qname, qname_wire, rdtype, timeout)
                    if reply.truncated:
                        reply = await server.ask_tcp(qname, qname_wire, rdtype, timeout)
                except TimeoutError:
                    failures[server] = f"no answer within {timeout:g} s"
                    continue
                except (OSError, ServerFailed) as exc:
                    failures[server] = _reason(exc)
                    live.remove(server)
                    continue
                if reply.rcode in (wire.NOERROR, wire.NXDOMAIN):
                    return reply
                failures[server] = f"answered {wire.RCODES.get(reply.rcode, f'rcode {reply.rcode}')}"
                live.remove(server)
            if not live:
                raise ServerFailed("; ".join(f"{server}: {why}" for server, why in failures.items()))
            await asyncio.sleep(max(min(pause, deadline - loop.time()), 0))
            pause = min(pause * 2, 2.0)

    def close(self) -> None:
        for server in self.servers:
            server.close()
