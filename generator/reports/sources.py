"""Where reports come from: files, folders, e-mails, mboxes and Maildirs.

Each input gives :class:`Payload` items (one report document's bytes and
where it came from), :class:`InputError` items (an input that cannot be
read, named with what is wrong) and :class:`Skipped` items (mail or files
that hold no TLS report, which a mailbox shared with other mail is full of).

The container is told from the bytes, not the name: senders and archivers
name files loosely (a ``.json`` that is gzip, an ``.eml`` that is an mbox).
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import os
import re
import stat
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from generator.reports.parse import MalformedReport

# A real report is a few KiB (the JSON in tests/fixtures/tlsrpt: 0.4 to 1.3 KiB); a busy
# domain's with a thousand failure details some 300 KiB. The cap holds for
# the JSON whatever its container, and for gzip while it inflates: parsing
# JSON can take 30 times its size in memory ([[],[],...]), 900 MB for the
# 32 MiB a 32 KB gzip bomb unpacks to.
MAX_REPORT_BYTES = 4 * 1024 * 1024
MAX_INPUT_BYTES = 256 * 1024 * 1024
# A report unpacks to at most MAX_REPORT_BYTES; as base64 of gzip or of plain
# JSON its e-mail is smaller than this, and a larger one (a file, a message
# of an mbox, or over IMAP) is not parsed: the email package holds a few
# times the message's size while it splits it.
MAX_MESSAGE_BYTES = 8 * 1024 * 1024
# A Content-Type or Content-Disposition header is under 300 characters with a
# few parameters from every sender seen (RFC 5322 lines stop at 998); a long
# file name split by RFC 2231 takes dozens of parameters.
MAX_HEADER_CHARS = 4000
MAX_HEADER_PARAMETERS = 100
GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"
# What real senders label report attachments with (RFC 8460 §5.3 names the
# first two; others send generic gzip or JSON types, or octet-stream).
_REPORT_TYPES = {"application/tlsrpt+gzip", "application/tlsrpt+json"}
_GENERIC_TYPES = {"application/gzip", "application/x-gzip", "application/json", "application/octet-stream", "text/json"}
_REPORT_NAME = re.compile(r"\.json(\.gz)?$", re.I)  # RFC 8460 §5.1 file names; .xml.gz is DMARC
# sender!policy-domain!begin!end[!id].json[.gz], RFC 8460 §5.1's file name.
_FILE_NAME_DOMAIN = re.compile(r"^[^!]+!([^!]+)!\d+!\d+")
_HEADER_LINE = re.compile(rb"^[!-9;-~]+:")
_FROM_LINE = re.compile(rb"^From ", re.M)


@dataclass(frozen=True)
class Payload:
    origin: str
    data: bytes
    domain_hint: str | None = None
    inflated: bool = False  # data is a gzip file's report, already inflated (and not to be inflated again)


@dataclass(frozen=True)
class InputError:
    source: str
    message: str


@dataclass(frozen=True)
class Skipped:
    source: str
    why: str


Item = Payload | InputError | Skipped


def domain_from_name(name: str | None) -> str | None:
    match = _FILE_NAME_DOMAIN.match(name or "")
    return match.group(1) if match else None


def decompress(data: bytes) -> bytes:
    """The bytes of a gzip member, or plain bytes, at most :data:`MAX_REPORT_BYTES`."""
    if not data.startswith(GZIP_MAGIC):
        if len(data) > MAX_REPORT_BYTES:
            raise MalformedReport(f"larger than {MAX_REPORT_BYTES // (1024 * 1024)} MiB, more than any real report")
        return data
    return _whole(*_inflate(data))


def _inflate(data: bytes) -> tuple[bytes, bool]:
    """Gzip ``data`` inflated to at most one byte more than :data:`MAX_REPORT_BYTES`, and whether that is the whole member."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        return inflater.decompress(data, MAX_REPORT_BYTES + 1), inflater.eof
    except zlib.error as exc:
        raise MalformedReport(f"broken gzip data ({exc})") from None


def _whole(out: bytes, eof: bool) -> bytes:
    if len(out) > MAX_REPORT_BYTES:
        raise MalformedReport(f"the report unpacks to more than {MAX_REPORT_BYTES // (1024 * 1024)} MiB, more than any real report")
    if not eof:
        raise MalformedReport("the gzip data is cut short")
    return out


