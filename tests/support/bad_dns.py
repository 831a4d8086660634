"""Misbehaving DNS servers on 127.0.0.1: silent, SERVFAIL, truncating.

NSD cannot be told to fail, so these answer from Python with dnspython's
message building; ``ScriptedDns`` takes any answer function for new cases.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from typing import Self

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver
import dns.rrset
import dns.zone

from .dns_server import loopback_resolver
from .server import HOST, Server
from .tcp import ThreadedTcpServer

# Given a query and whether it came over TCP: the reply, or None for silence.
# Bytes are sent as they are (a malformed reply, or several datagrams when a
# list of them is given over UDP).
Answer = Callable[[dns.message.Message, bool], dns.message.Message | bytes | list[bytes] | None]

_POLL = 0.1  # how often the UDP loop looks for stop()
_BIND_ATTEMPTS = 5


class ScriptedDns(Server):
    """A DNS server on UDP (and TCP if ``tcp``) of one ephemeral port."""

    def __init__(self, answer: Answer, *, tcp: bool = False) -> None:
        self._answer = answer
        self.queries: list[tuple[str, str, str]] = []  # (name, type, "udp"/"tcp")
        self.udp_source_ports: list[int] = []  # of each UDP datagram, in order
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._udp_errors: list[BaseException] = []
        self._udp, self._tcp = _bind_pair(tcp, self._serve_tcp)
        self.port: int = self._udp.getsockname()[1]
        self._thread = threading.Thread(target=self._serve_udp, daemon=True)

    @property
    def errors(self) -> list[BaseException]:
        """Exceptions raised by the answer function: a test asserts this is empty."""
        tcp_errors = self._tcp.errors if self._tcp is not None else []
        return self._udp_errors + tcp_errors

    def resolver(self, lifetime: float = 2.0) -> dns.resolver.Resolver:
        """A dnspython resolver that asks only this server."""
        return loopback_resolver(self.port, lifetime)

    def start(self) -> Self:
        """Begin answering; returns self."""
        self._thread.start()
        if self._tcp is not None:
            self._tcp.start()
        return self

    def stop(self) -> None:
        """Stop both transports and close the sockets."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()
        self._udp.close()
        if self._tcp is not None:
            self._tcp.stop()

    def _reply(self, query: dns.message.Message, over_tcp: bool) -> dns.message.Message | None:
        if not query.question:
            return None
        question = query.question[0]
        with self._lock:
            self.queries.append(
                (
                    question.name.to_text(),
                    dns.rdatatype.to_text(question.rdtype),
                    "tcp" if over_tcp else "udp",
                )
            )
        return self._answer(query, over_tcp)

    def _serve_udp(self) -> None:
        self._udp.settimeout(_POLL)
        while not self._stopping.is_set():
            try:
                wire, client = self._udp.recvfrom(65535)
            except TimeoutError:
                continue
            self.udp_source_ports.append(client[1])
            try:
                query = dns.message.from_wire(wire)
            except dns.exception.DNSException:
                continue  # not DNS: drop it like a real server would
            try:
                reply = self._reply(query, over_tcp=False)
            except Exception as error:  # a bug in the answer function: keep it for the test
                self._udp_errors.append(error)
                continue
            for datagram in _datagrams(reply):
                self._udp.sendto(datagram, client)

    def _serve_tcp(self, conn: socket.socket) -> None:
        deadline = time.monotonic() + 10
        query, _ = dns.query.receive_tcp(conn, expiration=deadline)
        reply = self._reply(query, over_tcp=True)
        for message in _datagrams(reply):
            dns.query.send_tcp(conn, message, expiration=deadline)


def _datagrams(reply) -> list[bytes]:
    if reply is None:
        return []
    if isinstance(reply, bytes):
        return [reply]
    if isinstance(reply, list):
        return reply
    return [reply.to_wire()]


def _bind_pair(
    tcp: bool, serve_tcp: Callable[[socket.socket], None]
) -> tuple[socket.socket, ThreadedTcpServer | None]:
    """A UDP socket and, if asked, a TCP server on the same ephemeral port."""
    for _ in range(_BIND_ATTEMPTS):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind((HOST, 0))
        if not tcp:
            return udp, None
        try:
            return udp, ThreadedTcpServer(serve_tcp, port=udp.getsockname()[1])
        except OSError:
            udp.close()  # the TCP side of that port is taken: pick another
    raise OSError(f"no port free for both UDP and TCP in {_BIND_ATTEMPTS} attempts")


def blackhole_dns() -> ScriptedDns:
    """Reads every UDP query and never answers (no TCP listener either)."""
    return ScriptedDns(lambda query, over_tcp: None)


def _servfail(query: dns.message.Message, over_tcp: bool) -> dns.message.Message:
    reply = dns.message.make_response(query)
    reply.set_rcode(dns.rcode.SERVFAIL)
    return reply


def servfail_dns() -> ScriptedDns:
    """Answers SERVFAIL to every query, over UDP and TCP."""
    return ScriptedDns(_servfail, tcp=True)


def zone_answer(zone_text: str, origin: str) -> Answer:
    """Answers from a zone as an authoritative server does (CNAMEs not chased)."""
    zone = dns.zone.from_text(zone_text, origin=origin, relativize=False)

    def answer(query: dns.message.Message, over_tcp: bool) -> dns.message.Message:
        reply = dns.message.make_response(query)
        reply.flags |= dns.flags.AA
        question = query.question[0]
        node = zone.get_node(question.name)
        if node is None:
            reply.set_rcode(dns.rcode.NXDOMAIN)
            return reply
        for rdtype in (question.rdtype, dns.rdatatype.CNAME):
            rdataset = node.get_rdataset(zone.rdclass, rdtype)
            if rdataset is not None:
                reply.answer.append(
                    dns.rrset.from_rdata_list(question.name, rdataset.ttl, list(rdataset))
                )
                break
        return reply

    return answer


def truncating_dns(zone_text: str, origin: str, *, tcp: bool = True) -> ScriptedDns:
    """Sets TC with an empty answer over UDP; over TCP answers from the zone.

    With ``tcp=False`` nothing listens on TCP, so a client that follows the
    TC bit cannot get an answer at all.
    """
    from_zone = zone_answer(zone_text, origin)

    def answer(query: dns.message.Message, over_tcp: bool) -> dns.message.Message:
        if over_tcp:
            return from_zone(query, over_tcp)
        reply = dns.message.make_response(query)
        reply.flags |= dns.flags.TC
        return reply

    return ScriptedDns(answer, tcp=tcp)


def zone_only_dns(zone_text: str, origin: str) -> ScriptedDns:
    """Answers from the zone over UDP, and never for a name outside it (as
    a server that drops what it is not authoritative for)."""
    origin_name = dns.name.from_text(origin)
    from_zone = zone_answer(zone_text, origin)

    def answer(query: dns.message.Message, over_tcp: bool) -> dns.message.Message | None:
        if not query.question[0].name.is_subdomain(origin_name):
            return None
        return from_zone(query, over_tcp)

    return ScriptedDns(answer)
