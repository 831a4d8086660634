"""Helpers for the `check` tests: a healthy domain's records and policy, and
`check --json` run through the real entry point with its output parsed."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from .certs import LocalCA
from .cli import run_cli
from .dns_server import start_nsd
from .tls_server import Route, TlsServer


def policy_bytes(domain: str, mode: str = "enforce", mx: tuple[str, ...] = ("mx1",), max_age: int = 604800, eol: str = "\r\n") -> bytes:
    """A policy as `build` renders it; ``mx`` names are relative to ``domain``."""
    lines = ["version: STSv1", f"mode: {mode}", *(f"mx: {m}.{domain}" for m in mx), f"max_age: {max_age}"]
    return (eol.join(lines) + eol).encode()


STS = '_mta-sts TXT "v=STSv1; id=abc123"'
TLSRPT = '_smtp._tls TXT "v=TLSRPTv1; rua=mailto:tls@example.net"'
MX = "@ MX 10 mx1\nmx1 A 127.0.0.1"
POLICY_HOST = "mta-sts A 127.0.0.1"
HEALTHY = "\n".join([STS, TLSRPT, MX, POLICY_HOST])


@dataclass
class CheckRun:
    code: int
    reports: list[dict]
    err: str

    def report(self, domain: str) -> dict:
        return next(r for r in self.reports if r["domain"] == domain)

    def findings(self, domain: str) -> set[tuple[str, str]]:
        return {(f["code"], f["severity"]) for f in self.report(domain)["findings"]}


def run_check_json(*args: str) -> CheckRun:
    result = run_cli("check", "--json", *args)
    assert result.code in (0, 1), result.output
    reports = [json.loads(line) for line in result.out.splitlines()]
    return CheckRun(result.code, reports, result.err)


@dataclass
class CheckServers:
    nameserver: str  # for --nameserver
    ca_file: Path  # for --ca-file
    https: TlsServer


@contextlib.contextmanager
def check_servers(zones: Mapping[str, str], workdir: Path, ca: LocalCA) -> Iterator[CheckServers]:
    """NSD serving ``zones``, and an HTTPS server with each zone's policy at
    ``mta-sts.<zone>`` (routes can be changed on ``https``)."""
    with start_nsd(zones, workdir) as nsd, TlsServer(ca) as https:
        for domain in zones:
            https.route(f"mta-sts.{domain}", Route(body=policy_bytes(domain)))
        yield CheckServers(nsd.address, ca.pem_path, https)