def list_files(paths: Iterable[Path]) -> tuple[list[tuple[str, bool]], list[InputError]]:
    """Expand folders recursively (sorted) into ``(file, named)`` pairs.

    ``named`` is True for a file given on the command line: an unreadable one
    is an error, while unrecognised files met inside folders are skipped.
    A Maildir's ``tmp`` folder is left out: mail there is still being written.
    """
    files: list[tuple[str, bool]] = []
    errors: list[InputError] = []
    seen: set[tuple[int, int]] = set()  # folders walked, by device and inode

    def unlisted(exc: OSError) -> None:  # os.walk skips a folder it cannot list unless told
        errors.append(InputError(str(exc.filename), f"cannot read the folder: {exc.strerror}"))

    for path in paths:
        try:
            is_dir = stat.S_ISDIR(path.stat().st_mode)
        except FileNotFoundError:
            errors.append(InputError(str(path), "no such file or folder"))
            continue
        except OSError as exc:  # a symlink loop, a name too long
            errors.append(InputError(str(path), f"cannot read it: {exc.strerror}"))
            continue
        if is_dir:
            # Links to folders are followed (archives are often folders of
            # links); each folder is read once, so a link back up ends.
            for root, dirs, names in os.walk(path, onerror=unlisted, followlinks=True):
                info = os.stat(root)  # os.walk just listed it
                if (info.st_dev, info.st_ino) in seen:
                    dirs.clear()
                    continue
                seen.add((info.st_dev, info.st_ino))
                if {"cur", "new", "tmp"} <= set(dirs):
                    dirs.remove("tmp")
                dirs.sort()
                # Names as strings: a Path per file cost more than reading it.
                files += [(os.path.join(root, name), False) for name in sorted(names)]
        else:
            files.append((str(path), True))
    return files, errors


def read_file(path: str, named: bool) -> Iterator[Item]:
    """The report payloads in one file, whatever its container."""
    try:
        data = _read(path, named)
    except OSError as exc:
        yield InputError(path, f"cannot read it: {exc.strerror}")
        return
    if data is None:
        yield Skipped(path, "not a regular file (a pipe, socket or device)")
        return
    if len(data) > MAX_INPUT_BYTES:
        yield InputError(path, f"larger than {MAX_INPUT_BYTES // (1024 * 1024)} MiB")
        return
    head = data.removeprefix(UTF8_BOM).lstrip()[:1]  # parse_json reads past a BOM too
    if data.startswith(GZIP_MAGIC):
        yield _gzip_file(data, path, named)
    elif head in (b"{", b"["):
        yield Payload(path, data, domain_from_name(os.path.basename(path)))
    elif data.startswith(b"From "):
        yield from mbox_payloads(data, path)
    elif _HEADER_LINE.match(data):
        yield from message_payloads(data, path)
    elif named:
        yield InputError(path, "not a TLS report: neither JSON, gzip, an e-mail nor an mbox")
    else:
        yield Skipped(path, "not JSON, gzip or mail")


def _gzip_file(data: bytes, path: str, named: bool) -> Item:
    """A gzip file's report, inflated here and once: DMARC aggregate reports
    (RFC 7489, gzipped XML) often share the mailbox, and so the folder."""
    try:
        inflated, whole = _inflate(data)
    except MalformedReport as exc:
        return (InputError if named else Skipped)(path, _DMARC) if _gzipped_xml(data) else InputError(path, str(exc))
    if inflated.removeprefix(UTF8_BOM).lstrip()[:1] == b"<":
        return (InputError if named else Skipped)(path, _DMARC)
    try:
        return Payload(path, _whole(inflated, whole), domain_from_name(os.path.basename(path)), inflated=True)
    except MalformedReport as exc:
        return InputError(path, str(exc))


