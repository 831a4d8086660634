"""The check's settings: flag parsing (--nameserver, --connect-to, ...) and
what one domain's check is given. Pure: nothing here touches the network."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING


from generator.errors import UsageError
from generator.names import MAX_NAME, ascii_form

if TYPE_CHECKING:  # the CLI parses these flags before it knows whether a config is needed
    from generator.config import DomainConfig

DEFAULT_TIMEOUT = 20.0
DEFAULT_CONCURRENCY = 50
# Each domain in flight holds a few sockets and up to four DNS queries; past
# this, name servers and open-file limits give out before checks go faster.
MAX_CONCURRENCY = 1000

_HOST_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)\Z", re.IGNORECASE)
_PORT = re.compile(r"[0-9]{1,5}")


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int


@dataclass(frozen=True)
class ConnectTo:
    """curl's ``HOST:PORT:CONNECT-TO-HOST:CONNECT-TO-PORT``; an empty part
    matches any host or port (left) or keeps it unchanged (right)."""

    host: str
    port: int | None
    to_host: str
    to_port: int | None

    def apply(self, host: str, port: int) -> Endpoint | None:
        if self.host and self.host != host.lower():
            return None
        if self.port is not None and self.port != port:
            return None
        return Endpoint(self.to_host or host, self.to_port or port)


def route(rules: tuple[ConnectTo, ...], host: str, port: int) -> Endpoint | None:
    """Where the first matching rule sends ``host:port``; None: use DNS."""
    for rule in rules:
        endpoint = rule.apply(host, port)
        if endpoint is not None:
            return endpoint
    return None


def _port(text: str, flag: str, value: str) -> int:
    # ASCII digits only: str.isdigit() accepts "²", which int() refuses.
    if not _PORT.fullmatch(text) or not 0 < int(text) < 65536:
        raise UsageError(f"{flag} {value!r}: port {text!r} is not a number from 1 to 65535")
    return int(text)


def _fields(value: str) -> list[str]:
    """Split at colons outside ``[...]``; an IP address loses its brackets,
    nothing else does (so ``[name]`` fails as a name or an address)."""
    fields, current, bracketed = [], "", False
    for ch in value:
        if ch == ":" and not bracketed:
            fields.append(current)
            current = ""
            continue
        bracketed = (bracketed or ch == "[") and ch != "]"
        current += ch
    fields.append(current)
    return [f[1:-1] if f.startswith("[") and f.endswith("]") and is_ip(f[1:-1]) else f for f in fields]


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _host(text: str, value: str) -> str:
    """HOST or ADDR of --connect-to: an IP address, or a name DNS can hold as
    its A-label, lowercase (an IDN is converted, as every other name is, so
    that it matches). One label is enough (``localhost``), and ``_`` is fine
    (container names), as for curl."""
    if is_ip(text):
        return text
    name = text.removesuffix(".")
    ascii_name = ascii_form(name) or ""
    labels = ascii_name.split(".")
    if not ascii_name or len(ascii_name) > MAX_NAME or not all(_HOST_LABEL.match(label) for label in labels) or labels[-1].isdigit():
        raise UsageError(f"--connect-to {value!r}: {text!r} is neither an IP address ([...] around IPv6) "
                         "nor a host name of letters, digits, '-' and '_' between dots") from None
    return ascii_name


def parse_connect_to(value: str) -> ConnectTo:
    fields = _fields(value)
    if len(fields) != 4:
        raise UsageError(f"--connect-to {value!r}: write HOST:PORT:ADDR:PORT, e.g. mta-sts.example.com:443:127.0.0.1:8443")
    host, port, to_host, to_port = fields
    return ConnectTo(
        host=_host(host, value) if host else "",
        port=_port(port, "--connect-to", value) if port else None,
        to_host=_host(to_host, value) if to_host else "",
        to_port=_port(to_port, "--connect-to", value) if to_port else None,
    )


def parse_nameserver(value: str) -> Endpoint:
    """``IP``, ``IP:PORT``, ``[IPv6]:PORT`` or a bare IPv6 address; port 53 by default."""
    fields = [value] if value.count(":") > 1 and not value.startswith("[") else _fields(value)
    if not is_ip(fields[0]):
        fields = []
    if len(fields) not in (1, 2):
        raise UsageError(f"--nameserver {value!r} is not IP or IP:PORT (an address: the resolver itself cannot be looked up by name)")
    return Endpoint(fields[0], _port(fields[1], "--nameserver", value) if len(fields) == 2 else 53)


@dataclass(frozen=True)
class CheckOptions:
    nameservers: tuple[Endpoint, ...] = ()  # empty: the system's resolv.conf
    ca_file: Path | None = None  # None: the system trust store
    connect_to: tuple[ConnectTo, ...] = ()
    timeout: float = DEFAULT_TIMEOUT  # one deadline per domain, in seconds
    concurrency: int = DEFAULT_CONCURRENCY
    smtp: bool = False
    github: bool = False  # add GitHub's view of each configured domain's Pages site (gh has a token)


# The longest wait any option takes. A float option also takes "nan" and
# "inf": a deadline of either never comes, and a huge one overflows the
# event loop's timers.
MAX_SECONDS = 86_400.0


def seconds(value: float, option: str, *, zero: bool = False) -> float:
    """A number of seconds from the command line, above 0 (or 0 with
    ``zero``) and at most a day."""
    if not ((value >= 0 if zero else value > 0) and value <= MAX_SECONDS):  # NaN fails every comparison
        low = "from 0" if zero else "above 0"
        raise UsageError(f"{option} {value}: give a number of seconds {low}, at most {MAX_SECONDS:.0f} (a day)")
    return value


def make_options(*, nameservers: list[str], ca_file: Path | None, connect_to: list[str], timeout: float, concurrency: int, smtp: bool,
                 github: bool = False) -> CheckOptions:
    seconds(timeout, "--timeout")
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise UsageError(f"--concurrency {concurrency}: give a number from 1 to {MAX_CONCURRENCY}")
    if ca_file is not None and not ca_file.is_file():
        raise UsageError(f"--ca-file {ca_file}: no such file")
    return CheckOptions(
        nameservers=tuple(parse_nameserver(n) for n in nameservers),
        ca_file=ca_file,
        connect_to=tuple(parse_connect_to(c) for c in connect_to),
        timeout=timeout,
        concurrency=concurrency,
        smtp=smtp,
        github=github,
    )


@dataclass(frozen=True)
class Target:
    """One domain to check; ``config`` enables the drift checks."""

    domain: str
    config: DomainConfig | None = None
