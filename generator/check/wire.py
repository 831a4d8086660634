"""DNS messages on the wire (RFC 1035 §4.1): the one question `check` sends,
and the header and answer records of the reply.

dnspython reads every section of a reply into hashed rdata sets of immutable
objects, and builds a query through its renderer: together about 0.2 ms per
question, and a check asks four per domain, which made DNS more than half
of a check's CPU time (benchmarks/bench_check.py). A sender needs only the
header, the question and the answer records of six types, so those are
read here, by dnspython's rules (label types, compression pointers, name
and record lengths); tests/test_check_wire.py holds this reader to
dnspython's on generated and mangled replies. Replies that are broken only
in parts not read here are accepted, where dnspython refuses them. A
plain host name (letters, digits, '-' and '_' in labels of 1 to 63, at most
255 bytes on the wire: every name a check asks for in practice) is written
here; any other name is validated and encoded by dnspython (``dns.name``),
which is then imported: its import alone takes longer than a bare
interpreter start, as it looks up package metadata.
"""

from __future__ import annotations

import re
import socket
import struct
from dataclasses import dataclass

A, CNAME, MX, TXT, AAAA, CAA = 1, 5, 15, 16, 28, 257
TYPES = {"A": A, "CNAME": CNAME, "MX": MX, "TXT": TXT, "AAAA": AAAA, "CAA": CAA}
IN = 1

QR, TC, RD = 0x8000, 0x0200, 0x0100
NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = range(6)
RCODES = {NOERROR: "NOERROR", FORMERR: "FORMERR", SERVFAIL: "SERVFAIL", NXDOMAIN: "NXDOMAIN", NOTIMP: "NOTIMP", REFUSED: "REFUSED"}
# RFC 1035 §4.1.1 opcode; a reply must carry the query's (0, QUERY).
_OPCODE = 0x7800

_HEADER = struct.Struct("!HHHHHH")
_QUESTION = struct.Struct("!HH")
_RR = struct.Struct("!HHIH")  # type, class, TTL, rdata length
_MAX_POINTERS = 16  # as dnspython: longer chains are refused
_MAX_NAME = 255  # bytes in wire form, RFC 1035 §3.1
_PLAIN = re.compile(rb"[a-z0-9_*-]+(?:\.[a-z0-9_*-]+)*")  # names whose text form needs no escapes
# Host names written without dnspython: no escapes, no '*', ASCII only,
# each label 1-63 characters, an optional final dot.
_HOST = re.compile(r"[A-Za-z0-9_-]{1,63}(?:\.[A-Za-z0-9_-]{1,63})*\.?")

Labels = tuple[bytes, ...]  # lowercase, without the empty root label


class Malformed(Exception):
    """The reply breaks the DNS message format; the message says where."""


@dataclass(frozen=True, slots=True)
class Record:
    owner: Labels
    rdtype: int
    # TXT: the strings; MX: (preference, exchange labels); A/AAAA: the
    # address text; CNAME: the target labels; CAA: (flags, tag, value),
    # the tag as sent (RFC 8659 compares tags case-insensitively).
    value: object


@dataclass(frozen=True, slots=True)
class Reply:
    ident: int
    flags: int
    question: tuple[Labels, int, int] | None  # None when the reply has none
    answers: tuple[Record, ...]

    @property
    def rcode(self) -> int:
        return self.flags & 0xF

    @property
    def truncated(self) -> bool:
        return bool(self.flags & TC)

    def answers_question(self, ident: int, qname: Labels, rdtype: int) -> bool:
        """Whether this is the reply to that query (dnspython's ``is_response``)."""
        if ident != self.ident or not self.flags & QR or self.flags & _OPCODE:
            return False
        if self.question is None:
            # Some servers drop the question when refusing or failing.
            return self.rcode in (FORMERR, SERVFAIL, NOTIMP, REFUSED)
        return self.question == (qname, rdtype, IN)


def encode(name: str) -> tuple[Labels, bytes]:
    """The lowercase labels of ``name`` (taken as absolute), and its wire form
    (case kept), as dnspython's ``from_text`` and ``to_wire`` give them;
    raises dnspython's ``DNSException`` for a name no server could hold."""
    if _HOST.fullmatch(name) and len(name.rstrip(".")) <= _MAX_NAME - 2:
        given = tuple(name.rstrip(".").encode("ascii").split(b"."))
        return tuple(label.lower() for label in given), to_wire(given)
    import dns.name

    parsed = dns.name.from_text(name)
    return tuple(label.lower() for label in parsed.labels if label), parsed.to_wire()


def to_wire(labels: Labels) -> bytes:
    """The wire form of an absolute name of valid labels (RFC 1035 §3.1)."""
    return b"".join(len(label).to_bytes(1, "big") + label for label in labels) + b"\0"


def query(ident: int, qname_wire: bytes, rdtype: int) -> bytes:
    """A recursion-desired query for one IN question; no EDNS, as dnspython's resolver."""
    return _HEADER.pack(ident, RD, 1, 0, 0, 0) + qname_wire + _QUESTION.pack(rdtype, IN)


def text(labels: Labels) -> str:
    """Presentation form without the final dot, escaped as dnspython does ("" for the root)."""
    joined = b".".join(labels)
    # A label holding a dot would pass the pattern once joined: count them.
    if not labels or (_PLAIN.fullmatch(joined) and joined.count(b".") == len(labels) - 1):
        return joined.decode("ascii")
    import dns.name

    return dns.name.Name((*labels, b"")).to_text(omit_final_dot=True)


