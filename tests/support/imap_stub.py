"""A small IMAP4rev1 server over TLS on 127.0.0.1 that misbehaves on request.

Dovecot (tests/support/imap_server.py) is the real server; this one exists
for what Dovecot cannot be made to do: answer a valid command with a tagged
``BAD``, drop the connection halfway through a FETCH, or hold 150,000
messages without minutes of indexing. It speaks just what a read-only
client needs: CAPABILITY, LOGIN, EXAMINE, FETCH, UID SEARCH (ALL, UID,
SINCE), UID FETCH (UID, RFC822.SIZE, BODY.PEEK[]), NOOP and LOGOUT.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import re
import socket
import ssl
import threading
from .certs import LocalCA
from .server import HOST, Server
from .tcp import ThreadedTcpServer

_MONTHS = {name: number for number, name in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
                                                       "Oct", "Nov", "Dec"), 1)}
_SINCE = re.compile(r"\bSINCE (\d{1,2})-([A-Z][a-z]{2})-(\d{4})\b")
_UID_KEY = re.compile(r"\bUID (\S+)")


@dataclasses.dataclass
class StubMessage:
    uid: int
    data: bytes
    day: dt.date = dt.date(2026, 11, 2)  # its INTERNALDATE, for SEARCH SINCE


@dataclasses.dataclass
class Misbehaviour:
    """What to do wrong: answer BAD to the first command starting with
    ``bad`` (e.g. "EXAMINE", "UID SEARCH", "UID FETCH"), or close the
    connection once ``drop_after`` whole messages were sent (on all its
    connections), halfway through the next; ``drops`` times (None: on every
    connection from then on)."""

    bad: str | None = None
    drop_after: int | None = None
    drops: int | None = None
    renumber: bool = False  # a new UIDVALIDITY after each drop (the folder rebuilt meanwhile)


def _ranges(text: str, largest: int) -> list[tuple[int, int]]:
    """An IMAP sequence set ("1:5,7,9:*") as ranges; "*" is ``largest``,
    and "9:*" with 9 above it is "largest:9" (RFC 3501 §9, seq-range)."""
    ranges = []
    for part in text.split(","):
        first, _, last = part.partition(":")
        a = largest if first == "*" else int(first)
        b = a if not last else largest if last == "*" else int(last)
        ranges.append((min(a, b), max(a, b)))
    return ranges


class StubImapServer(Server):
    """IMAPS on 127.0.0.1:<ephemeral port>; ``commands`` holds every line received."""

    def __init__(self, ca: LocalCA, messages: list[StubMessage], misbehaviour: Misbehaviour | None = None) -> None:
        self.messages = sorted(messages, key=lambda m: m.uid)
        self._uids = [m.uid for m in self.messages]
        self.misbehaviour = misbehaviour or Misbehaviour()
        self.commands: list[bytes] = []
        self.fetched: list[int] = []  # UIDs of the whole messages sent
        self.uid_validity = 1
        self._tls = ca.server_context(HOST)
        self._lock = threading.Lock()
        self._tcp = ThreadedTcpServer(self._serve)
        self.port = self._tcp.port

    def start(self) -> StubImapServer:
        self._tcp.start()
        return self

    def stop(self) -> None:
        self._tcp.stop()

    @property
    def errors(self) -> list[BaseException]:
        return self._tcp.errors

    def _serve(self, conn: socket.socket) -> None:
        with self._tls.wrap_socket(conn, server_side=True) as tls, tls.makefile("rb") as reader:
            tls.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] stub ready\r\n")
            while line := reader.readline(100_000):
                with self._lock:
                    self.commands.append(line)
                tag, _, rest = line.decode("ascii", "replace").rstrip("\r\n").partition(" ")
                command = rest.upper()
                bad = self.misbehaviour.bad
                if bad and command.startswith(bad):
                    self.misbehaviour.bad = None
                    tls.sendall(f"{tag} BAD Error in IMAP command: stub says no\r\n".encode())
                elif command.startswith("LOGOUT"):
                    tls.sendall(f"* BYE logging out\r\n{tag} OK LOGOUT completed\r\n".encode())
                    return
                elif not self._answer(tls, tag, rest):
                    return

    def _answer(self, tls: ssl.SSLSocket, tag: str, rest: str) -> bool:
        """Send the reply to one command; False once the connection is dropped."""
        words = rest.split(" ")
        name = words[0].upper()
        if name == "CAPABILITY":
            tls.sendall(f"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n{tag} OK done\r\n".encode())
        elif name in ("EXAMINE", "SELECT"):
            uid_next = self.messages[-1].uid + 1 if self.messages else 1
            tls.sendall(f"* {len(self.messages)} EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY {self.uid_validity}] ok\r\n"
                        f"* OK [UIDNEXT {uid_next}] ok\r\n{tag} OK [READ-ONLY] done\r\n".encode())
        elif name == "FETCH":  # by message number: only (UID) is asked this way
            numbers = sorted({n for a, b in _ranges(words[1], len(self.messages)) for n in range(a, min(b, len(self.messages)) + 1)})
            lines = [f"* {n} FETCH (UID {self.messages[n - 1].uid})\r\n" for n in numbers]
            tls.sendall("".join(lines).encode() + f"{tag} OK done\r\n".encode())
        elif name == "UID" and words[1].upper() == "SEARCH":
            tls.sendall(b"".join(self._search(" ".join(words[2:]))) + f"{tag} OK done\r\n".encode())
        elif name == "UID" and words[1].upper() == "FETCH":
            return self._uid_fetch(tls, tag, words[2], " ".join(words[3:]).upper())
        else:  # LOGIN and NOOP: anything goes
            tls.sendall(f"{tag} OK done\r\n".encode())
        return True

    def _by_uid(self, uid_set: str) -> list[tuple[int, StubMessage]]:
        """The messages ``uid_set`` names, with their message numbers."""
        found: set[int] = set()
        for a, b in _ranges(uid_set, self._uids[-1] if self._uids else 0):
            found.update(range(bisect.bisect_left(self._uids, a), bisect.bisect_right(self._uids, b)))
        return [(index + 1, self.messages[index]) for index in sorted(found)]

    def _search(self, criteria: str) -> list[bytes]:
        uid_key = _UID_KEY.search(criteria)
        chosen = self._by_uid(uid_key.group(1)) if uid_key else list(enumerate(self.messages, 1))
        since = _SINCE.search(criteria)
        day = dt.date(int(since.group(3)), _MONTHS[since.group(2)], int(since.group(1))) if since else dt.date.min
        return [b"* SEARCH", *(f" {m.uid}".encode() for _, m in chosen if m.day >= day), b"\r\n"]

    def _uid_fetch(self, tls: ssl.SSLSocket, tag: str, uid_set: str, items: str) -> bool:
        chosen = self._by_uid(uid_set)
        if "BODY" not in items:
            tls.sendall("".join(f"* {n} FETCH (UID {m.uid} RFC822.SIZE {len(m.data)})\r\n" for n, m in chosen).encode()
                        + f"{tag} OK done\r\n".encode())
            return True
        for n, m in chosen:
            head = f"* {n} FETCH (UID {m.uid} BODY[] {{{len(m.data)}}}\r\n".encode()
            drop = self.misbehaviour
            if drop.drop_after is not None and len(self.fetched) >= drop.drop_after and drop.drops != 0:
                tls.sendall(head + m.data[: len(m.data) // 2])
                if drop.drops is not None:
                    drop.drops -= 1
                self.uid_validity += drop.renumber
                return False
            tls.sendall(head + m.data + b")\r\n")
            with self._lock:
                self.fetched.append(m.uid)
        tls.sendall(f"{tag} OK done\r\n".encode())
        return True
