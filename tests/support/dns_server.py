"""A real authoritative DNS server (NSD) on 127.0.0.1, serving zones given as text.

Everything NSD writes (config, pid, state, logs) stays in a caller-given working
directory, so it runs as root without touching /etc or /var.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.resolver

from .server import HOST, Server
from .tools import find_tool

_BIND_ATTEMPTS = 5


class ZoneError(ValueError):
    """A zone text that nsd-checkzone rejects; the message holds its diagnostics."""


class NsdError(RuntimeError):
    """NSD did not start or did not answer in time; the message holds its log."""


def minimal_zone(origin: str, records: str = "", *, ttl: int = 300) -> str:
    """Return zone text for ``origin`` with SOA and NS, followed by ``records``.

    ``records`` are zone-file lines, with names relative to the origin (or
    absolute), e.g. the BIND lines that ``mta-sts-pages records`` prints.
    """
    origin = origin.rstrip(".") + "."
    return (
        f"$ORIGIN {origin}\n"
        f"$TTL {ttl}\n"
        f"@ IN SOA ns1.{origin} hostmaster.{origin} 1 3600 900 604800 {ttl}\n"
        f"@ IN NS ns1.{origin}\n"
        f"ns1 IN A {HOST}\n"
        f"{records}\n"
    )


def loopback_resolver(port: int, lifetime: float = 2.0) -> dns.resolver.Resolver:
    """A dnspython resolver that asks only HOST:``port`` (no /etc/resolv.conf)."""
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [HOST]
    resolver.port = port
    resolver.lifetime = lifetime
    return resolver


def check_zones(zone_files: Mapping[str, Path]) -> None:
    """Run nsd-checkzone on every file; raise ZoneError naming each bad zone."""
    checker = find_tool("nsd-checkzone")
    if checker is None:
        raise NsdError("nsd-checkzone not found (apt-get install -y nsd)")

    def check(item: tuple[str, Path]) -> str | None:
        name, path = item
        result = subprocess.run(
            [checker, name, str(path)], capture_output=True, text=True, check=False
        )
        if result.returncode == 0:
            return None
        return f"zone {name}:\n{result.stderr.strip() or result.stdout.strip()}"

    # One process per zone: run them side by side so a thousand zones stay quick.
    with ThreadPoolExecutor(max_workers=2 * (os.cpu_count() or 1)) as pool:
        problems = [p for p in pool.map(check, zone_files.items()) if p is not None]
    if problems:
        raise ZoneError("\n".join(problems))


def _free_port() -> int:
    """Return a port that is free for both UDP and TCP on HOST right now."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((HOST, 0))
            port: int = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((HOST, port))
                except OSError:
                    continue
                return port


def _config(workdir: Path, port: int, zone_files: Mapping[str, Path]) -> str:
    server = f"""server:
  ip-address: {HOST}@{port}
  do-ip6: no
  username: ""
  chroot: ""
  server-count: 1
  verbosity: 1
  zonesdir: "{workdir / "zones"}"
  database: ""
  zonelistfile: "{workdir / "zone.list"}"
  xfrdfile: "{workdir / "xfrd.state"}"
  xfrdir: "{workdir / "xfr"}"
  pidfile: "{workdir / "nsd.pid"}"
  logfile: "{workdir / "nsd.log"}"
remote-control:
  control-enable: no
"""
    zones = "".join(
        f'zone:\n  name: "{name}"\n  zonefile: "{path}"\n' for name, path in zone_files.items()
    )
    return server + zones


class DaemonServer(Server):
    """An authoritative server process started by a test (NSD, BIND); stop it
    with ``stop()`` or by leaving a ``with`` block."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, workdir: Path) -> None:
        self.process = process
        self.port = port
        self.workdir = workdir

    def resolver(self, lifetime: float = 2.0) -> dns.resolver.Resolver:
        """A dnspython resolver that asks only this server."""
        return loopback_resolver(self.port, lifetime)

    def answers(self, zone: str) -> bool:
        """Whether the server gives ``zone``'s SOA right now."""
        query = dns.message.make_query(zone, "SOA")
        try:
            # A late answer to an earlier probe can reach this one when its
            # source port comes round again: skip it rather than fail.
            reply = dns.query.udp(query, self.host, port=self.port, timeout=0.2, ignore_errors=True)
        except (dns.exception.Timeout, OSError):
            return False
        return reply.rcode() == dns.rcode.NOERROR and bool(reply.answer)

    def stop(self) -> None:
        """Stop the server and the helper processes it forked."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


class NsdServer(DaemonServer):
    """A running NSD process."""

    def log(self) -> str:
        """NSD's log so far (empty if it wrote none)."""
        path = self.workdir / "nsd.log"
        return path.read_text(errors="replace") if path.exists() else ""


def start_nsd(zones: Mapping[str, str], workdir: Path, *, timeout: float = 60.0) -> NsdServer:
    """Check ``zones`` (zone name -> zone text), then serve them with NSD.

    Returns once NSD answers for the first and the last zone; NSD loads every
    zone before it answers at all, so the two probes cover the rest.
    Raises ZoneError for a bad zone and NsdError if NSD fails to come up.
    """
    if not zones:
        raise ValueError("start_nsd needs at least one zone")
    nsd = find_tool("nsd")
    if nsd is None:
        raise NsdError("nsd not found (apt-get install -y nsd)")
    zone_dir = workdir / "zones"
    zone_dir.mkdir(parents=True, exist_ok=True)
    zone_files: dict[str, Path] = {}
    for index, (name, text) in enumerate(zones.items()):
        # Index-based file names: zone names may hold characters unfit for paths.
        path = zone_dir / f"{index}.zone"
        path.write_text(text)
        zone_files[name.rstrip(".") + "."] = path
    check_zones(zone_files)

    # Another process may grab the probed port before NSD binds it: try again.
    for _ in range(_BIND_ATTEMPTS):
        server = _launch(nsd, workdir, zone_files, timeout)
        if server is not None:
            return server
    raise NsdError(f"NSD found no free port in {_BIND_ATTEMPTS} attempts")


def _launch(
    nsd: str, workdir: Path, zone_files: Mapping[str, Path], timeout: float
) -> NsdServer | None:
    """Start NSD on a fresh port; None if that port was taken meanwhile."""
    config = workdir / "nsd.conf"
    port = _free_port()
    config.write_text(_config(workdir, port, zone_files))
    log = workdir / "nsd.log"
    log.unlink(missing_ok=True)
    with open(workdir / "nsd.stderr", "wb") as stderr:
        process = subprocess.Popen(
            [nsd, "-d", "-c", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=stderr,
            stderr=stderr,
            start_new_session=True,  # lets stop() kill NSD's children as a group
        )
    server = NsdServer(process, port, workdir)
    names = list(zone_files)
    probes = list(dict.fromkeys([names[0], names[-1]]))
    deadline = time.monotonic() + timeout
    while probes and process.poll() is None and time.monotonic() < deadline:
        if server.answers(probes[0]):
            probes.pop(0)
        else:
            time.sleep(0.05)
    if not probes:
        return server
    exit_code = process.poll()
    server.stop()
    output = (workdir / "nsd.stderr").read_text(errors="replace") + server.log()
    if "Address already in use" in output:
        return None
    state = (
        f"did not answer within {timeout}s"
        if exit_code is None
        else f"exited with code {exit_code}"
    )
    raise NsdError(f"NSD on {server.address} {state}:\n{output}")
