"""Reaching a host: a --connect-to rule, else the addresses the check's own
resolver gives (never the system resolver, so --nameserver holds throughout)."""

from __future__ import annotations

import asyncio
import ssl

from generator.check import dns
from generator.check.deadline import remaining
from generator.check.options import ConnectTo, is_ip, route

# Caps one line of a response head (an HTTP header, an SMTP reply line).
LINE_LIMIT = 16 * 1024


class ConnectError(Exception):
    """No TCP connection could be made; the message says why.
    ``resolver_failed``: the host's address lookup could not ask the resolver."""

    def __init__(self, message: str, resolver_failed: bool = False) -> None:
        super().__init__(message)
        self.resolver_failed = resolver_failed


class LineTooLong(Exception):
    """The peer sent a line over LINE_LIMIT bytes."""


async def read_line(reader: asyncio.StreamReader) -> bytes:
    """One LF-terminated line; IncompleteReadError when the peer closes first."""
    try:
        return await reader.readuntil(b"\n")
    except asyncio.LimitOverrunError:
        raise LineTooLong(f"a line is longer than {LINE_LIMIT // 1024} KiB") from None


async def _addresses(host: str, resolver: dns.Resolver) -> list[str]:
    if is_ip(host):
        return [host]
    answer = await resolver.addresses(host)
    if answer.status is not dns.Status.FOUND:
        raise ConnectError(f"{host} has no address ({answer.detail})", answer.resolver_failed)
    return list(answer.records)


async def open_stream(
    host: str,
    port: int,
    *,
    rules: tuple[ConnectTo, ...],
    resolver: dns.Resolver,
    deadline: float,
    tls: ssl.SSLContext | None = None,
    addresses: tuple[str, ...] = (),
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect to ``host:port`` (TLS with SNI ``host`` when ``tls`` is given).

    ``addresses`` are ``host``'s, when the caller has looked them up already:
    they are used unless a rule sends the connection to another host.
    Addresses are tried in order; a TLS error ends the attempt, since every
    address of a host is expected to present the same certificate.
    """
    endpoint = route(rules, host, port)
    target, target_port = (endpoint.host, endpoint.port) if endpoint else (host, port)
    reasons = []
    # Asking again would cost a tenth of a domain's CPU (benchmarks/bench_check.py).
    for address in (addresses if addresses and target == host else await _addresses(target, resolver)):
        try:
            return await asyncio.open_connection(
                address,
                target_port,
                ssl=tls,
                server_hostname=host if tls else None,
                ssl_handshake_timeout=remaining(deadline) if tls else None,
                limit=LINE_LIMIT,
            )
        except ssl.SSLError:
            raise
        except OSError as exc:
            reasons.append(f"{address} port {target_port}: {exc.strerror or exc}")
    raise ConnectError("; ".join(reasons))
