"""A real BIND 9 primary on 127.0.0.1 that takes RFC 2136 updates signed with TSIG.

named runs in the foreground (``-g``) with everything it writes (config,
zone files, journals, pid) in a caller-given working directory, so it runs
as root without touching /etc or /var. Zone transfers and updates are
allowed with one hmac-sha256 key, as a hosting provider would set it up.
"""

from __future__ import annotations

import base64
import secrets
import shutil
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import dns.query
import dns.rdatatype
import dns.tsigkeyring
import dns.zone

from .dns_server import DaemonServer, _free_port
from .server import HOST
from .tools import find_tool

_BIND_ATTEMPTS = 5
ALGORITHM = "hmac-sha256"
# Signs that another process took the probed port before named bound it:
# named 9.18 logs only that it cannot listen, then exits.
_PORT_LOST = ("unable to listen on any configured interfaces", "address in use")

class NamedError(RuntimeError):
    """named did not start or did not answer in time; the message holds its log."""


@dataclass(frozen=True)
class TsigKey:
    name: str
    secret: str  # base64, as named.conf and octoDNS take it
    algorithm: str = ALGORITHM

    @classmethod
    def random(cls, name: str = "mta-sts-pages-test") -> TsigKey:
        return cls(name, base64.b64encode(secrets.token_bytes(32)).decode("ascii"))


def _config(workdir: Path, port: int, key: TsigKey, zone_files: Mapping[str, Path], updates: bool) -> str:
    update = f'key "{key.name}";' if updates else "none;"
    zones = "".join(
        f'zone "{name}" {{ type primary; file "{path}"; allow-update {{ {update} }}; '
        f'allow-transfer {{ key "{key.name}"; }}; }};\n'
        for name, path in zone_files.items()
    )
    return f"""options {{
  directory "{workdir}";
  listen-on port {port} {{ {HOST}; }};
  listen-on-v6 {{ none; }};
  pid-file "{workdir / "named.pid"}";
  session-keyfile "{workdir / "session.key"}";
  managed-keys-directory "{workdir}";
  recursion no;
  dnssec-validation no;
  notify no;
}};
controls {{ }};
key "{key.name}" {{ algorithm {key.algorithm}; secret "{key.secret}"; }};
{zones}"""


class BindServer(DaemonServer):
    """A running named with its TSIG key."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, workdir: Path, key: TsigKey) -> None:
        super().__init__(process, port, workdir)
        self.key = key

    def transfer(self, zone: str) -> list[tuple[str, int, str, str]]:
        """The whole zone by AXFR (signed with the key): (name, ttl, type, rdata) sorted,
        the SOA serial left out since every update moves it."""
        xfr = dns.query.xfr(self.host, zone, port=self.port, timeout=5, lifetime=10, relativize=False,
                            keyring=dns.tsigkeyring.from_text({self.key.name: self.key.secret}), keyalgorithm=self.key.algorithm)
        transferred = dns.zone.from_xfr(xfr, relativize=False)
        rows = []
        for name, ttl, rdata in transferred.iterate_rdatas():
            text = rdata.to_text()
            if rdata.rdtype == dns.rdatatype.SOA:
                text = " ".join(part for i, part in enumerate(text.split()) if i != 2)
            rows.append((name.to_text(), ttl, dns.rdatatype.to_text(rdata.rdtype), text))
        return sorted(rows)

    def log(self) -> str:
        path = self.workdir / "named.stderr"
        return path.read_text(errors="replace") if path.exists() else ""


def start_named(zones: Mapping[str, str], workdir: Path, key: TsigKey, *, updates: bool = True, timeout: float = 60.0) -> BindServer:
    """Serve ``zones`` (zone name -> zone text) with a fresh named; returns
    once every zone answers. Raises NamedError if named fails to come up.
    ``updates=False``: transfers with the key, but no updates at all."""
    installed = find_tool("named")
    if installed is None:
        raise NamedError("named not found (apt-get install -y bind9)")
    # Where AppArmor is on (Ubuntu, GitHub's runners), Debian's profile for
    # /usr/sbin/named confines it to /etc/bind and /var/{lib,cache}/bind; a
    # copy of the binary elsewhere runs unconfined and reads the test's files.
    named = str(shutil.copy2(installed, workdir / "named"))
    zone_files: dict[str, Path] = {}
    for index, (name, text) in enumerate(zones.items()):
        path = workdir / f"{index}.zone"  # named keeps its journal beside it
        path.write_text(text)
        zone_files[name.rstrip(".") + "."] = path
    # Another process may grab the probed port before named binds it: try again.
    for _ in range(_BIND_ATTEMPTS):
        server = _launch(named, workdir, key, zone_files, updates, timeout)
        if server is not None:
            return server
    log = (workdir / "named.stderr").read_text(errors="replace")[-4000:]
    raise NamedError(f"named could not listen in {_BIND_ATTEMPTS} attempts (each on a new port); its last log:\n{log}")


def _launch(named: str, workdir: Path, key: TsigKey, zone_files: Mapping[str, Path], updates: bool, timeout: float) -> BindServer | None:
    port = _free_port()
    config = workdir / "named.conf"
    config.write_text(_config(workdir, port, key, zone_files, updates))
    with open(workdir / "named.stderr", "wb") as stderr:
        process = subprocess.Popen(
            # -g: foreground, log to stderr; -4: loopback IPv4 only; -n 1: one worker thread.
            [named, "-g", "-4", "-n", "1", "-c", str(config)],
            stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr, start_new_session=True,
        )
    server = BindServer(process, port, workdir, key)
    waiting = list(zone_files)
    deadline = time.monotonic() + timeout
    while waiting and process.poll() is None and time.monotonic() < deadline:
        if "not loaded due to errors" in server.log():
            break
        if server.answers(waiting[0]):
            waiting.pop(0)
        else:
            time.sleep(0.05)
    if not waiting:
        return server
    exit_code = process.poll()
    server.stop()
    output = server.log()
    if any(sign in output.lower() for sign in _PORT_LOST):
        return None
    state = f"did not serve every zone within {timeout}s" if exit_code is None else f"exited with code {exit_code}"
    raise NamedError(f"named on {server.address} {state}:\n{output}")