def _read(path: str, named: bool) -> bytes | None:
    """The bytes of ``path``, at most one more than :data:`MAX_INPUT_BYTES`;
    None for a file met in a folder that is not a regular file.

    Opened without waiting: opening a pipe met in a folder would wait for a
    writer for ever (one named on the command line is a shell's
    <(zcat ...), and read).
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | (0 if named else getattr(os, "O_NONBLOCK", 0)))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) and not named:
            return None
        # A regular file at its size and a byte more, which tells one that
        # grew since (or a /proc file, of size 0): asking for the cap
        # allocates the cap, 256 MiB a file.
        want = min(info.st_size, MAX_INPUT_BYTES) + 1 if stat.S_ISREG(info.st_mode) else 1 << 16
        chunks, total = [], 0
        while total <= MAX_INPUT_BYTES:
            chunk = os.read(fd, min(want, MAX_INPUT_BYTES + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            want = 1 << 20
        return b"".join(chunks)
    finally:
        os.close(fd)


_DMARC = "not a TLS report: gzipped XML (a DMARC aggregate report?)"


def _gzipped_xml(data: bytes) -> bool:
    """Whether gzip ``data`` begins with XML, from its first few bytes (of
    a member broken further on)."""
    try:
        start = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS).decompress(data, 64)
    except zlib.error:
        return False
    return start.removeprefix(UTF8_BOM).lstrip()[:1] == b"<"


def mbox_payloads(data: bytes, origin: str) -> Iterator[Item]:
    """The report attachments of each message of an mbox, split from the
    bytes already read as :class:`mailbox.mbox` splits a file: at every line
    starting "From ", which is dropped with the blank line before the next.
    (``mailbox`` opens the path again and seeks, which a pipe such as
    ``<(zcat archive.mbox.gz)`` cannot do.)"""
    starts = [match.start() for match in _FROM_LINE.finditer(data)]
    for number, (start, end) in enumerate(zip(starts, [*starts[1:], len(data)]), 1):
        message = data[start:end].split(b"\n", 1)[1] if b"\n" in data[start:end] else b""
        yield from message_payloads(message.removesuffix(b"\n").removesuffix(b"\r"), f"{origin} message {number}")


class _HeaderText(email.policy.EmailPolicy):
    """``policy.default``, but a header read is its unfolded text, not a
    parsed header object: the methods used here (get_content_type,
    get_param, get_filename) split the text themselves, while the parser
    behind header objects takes several microseconds a byte, and more with
    many parameters (a 1.6 MB e-mail of parts with 9,000 parameters each
    took 40 s). Those methods' own splitter is quadratic in a header's
    length and in its number of ``;``, hence the limits."""

    def header_fetch_parse(self, name: str, value: str) -> str:
        text = value.replace("\r", "").replace("\n", "")  # unfolded, as policy.default unfolds
        if name.lower() in _PARAMETER_HEADERS:
            if len(text) > MAX_HEADER_CHARS:
                raise _LongHeader(f"its {name} header is {len(text):,} characters long, more than any sender writes (at most {MAX_HEADER_CHARS:,})")
            if text.count(";") > MAX_HEADER_PARAMETERS:
                raise _LongHeader(f"its {name} header has {text.count(';'):,} parameters, more than any sender writes (at most {MAX_HEADER_PARAMETERS})")
        # Bytes that are not ASCII (RFC 6532 allows UTF-8) come as surrogates.
        return text if text.isascii() else text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


_PARAMETER_HEADERS = {"content-type", "content-disposition"}  # the ones get_param splits


class _LongHeader(ValueError):
    pass


_POLICY = _HeaderText()


def oversized(size: int) -> str:
    """Why an e-mail of ``size`` bytes (over :data:`MAX_MESSAGE_BYTES`) is not read."""
    return f"{size:,} bytes, more than a report e-mail needs (at most {MAX_MESSAGE_BYTES // (1024 * 1024)} MiB): not read"


def message_payloads(data: bytes, origin: str) -> Iterator[Item]:
    """The report attachments of one e-mail (any MIME depth)."""
    if len(data) > MAX_MESSAGE_BYTES:
        yield InputError(origin, oversized(len(data)))
        return
    try:
        message = email.message_from_bytes(data, policy=_POLICY)
        assert isinstance(message, EmailMessage)
        message_id = str(message.get("Message-ID", "") or "").strip()
        header_domain = str(message.get("TLS-Report-Domain", "") or "").strip() or None
        report_type = email.utils.collapse_rfc2231_value(message.get_param("report-type", ""))
        declared = message.get_content_type() == "multipart/report" and report_type.lower() == "tlsrpt"
    except RecursionError:  # the parser recurses once per nested multipart
        yield InputError(origin, "cannot read the e-mail: its MIME parts are nested too deeply")
        return
    except Exception as exc:  # the email package's header parsers raise assorted errors on broken mail
        yield InputError(origin, f"cannot read the e-mail's headers: {exc}")
        return
    where = f"{origin} ({message_id})" if message_id else origin
    found = 0
    for part in message.walk():
        if part.is_multipart():
            continue
        try:
            kind = part.get_content_type()
            name = part.get_filename() or str(part.get("Content-Description", "") or "").strip() or None
        except Exception as exc:  # as above
            yield InputError(where, f"cannot read a MIME part's headers: {exc}")
            continue
        if kind not in _REPORT_TYPES and not (kind in _GENERIC_TYPES and name and _REPORT_NAME.search(name)):
            continue
        found += 1
        label = f"{where} attachment {name}" if name else f"{where} part {kind}"
        try:
            body = part.get_payload(decode=True)
        except Exception as exc:  # the email package raises assorted errors on broken encodings
            yield InputError(label, f"cannot decode the attachment: {exc}")
            continue
        if not body:
            yield InputError(label, "the attachment is empty")
            continue
        yield Payload(label, body, domain_from_name(name) or header_domain)
    if not found:
        if declared:
            yield InputError(where, "a TLS report e-mail (multipart/report; report-type=tlsrpt) without a report attachment")
        else:
            yield Skipped(where, "no TLS report attachment")
