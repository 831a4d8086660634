"""Read report e-mails from an IMAP mailbox over TLS, without changing it.

Read-only by construction: the folder is opened with EXAMINE (``select(...,
readonly=True)``), messages are fetched with ``BODY.PEEK[]`` (which, unlike
``BODY[]``, does not set ``\\Seen``), and nothing here sends STORE, COPY,
MOVE or EXPUNGE. Only implicit TLS (``imaps://``, port 993 by default): the
password never crosses the network in clear.
"""

from __future__ import annotations

import base64
import datetime as dt
import imaplib
import re
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from generator.errors import MailboxError, UsageError
from generator.reports.sources import MAX_MESSAGE_BYTES, InputError, Item, message_payloads, oversized

TIMEOUT = 60.0
# Messages per UID SEARCH and per RFC822.SIZE listing: the SEARCH reply is one
# line of at most ~55 KB, while imaplib refuses lines over 1 MB (a mailbox of
# about 100,000 messages in one SEARCH).
_WINDOW = 5_000
# Messages per FETCH of whole messages: few round trips, and at most
# _BATCH_BYTES in memory at once whatever the mailbox holds. A message over
# MAX_MESSAGE_BYTES is not fetched at all: RFC822.SIZE tells before any of
# it crosses the wire.
_BATCH = 200
_BATCH_BYTES = MAX_MESSAGE_BYTES
# Connections opened again after one is lost with messages read on it.
_RECONNECTS = 3
_SEQ_UID = re.compile(rb"^(\d+) \(.*\bUID (\d+)")
_UID = re.compile(rb"\bUID (\d+)")
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_FORMAT = "use imaps://user@host[:port]/Folder (TLS only)"


@dataclass(frozen=True)
class ImapTarget:
    user: str
    host: str
    port: int
    folder: str

    @property
    def label(self) -> str:
        return f"imaps://{self.host}:{self.port}/{self.folder}"


def parse_imap_url(url: str) -> ImapTarget:
    """``imaps://user@host[:port][/Folder]`` (folder INBOX by default).

    No message repeats the URL: a password written into it (``user:secret@``,
    or cut short by a ``/`` into the path) would be printed with it.
    """
    try:
        parts = urlsplit(url)
        port = parts.port or 993
    except ValueError:  # a bracket left open, a port that is no number from 0 to 65535
        raise UsageError(f"--imap: {_FORMAT}; the host or the port cannot be read") from None
    if parts.password is not None:
        raise UsageError("--imap: do not put the password in the URL; set it in the environment variable --imap-password-env names")
    if parts.scheme.lower() != "imaps":
        raise UsageError(f"--imap: {_FORMAT}")
    if not parts.username or not parts.hostname or not port:
        raise UsageError("--imap: needs a user, a host and a port from 1 to 65535, e.g. imaps://reports%40example.com@imap.example.com/INBOX")
    user = unquote(parts.username)
    # LOGIN sends the user name as it is: a CR or LF in it would end the
    # command and start another of the URL's choosing.
    if _CONTROL.search(user):
        raise UsageError("--imap: the user name holds a control character (a %0D or %0A?)")
    return ImapTarget(user, parts.hostname, port, unquote(parts.path.lstrip("/")) or "INBOX")


def check_password(target: ImapTarget, password: str, variable: str) -> None:
    """LOGIN sends the password as a quoted string, which a CR or LF would end."""
    if _CONTROL.search(password):
        raise UsageError(f"--imap: the password of {target.user} in {variable} holds a control character (a newline at its end?)")


def imap_date(day: dt.date) -> str:
    """A SEARCH date (RFC 3501 ``date``): 5-Dec-2026, month names in English whatever the locale."""
    return f"{day.day}-{_MONTHS[day.month - 1]}-{day.year}"


