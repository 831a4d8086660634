"""Asking name servers: a few UDP sockets per server, each reply matched to
its query by ID and question, TCP when a reply is truncated.

A socket per query (as dnspython's resolver opens) costs more CPU than the
answer itself when a thousand domains are checked at once; a connected
socket also hears "port unreachable" at once instead of timing out. One
socket per server for the whole run would fix the source port, leaving a
forged reply only the 16-bit ID and the question to guess, which RFC 5452
§9.2 advises against. So each server gets a small pool: every query goes
out on a socket picked at random, and a socket is replaced after a few
dozen queries, so the source ports keep changing through the run. Each
port is the system's pick of an ephemeral port, which Linux, the BSDs and
macOS randomize. benchmarks/bench_dns.py finds no extra CPU time against
one socket per server (README, Performance).
"""

from __future__ import annotations

import asyncio
import functools
import os
import struct

from generator.check import wire


class ServerFailed(Exception):
    """This server gave no usable answer; the message says why.

    ``unreachable``: no server could be asked at all (an ICMP error, a
    refused connection, or REFUSED): the resolver is at fault, not the name asked.
    """

    def __init__(self, message: str, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


class NoAnswer(TimeoutError):
    """No usable reply in time; the message names a malformed reply that was ignored, if any."""


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and not isinstance(exc, TimeoutError):
        return exc.strerror or type(exc).__name__
    return str(exc) or type(exc).__name__


class _Query:
    __slots__ = ("qname", "rdtype", "future", "ignored")

    def __init__(self, qname: wire.Labels, rdtype: int, future: asyncio.Future) -> None:
        self.qname, self.rdtype, self.future = qname, rdtype, future
        self.ignored = ""  # why the last datagram with this query's ID was not its reply


class _Datagrams(asyncio.DatagramProtocol):
    """One connected UDP socket to a name server."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.waiting: dict[int, _Query] = {}  # by query ID
        self.sent = 0
        self.retired = False  # replaced in its pool: closes once nothing waits on it

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        query = self.waiting.get(int.from_bytes(data[:2], "big"))
        if query is None or query.future.done():
            return  # a late reply to a query given up on
        # Like dnspython's resolver (and stub resolvers), a datagram that is
        # malformed or answers another question is dropped and the wait goes
        # on: it may be forged, or stale, and the real reply may still come.
        try:
            reply = wire.parse(data)
        except wire.Malformed as exc:
            query.ignored = f"a malformed reply was ignored: {exc}"
            return
        if reply.answers_question(int.from_bytes(data[:2], "big"), query.qname, query.rdtype):
            query.future.set_result(reply)

    def error_received(self, exc: Exception) -> None:
        # An ICMP error on a connected socket: the server is unreachable, for
        # every query waiting on it.
        self._fail_all(ServerFailed(_reason(exc), unreachable=True))

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail_all(ServerFailed(_reason(exc) if exc else "socket closed", unreachable=exc is not None))

    def _fail_all(self, exc: ServerFailed) -> None:
        for query in self.waiting.values():
            if not query.future.done():
                query.future.set_exception(exc)


# Sockets per name server, and queries per socket before it is replaced.
POOL_SIZE = 8
QUERIES_PER_SOCKET = 64


class NameServer:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        # Each slot: the opening (then open) socket, as a task shared by every asker.
        self._slots: list[asyncio.Task | None] = [None] * POOL_SIZE
        self._open: set[_Datagrams] = set()
        self._closed = False

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    async def _datagrams(self) -> _Datagrams:
        """A socket of the pool, picked at random (not from the query ID, which it would give away)."""
        slot = _random16() % POOL_SIZE
        opening = self._slots[slot]
        if opening is not None and opening.done() and not opening.cancelled() and opening.exception() is None:
            protocol = opening.result()[1]
            if protocol.sent < QUERIES_PER_SOCKET:
                return protocol
            protocol.retired = True
            self._release(protocol)
            opening = None
        if opening is None:
            loop = asyncio.get_running_loop()
            opening = self._slots[slot] = asyncio.ensure_future(loop.create_datagram_endpoint(_Datagrams, remote_addr=(self.host, self.port)))
            opening.add_done_callback(functools.partial(self._opened, slot))
        # Shielded: the first asker being cancelled must not stop the opening
        # for the others; _opened keeps (or closes) the socket either way.
        _, protocol = await asyncio.shield(opening)
        return protocol

    def _opened(self, slot: int, task: asyncio.Task) -> None:
        if task.cancelled() or task.exception() is not None:
            # Every asker gets the exception from the task itself; the next
            # query opens the slot again (the failure may pass, e.g. EMFILE).
            if self._slots[slot] is task:
                self._slots[slot] = None
            return
        transport, protocol = task.result()
        if self._closed:
            transport.close()  # the run ended while the socket was opening
        else:
            self._open.add(protocol)

    def _release(self, protocol: _Datagrams) -> None:
        if protocol.retired and not protocol.waiting:
            protocol.transport.close()
            self._open.discard(protocol)

    async def ask_udp(self, qname: wire.Labels, qname_wire: bytes, rdtype: int, timeout: float) -> wire.Reply:
        if self._closed:
            raise ServerFailed("the resolver is closed")
        protocol = await self._datagrams()
        ident = _new_id(protocol.waiting)
        loop = asyncio.get_running_loop()
        query = protocol.waiting[ident] = _Query(qname, rdtype, loop.create_future())
        protocol.sent += 1
        # A bare timer rather than asyncio.timeout(): a tenth of the CPU time
        # of a query, and there are four queries a domain.
        timer = loop.call_later(timeout, _expire, query)
        try:
            protocol.transport.sendto(wire.query(ident, qname_wire, rdtype))
            return await query.future
        finally:
            timer.cancel()
            del protocol.waiting[ident]
            self._release(protocol)

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
            reply = wire.parse(data, over_tcp=True)
        except wire.Malformed as exc:
            raise ServerFailed(f"sent a malformed reply over TCP ({exc})") from None
        if not reply.answers_question(ident, qname, rdtype):
            raise ServerFailed("answered another question over TCP")
        return reply

    def close(self) -> None:
        """Close the sockets, or have them closed as soon as they are open."""
        self._closed = True
        for protocol in self._open:
            protocol.transport.close()
        self._open.clear()


def _expire(query: _Query) -> None:
    if not query.future.done():
        query.future.set_exception(NoAnswer(query.ignored))


# Query IDs and the choice of socket are unpredictable, so that a reply
# cannot easily be forged; they are drawn from os.urandom in batches, one
# system call per 512 numbers.
_random: list[int] = []


def _random16() -> int:
    if not _random:
        _random.extend(struct.unpack("!512H", os.urandom(1024)))
    return _random.pop()


def _new_id(taken) -> int:
    if len(taken) >= 0x10000:
        raise ServerFailed("all 65,536 query IDs are waiting for replies; lower --concurrency")
    while True:
        ident = _random16()
        if ident not in taken:
            return ident


def _summary(failures: dict[NameServer, str]) -> str:
    return "; ".join(f"{server}: {why}" for server, why in failures.items())


class Client:
    """Asks its servers in turn until one answers NOERROR or NXDOMAIN.

    A server that fails (SERVFAIL, REFUSED, unreachable, a malformed reply
    over TCP) is not asked again for this question; one that is silent is
    asked again after the others, with a growing pause, until the deadline.
    """

    def __init__(self, servers: list[tuple[str, int]], attempt_timeout: float) -> None:
        self.servers = [NameServer(host, port) for host, port in servers]
        self._attempt_timeout = attempt_timeout

    async def exchange(self, qname: wire.Labels, qname_wire: bytes, rdtype: int, deadline: float) -> wire.Reply:
        """The first usable reply; TimeoutError at ``deadline`` (event-loop time)."""
        loop = asyncio.get_running_loop()
        live = list(self.servers)
        failures: dict[NameServer, str] = {}
        unasked = 0  # servers that could not be reached or refused to answer
        pause = 0.1
        while True:
            for server in list(live):
                timeout = min(self._attempt_timeout, deadline - loop.time())
                if timeout <= 0:
                    raise TimeoutError(_summary(failures))
                try:
                    reply = await server.ask_udp(qname, qname_wire, rdtype, timeout)
                    if reply.truncated:
                        timeout = min(self._attempt_timeout, deadline - loop.time())
                        reply = await server.ask_tcp(qname, qname_wire, rdtype, max(timeout, 0))
                except TimeoutError as exc:
                    failures[server] = f"no answer within {timeout:.1f} s" + (f" ({exc})" if str(exc) else "")
                    continue
                except (OSError, ServerFailed) as exc:
                    failures[server] = _reason(exc)
                    unasked += isinstance(exc, OSError) or exc.unreachable
                    live.remove(server)
                    continue
                if reply.rcode in (wire.NOERROR, wire.NXDOMAIN):
                    return reply
                failures[server] = f"answered {wire.RCODES.get(reply.rcode, f'rcode {reply.rcode}')}"
                unasked += reply.rcode == wire.REFUSED
                live.remove(server)
            if not live:
                raise ServerFailed(_summary(failures), unreachable=unasked == len(self.servers))
            await asyncio.sleep(max(min(pause, deadline - loop.time()), 0))
            pause = min(pause * 2, 2.0)

    def close(self) -> None:
        for server in self.servers:
            server.close()
