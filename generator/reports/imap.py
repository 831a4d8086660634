"""Read report e-mails from an IMAP mailbox over TLS, without changing it.

Read-only by construction: the folder is opened with EXAMINE (``select(...,
readonly=True)``), messages are fetched with ``BODY.PEEK[]`` (which, unlike
``BODY[]``, does not set ``\\Seen``), and nothing here sends STORE, COPY,
MOVE or EXPUNGE. Only implicit TLS (``imaps://``, port 993 by default): the
password never crosses the network in clear.
"""

from __future__ import annotations

import base64
import imaplib
import re
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from generator.errors import MailboxError, UsageError
from generator.reports.sources import Item, message_payloads

TIMEOUT = 60.0
_BATCH = 200  # messages per FETCH: few round trips, bounded memory
_UID = re.compile(rb"\bUID (\d+)")


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
    """``imaps://user@host[:port][/Folder]`` (folder INBOX by default)."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "imaps":
        raise UsageError(f"--imap {url!r}: use imaps://user@host[:port]/Folder (TLS only)")
    if parts.password is not None:
        raise UsageError("--imap: do not put the password in the URL; set it in the environment variable --imap-password-env names")
    try:
        port = parts.port or 993
    except ValueError:
        raise UsageError(f"--imap {url!r}: the port is not a number from 1 to 65535") from None
    if not parts.username or not parts.hostname:
        raise UsageError(f"--imap {url!r}: needs a user and a host, e.g. imaps://reports%40example.com@imap.example.com/INBOX")
    return ImapTarget(unquote(parts.username), parts.hostname, port, unquote(parts.path.lstrip("/")) or "INBOX")


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


def imap_items(target: ImapTarget, password: str, ca_file: Path | None = None, timeout: float = TIMEOUT) -> Iterator[Item]:
    """Every report attachment in ``target``'s folder; raise :class:`MailboxError`."""
    try:
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(f"--ca-file {ca_file}: cannot use it: {getattr(exc, 'strerror', None) or exc}") from None
    where = target.label
    try:
        connection = imaplib.IMAP4_SSL(target.host, target.port, ssl_context=context, timeout=timeout)
    except ssl.SSLCertVerificationError as exc:
        raise MailboxError(f"the server's certificate is not trusted: {exc.verify_message}") from None
    except (OSError, imaplib.IMAP4.error) as exc:
        raise MailboxError(f"cannot connect: {exc}") from None
    try:
        try:
            if f"{target.user}{password}".isascii():
                connection.login(target.user, password)
            else:  # LOGIN sends ASCII only; SASL PLAIN carries UTF-8 (RFC 4616)
                connection.authenticate("PLAIN", lambda _: f"\0{target.user}\0{password}".encode())
        except imaplib.IMAP4.error as exc:
            raise MailboxError(f"login as {target.user} refused: {exc}") from None
        status, data = connection.select(_mailbox_name(target.folder), readonly=True)
        if status != "OK":
            raise MailboxError(f"cannot open the folder {target.folder!r}: {_text(data)}")
        status, data = connection.uid("SEARCH", None, "ALL")
        if status != "OK":
            raise MailboxError(f"SEARCH failed: {_text(data)}")
        uids = data[0].split() if data and data[0] else []
        for start in range(0, len(uids), _BATCH):
            batch = b",".join(uids[start:start + _BATCH]).decode()
            status, data = connection.uid("FETCH", batch, "(UID BODY.PEEK[])")
            if status != "OK":
                raise MailboxError(f"FETCH failed: {_text(data)}")
            for entry in data:
                if isinstance(entry, tuple) and len(entry) == 2:
                    uid = _UID.search(entry[0])
                    yield from message_payloads(entry[1], f"{where} UID {uid.group(1).decode() if uid else '?'}")
    except TimeoutError:
        raise MailboxError(f"no answer within {timeout:g} s") from None
    except (OSError, imaplib.IMAP4.abort) as exc:
        raise MailboxError(f"the connection failed: {exc}") from None
    finally:
        try:
            connection.logout()
        except (OSError, imaplib.IMAP4.error):
            pass