def parse(data: bytes, *, over_tcp: bool = False) -> Reply:
    """The header, question and answer section of a reply.

    The authority and additional sections are not read: nothing in them
    decides what a sender does with the answer. Nor is the answer section of
    a truncated reply over UDP: it is asked again over TCP, and a server that
    truncates may have cut the reply in the middle of a record. Over TCP
    there is nothing further to ask, so a TC bit there is ignored, as
    dnspython does.
    """
    try:
        ident, flags, qdcount, ancount, _, _ = _HEADER.unpack_from(data, 0)
        offset = _HEADER.size
        question = None
        if qdcount > 1:
            raise Malformed(f"{qdcount} questions in the reply")
        if qdcount == 1:
            qname, offset = _name(data, offset)
            qtype, qclass = _QUESTION.unpack_from(data, offset)
            offset += _QUESTION.size
            question = (qname, qtype, qclass)
        answers = []
        for _ in range(0 if flags & TC and not over_tcp else ancount):
            owner, offset = _name(data, offset)
            rdtype, rdclass, _ttl, length = _RR.unpack_from(data, offset)
            offset += _RR.size
            end = offset + length
            if end > len(data):
                raise Malformed("a record runs past the end of the reply")
            if rdclass == IN and rdtype in _READERS:
                answers.append(Record(owner, rdtype, _READERS[rdtype](data, offset, end)))
            offset = end
    except (struct.error, IndexError):
        raise Malformed("the reply ends early") from None
    return Reply(ident, flags, question, tuple(answers))


def _name(data: bytes, offset: int, end: int | None = None) -> tuple[Labels, int]:
    """A possibly compressed name at ``offset``; returns it and the offset after it.

    Pointers must point backwards, and the name they lead to must end before
    where the pointer was followed from (dnspython's rules), so no name loops.
    """
    limit = len(data) if end is None else end
    labels: list[bytes] = []
    size = 1
    after = None
    start = offset
    hops = 0
    while True:
        if offset >= limit:
            raise Malformed("a name runs past its end")
        count = data[offset]
        if count == 0:
            offset += 1
            break
        if count < 64:
            if offset + 1 + count > limit:
                raise Malformed("a name runs past its end")
            labels.append(data[offset + 1:offset + 1 + count].lower())
            size += count + 1
            if size > _MAX_NAME:
                raise Malformed(f"a name is longer than {_MAX_NAME} bytes")
            offset += 1 + count
        elif count >= 192:
            if offset + 1 >= limit:
                raise Malformed("a name runs past its end")
            target = (count & 0x3F) << 8 | data[offset + 1]
            if after is None:
                after = offset + 2
            if target >= start:
                raise Malformed("a compression pointer does not point backwards")
            hops += 1
            if hops > _MAX_POINTERS:
                raise Malformed("a chain of compression pointers is too long")
            limit, offset, start = start, target, target
        else:
            raise Malformed(f"unknown label type {count >> 6:#x}")
    return tuple(labels), offset if after is None else after


def _txt(data: bytes, offset: int, end: int) -> tuple[bytes, ...]:
    strings = []
    while offset < end:
        count = data[offset]
        if offset + 1 + count > end:
            raise Malformed("a TXT string runs past its record")
        strings.append(data[offset + 1:offset + 1 + count])
        offset += 1 + count
    if not strings:
        raise Malformed("a TXT record holds no string")
    return tuple(strings)


def _mx(data: bytes, offset: int, end: int) -> tuple[int, Labels]:
    if end - offset < 3:
        raise Malformed("an MX record is too short")
    exchange, after = _name(data, offset + 2, end)
    _exact(after, end, "MX")
    return (data[offset] << 8 | data[offset + 1]), exchange


def _cname(data: bytes, offset: int, end: int) -> Labels:
    target, after = _name(data, offset, end)
    _exact(after, end, "CNAME")
    return target


def _caa(data: bytes, offset: int, end: int) -> tuple[int, bytes, bytes]:
    """RFC 8659 §4.1: flags, a counted tag, and the value to the record's end."""
    if end - offset < 2:
        raise Malformed("a CAA record is too short")
    tag_end = offset + 2 + data[offset + 1]
    if tag_end > end:
        raise Malformed("a CAA tag runs past its record")
    tag = data[offset + 2:tag_end]
    if not tag.isalnum():  # ASCII letters and digits, at least one (RFC 8659 §4.1, dnspython)
        raise Malformed("a CAA tag is not letters and digits")
    return data[offset], tag, data[tag_end:end]


def _address(family: int, size: int, kind: str):
    def read(data: bytes, offset: int, end: int) -> str:
        if end - offset != size:
            raise Malformed(f"an {kind} record is not {size} bytes")
        return socket.inet_ntop(family, data[offset:end])

    return read


def _exact(after: int, end: int, kind: str) -> None:
    if after != end:
        raise Malformed(f"a {kind} record has bytes after its name")


_READERS = {
    TXT: _txt,
    MX: _mx,
    CNAME: _cname,
    CAA: _caa,
    A: _address(socket.AF_INET, 4, "A"),
    AAAA: _address(socket.AF_INET6, 16, "AAAA"),
}