def _mailbox_name(name: str) -> str:
    """The folder name as IMAP wants it: modified UTF-7 (RFC 3501 §5.1.3), quoted."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            encoded = base64.b64encode("".join(pending).encode("utf-16-be")).decode().rstrip("=").replace("/", ",")
            out.append(f"&{encoded}-")
            pending.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    quoted = "".join(out).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{quoted}"'


def _text(data: object) -> str:
    if isinstance(data, list):
        data = b" ".join(d for d in data if isinstance(d, bytes))
    return data.decode(errors="replace") if isinstance(data, bytes) else str(data)


def imap_items(target: ImapTarget, password: str, ca_file: Path | None = None, timeout: float = TIMEOUT,
               since: dt.date | None = None) -> Iterator[Item]:
    """Every report attachment in ``target``'s folder (with ``since``, of the
    messages delivered on that day or later); raise :class:`MailboxError`.

    A connection lost after some messages were read is opened again, up to
    :data:`_RECONNECTS` times, and the reading goes on after the last whole
    FETCH reply: a reply cut short is dropped whole, so no message is read
    twice or skipped (UIDs stay valid while UIDVALIDITY does)."""
    try:
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(f"--ca-file {ca_file}: cannot use it: {getattr(exc, 'strerror', None) or exc}") from None
    reader = _Reader(target.label)
    for attempt in range(_RECONNECTS + 1):
        try:
            connection = _connect(target, password, context, timeout)
        except MailboxError as exc:
            raise MailboxError(f"{exc}{reader.progress()}") from None
        read_before = reader.fetched
        try:
            yield from reader.items(connection, target.folder, since)
            return
        except TimeoutError:
            raise MailboxError(f"no answer within {timeout:g} s{reader.progress()}") from None
        except (OSError, imaplib.IMAP4.abort) as exc:
            if attempt == _RECONNECTS or reader.fetched == read_before:
                raise MailboxError(f"the connection failed: {exc}{reader.progress()}") from None
        except imaplib.IMAP4.error as exc:  # a tagged BAD, or a reply line over imaplib's limit
            raise MailboxError(f"the server refused a command: {exc}{reader.progress()}") from None
        finally:
            try:
                connection.logout()
            except (OSError, imaplib.IMAP4.error):
                pass


def _connect(target: ImapTarget, password: str, context: ssl.SSLContext, timeout: float) -> imaplib.IMAP4_SSL:
    """A logged-in connection; raise :class:`MailboxError`."""
    try:
        connection = imaplib.IMAP4_SSL(target.host, target.port, ssl_context=context, timeout=timeout)
    except ssl.SSLCertVerificationError as exc:
        raise MailboxError(f"the server's certificate is not trusted: {exc.verify_message}") from None
    except (OSError, imaplib.IMAP4.error) as exc:
        raise MailboxError(f"cannot connect: {exc}") from None
    try:
        if f"{target.user}{password}".isascii():
            connection.login(_quoted(target.user), password)
        else:  # LOGIN sends ASCII only; SASL PLAIN carries UTF-8 (RFC 4616)
            connection.authenticate("PLAIN", lambda _: f"\0{target.user}\0{password}".encode())
    except (OSError, imaplib.IMAP4.error) as exc:
        try:
            connection.logout()
        except (OSError, imaplib.IMAP4.error):
            pass
        if isinstance(exc, TimeoutError):
            raise MailboxError(f"no answer within {timeout:g} s") from None
        if isinstance(exc, imaplib.IMAP4.error) and not isinstance(exc, imaplib.IMAP4.abort):
            raise MailboxError(f"login as {target.user} refused: {exc}") from None
        raise MailboxError(f"the connection failed: {exc}") from None
    return connection


def _quoted(text: str) -> str:
    """An IMAP quoted string (RFC 3501 §4.3), for a user name with blanks or quotes."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _Reader:
    """The read-only walk through one folder, over one connection or, after
    one is lost, the next: what is read is remembered by UID."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.connection: imaplib.IMAP4_SSL | None = None
        self.fetched = 0
        self.uid_validity: bytes | None = None
        self.done_through = 0  # every message up to this UID is read
        self.too_big: set[int] = set()  # named already

    def progress(self) -> str:
        if not self.fetched:
            return ""
        return f" after {self.fetched} messages were read (they are counted; the rest are not read: run again)"

    def items(self, connection: imaplib.IMAP4_SSL, folder: str, since: dt.date | None) -> Iterator[Item]:
        self.connection = connection
        data = self._ok(connection.select(_mailbox_name(folder), readonly=True), f"cannot open the folder {folder!r}")
        count = int(data[0]) if data and data[0] and data[0].isdigit() else 0
        _, (validity, *_) = connection.response("UIDVALIDITY")
        if self.uid_validity is not None and validity != self.uid_validity:
            raise MailboxError(f"the folder was renumbered (its UIDVALIDITY changed) by the time the connection was opened again{self.progress()}")
        self.uid_validity = validity
        for first, last in self._windows(count):
            uid_set = f"{first}:{last or '*'}"
            wanted: set[int] | None = None
            if since is not None:
                found = self._ok(self.connection.uid("SEARCH", f"UID {uid_set} SINCE {imap_date(since)}"), "SEARCH failed")
                wanted = {int(uid) for line in found if isinstance(line, bytes) for uid in line.split()}
                if not wanted:
                    continue
            sizes: dict[int, int] = {}
            for line in self._ok(self.connection.uid("FETCH", uid_set, "(RFC822.SIZE)"), "FETCH failed"):
                uid, size = _UID.search(line) if isinstance(line, bytes) else None, _SIZE.search(line) if isinstance(line, bytes) else None
                if uid and size:
                    sizes[int(uid.group(1))] = int(size.group(1))
            # "n:*" names the last message even when its UID is below n.
            uids = sorted(u for u in sizes if max(first, self.done_through + 1) <= u and (last is None or u <= last)
                          and (wanted is None or u in wanted))
            yield from self._fetch_all(uids, sizes)

    def _windows(self, count: int) -> Iterator[tuple[int, int | None]]:
        """UID ranges of about _WINDOW messages each, covering the folder.
        The UIDs of messages 1, 1 + _WINDOW, ... cut it: by UID, not by
        message number, so that a message another client expunges meanwhile
        shifts no other message out of the range it was to be read in."""
        if not count:
            return
        numbers = ",".join(str(n) for n in range(1, count + 1, _WINDOW))
        cuts = sorted({int(m.group(2)) for line in self._ok(self.connection.fetch(numbers, "(UID)"), "FETCH failed")
                       if isinstance(line, bytes) and (m := _SEQ_UID.search(line))})
        starts = [1, *cuts[1:]]
        for first, following in zip(starts, [*starts[1:], None]):
            yield first, following - 1 if following else None

    def _fetch_all(self, uids: list[int], sizes: dict[int, int]) -> Iterator[Item]:
        batch: list[int] = []
        batch_bytes = 0
        for uid in uids:
            size = sizes[uid]
            if size > MAX_MESSAGE_BYTES:
                if uid in self.too_big:
                    continue
                self.too_big.add(uid)
                yield InputError(f"{self.where} UID {uid}", oversized(size))
                continue
            if batch and (len(batch) == _BATCH or batch_bytes + size > _BATCH_BYTES):
                yield from self._fetch(batch)
                batch, batch_bytes = [], 0
            batch.append(uid)
            batch_bytes += size
        if batch:
            yield from self._fetch(batch)

    def _fetch(self, uids: list[int]) -> Iterator[Item]:
        data = self._ok(self.connection.uid("FETCH", _uid_set(uids), "(UID BODY.PEEK[])"), "FETCH failed")
        for entry in data:
            if isinstance(entry, tuple) and len(entry) == 2:
                uid = _UID.search(entry[0])
                self.fetched += 1
                yield from message_payloads(entry[1], f"{self.where} UID {uid.group(1).decode() if uid else '?'}")
        self.done_through = uids[-1]

    @staticmethod
    def _ok(reply: tuple[str, list], failure: str) -> list:
        status, data = reply
        if status != "OK":
            raise MailboxError(f"{failure}: {_text(data)}")
        return data or []


def _uid_set(uids: list[int]) -> str:
    """Sorted UIDs as an IMAP sequence set, runs written first:last."""
    runs: list[list[int]] = []
    for uid in uids:
        if runs and uid == runs[-1][1] + 1:
            runs[-1][1] = uid
        else:
            runs.append([uid, uid])
    return ",".join(f"{a}:{b}" if a != b else str(a) for a, b in runs)
