"""The DNS wire reader (generator/check/wire.py) against dnspython as the
oracle: generated replies read alike, and a mangled reply either reads as
dnspython reads it or is refused with Malformed, never another exception."""

from __future__ import annotations

import ipaddress
import struct

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.check import wire

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Mostly plain labels, some with case, dots, spaces or high bytes inside.
plain_label = st.from_regex(rb"[a-z0-9_-]{1,12}", fullmatch=True)
odd_label = st.binary(min_size=1, max_size=12)
label = st.one_of(plain_label, plain_label.map(bytes.upper), odd_label)
# Few distinct names, so that owners repeat, CNAMEs chain and compression bites.
names = st.lists(st.lists(label, min_size=1, max_size=4).map(lambda ls: dns.name.Name((*ls, b""))), min_size=1, max_size=4, unique=True)
TYPES = ["TXT", "MX", "A", "AAAA", "CNAME", "CAA", "NS"]


@st.composite
def replies(draw) -> bytes:
    pool = draw(names)
    qname = draw(st.sampled_from(pool))
    qtype = draw(st.sampled_from(TYPES[:6]))
    query = dns.message.make_query(qname, qtype, id=draw(st.integers(0, 65535)))
    reply = dns.message.make_response(query)
    reply.set_rcode(draw(st.sampled_from([dns.rcode.NOERROR, dns.rcode.NXDOMAIN, dns.rcode.SERVFAIL])))
    if draw(st.integers(0, 9)) == 0:
        reply.flags |= dns.flags.TC
    for section in (reply.answer, reply.authority, reply.additional):
        for _ in range(draw(st.integers(0, 4))):
            rdtype = draw(st.sampled_from(TYPES))
            owner = draw(st.sampled_from(pool))
            rdatas = draw(st.lists(_rdata(rdtype, pool), min_size=1, max_size=3))
            section.append(dns.rrset.from_rdata_list(owner, 300, rdatas))
    return reply.to_wire(want_shuffle=False)  # shuffling would use the random module


def _rdata(rdtype: str, pool):
    rdclass, code = dns.rdataclass.IN, dns.rdatatype.from_text(rdtype)
    make = lambda *args: dns.rdata.from_text(rdclass, code, " ".join(args))  # noqa: E731
    if rdtype == "TXT":
        strings = st.lists(st.binary(max_size=40), min_size=1, max_size=3)
        return strings.map(lambda ss: dns.rdata.get_rdata_class(rdclass, code)(rdclass, code, ss))
    if rdtype == "MX":
        return st.builds(lambda pref, name: make(str(pref), name.to_text()), st.integers(0, 65535), st.sampled_from([*pool, dns.name.root]))
    if rdtype == "CAA":
        tag = st.one_of(st.sampled_from([b"issue", b"issuewild", b"iodef", b"ISSUE"]), st.from_regex(rb"[A-Za-z0-9]{1,15}", fullmatch=True))
        value = st.one_of(st.sampled_from([b"letsencrypt.org", b"", b";", b"letsencrypt.org; accounturi=x"]), st.binary(max_size=40))
        caa = dns.rdata.get_rdata_class(rdclass, code)
        return st.builds(lambda flags, t, v: caa(rdclass, code, flags, t, v), st.integers(0, 255), tag, value)
    if rdtype in ("CNAME", "NS"):
        return st.sampled_from(pool).map(lambda name: make(name.to_text()))
    if rdtype == "A":
        return st.ip_addresses(v=4).map(lambda a: make(str(a)))
    return st.ip_addresses(v=6).map(lambda a: make(str(a)))


def _labels(name: dns.name.Name) -> wire.Labels:
    return tuple(label.lower() for label in name.labels if label)


def _oracle(data: bytes) -> tuple:
    """What dnspython reads: ID, flags, the question and the answer records as
    wire.Record values (none in a truncated reply, which wire.parse leaves unread)."""
    message = dns.message.from_wire(data)
    question = message.question[0]
    records = set()
    for rrset in message.answer:
        if rrset.rdclass != dns.rdataclass.IN or rrset.rdtype not in wire.TYPES.values():
            continue
        for rdata in rrset:
            match rrset.rdtype:
                case wire.TXT:
                    value = tuple(rdata.strings)
                case wire.MX:
                    value = (rdata.preference, _labels(rdata.exchange))
                case wire.CNAME:
                    value = _labels(rdata.target)
                case wire.CAA:
                    value = (rdata.flags, rdata.tag, rdata.value)
                case _:
                    value = ipaddress.ip_address(rdata.address)
            records.add((_labels(rrset.name), rrset.rdtype, value))
    if message.flags & dns.flags.TC:
        records = set()
    return message.id, message.flags | message.rcode(), (_labels(question.name), question.rdtype, question.rdclass), records


def _read(reply: wire.Reply) -> tuple:
    return reply.ident, reply.flags, reply.question, _records(reply)


def _records(reply: wire.Reply) -> set:
    records = {(r.owner, r.rdtype, ipaddress.ip_address(r.value) if r.rdtype in (wire.A, wire.AAAA) else r.value) for r in reply.answers}
    # dnspython keeps one CNAME per name, the last; the lookup follows that one too
    # (test_a_broken_cname_set_is_followed_through_its_last_record).
    last = {r.owner: r.value for r in reply.answers if r.rdtype == wire.CNAME}
    return {r for r in records if r[1] != wire.CNAME or last[r[0]] == r[2]}


@SETTINGS
@given(replies())
def test_a_reply_reads_as_dnspython_reads_it(data: bytes) -> None:
    assert _read(wire.parse(data)) == _oracle(data)


@SETTINGS
@given(replies(), st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=4), st.integers(0, 3))
def test_a_mangled_reply_reads_as_dnspython_reads_it_or_is_refused(data: bytes, edits, cut: int) -> None:
    mangled = bytearray(data)
    for position, byte in edits:
        mangled[position % len(mangled)] = byte
    if cut:
        mangled = mangled[:len(mangled) * cut // 4]
    mangled = bytes(mangled)
    try:
        reply = wire.parse(mangled)
    except wire.Malformed:
        reply = None
    try:
        expected = _oracle(mangled)
    except Exception:  # noqa: BLE001 - dnspython refuses it in its own ways
        return  # the reader may still accept it: it does not read every section
    if len(dns.message.from_wire(mangled).question) != 1:
        return  # wire.parse wants the one question it asked
    assert reply is not None, "dnspython reads what wire.parse refused"
    assert _read(reply) == expected


@pytest.mark.parametrize(
    ("data", "why"),
    [
        pytest.param(b"\x00\x01\x81\x80", "ends early", id="short-header"),
        pytest.param(struct.pack("!6H", 1, 0x8180, 1, 0, 0, 0) + b"\x03abc", "past its end", id="name-cut"),
        pytest.param(struct.pack("!6H", 1, 0x8180, 1, 0, 0, 0) + b"\xc0\x0c\x00\x01\x00\x01", "backwards", id="pointer-to-itself"),
        pytest.param(struct.pack("!6H", 1, 0x8180, 1, 0, 0, 0) + b"\x40abc\x00\x00\x01\x00\x01", "label type", id="label-type"),
        pytest.param(struct.pack("!6H", 1, 0x8180, 1, 0, 0, 0) + (b"\x3f" + b"a" * 63) * 4 + b"\x00\x00\x01\x00\x01", "longer than 255", id="name-too-long"),
        pytest.param(struct.pack("!6H", 1, 0x8180, 2, 0, 0, 0), "2 questions", id="two-questions"),
        pytest.param(struct.pack("!6H", 1, 0x8180, 0, 1, 0, 0) + b"\x00" + struct.pack("!HHIH", 16, 1, 0, 0), "no string", id="empty-txt"),
        pytest.param(struct.pack("!6H", 1, 0x8180, 0, 1, 0, 0) + b"\x00" + struct.pack("!HHIH", 16, 1, 0, 2) + b"\x05a", "runs past", id="txt-string-cut"),
        pytest.param(struct.pack("!6H", 1, 0x8180, 0, 1, 0, 0) + b"\x00" + struct.pack("!HHIH", 1, 1, 0, 3) + b"\x7f\x00\x01", "not 4 bytes", id="short-a"),
        pytest.param(struct.pack("!6H", 1, 0x8180, 0, 1, 0, 0) + b"\x00" + struct.pack("!HHIH", 15, 1, 0, 5) + b"\x00\x0a\x00\x00\x00", "after its name", id="mx-trailing"),
        pytest.param(struct.pack("!6H", 1, 0x8180, 0, 1, 0, 0) + b"\x00" + struct.pack("!HHIH", 1, 1, 0, 40) + b"\x7f\x00\x00\x01", "past the end", id="rdata-cut"),
        pytest.param(struct.pack("!6H", 1, 0x8180, 0, 1, 0, 0) + b"\x00" + struct.pack("!HHIH", 257, 1, 0, 1) + b"\x00", "too short", id="caa-flags-only"),
        pytest.param(struct.pack("!6H", 1, 0x8180, 0, 1, 0, 0) + b"\x00" + struct.pack("!HHIH", 257, 1, 0, 4) + b"\x00\x05is", "tag runs past", id="caa-tag-cut"),
        pytest.param(struct.pack("!6H", 1, 0x8180, 0, 1, 0, 0) + b"\x00" + struct.pack("!HHIH", 257, 1, 0, 2) + b"\x00\x00", "letters and digits", id="caa-empty-tag"),
        pytest.param(struct.pack("!6H", 1, 0x8180, 0, 1, 0, 0) + b"\x00" + struct.pack("!HHIH", 257, 1, 0, 8) + b"\x00\x06is-sue", "letters and digits", id="caa-tag-hyphen"),
    ],
)
def test_malformed_replies_are_refused_with_the_reason(data: bytes, why: str) -> None:
    with pytest.raises(wire.Malformed, match=why):
        wire.parse(data)
    with pytest.raises(Exception):  # noqa: B017, PT011 - dnspython refuses them too
        dns.message.from_wire(data)


def _header(qdcount: int, ancount: int, ident: int = 1) -> bytes:
    return struct.pack("!6H", ident, 0x8180, qdcount, ancount, 0, 0)


def _pointer_chain(hops: int) -> bytes:
    """A question for "a", then a TXT record whose string holds pointers, each
    to the one before, and an A record owned by the last: ``hops`` pointers."""
    base = _header(1, 2) + b"\x01a\x00" + b"\x00\x10\x00\x01"
    first = len(base) + 2 + 10 + 1  # owner pointer, record header, string length
    pointers, previous = bytearray(), 12
    for _ in range(hops - 1):
        here = first + len(pointers)
        pointers += struct.pack("!H", 0xC000 | previous)
        previous = here
    txt = b"\xc0\x0c" + struct.pack("!HHIH", 16, 1, 0, 1 + len(pointers)) + bytes([len(pointers)]) + pointers
    return base + txt + struct.pack("!H", 0xC000 | previous) + struct.pack("!HHIH", 1, 1, 0, 4) + b"\x01\x02\x03\x04"


def _long_name(size: int) -> bytes:
    last = size - 1 - 3 * 64 - 1
    return b"".join(bytes([n]) + b"a" * n for n in (63, 63, 63, last)) + b"\x00"


_CNAME_QUESTION = _header(1, 1) + b"\x01a\x00" + b"\x00\x05\x00\x01" + b"\xc0\x0c"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(_pointer_chain(16), id="16-pointers"),
        pytest.param(_pointer_chain(17), id="17-pointers"),
        pytest.param(_header(1, 0) + _long_name(255) + b"\x00\x01\x00\x01", id="name-255-bytes"),
        pytest.param(_header(1, 0) + _long_name(256) + b"\x00\x01\x00\x01", id="name-256-bytes"),
        pytest.param(_header(1, 0, ident=0x0161) + b"\xc0\x00\x00\x01\x00\x01", id="pointer-into-header"),
        pytest.param(_CNAME_QUESTION + struct.pack("!HHIH", 5, 1, 0, 4) + b"\x01b\xc0\x0c", id="pointer-ends-rdata"),
        pytest.param(_CNAME_QUESTION + struct.pack("!HHIH", 5, 1, 0, 3) + b"\x01b\xc0\x0c", id="pointer-cut-by-rdata"),
        pytest.param(_CNAME_QUESTION + struct.pack("!HHIH", 5, 1, 0, 2) + b"\xc0\x40", id="forward-pointer"),
    ],
)
def test_compression_edge_cases_read_as_dnspython_reads_them(data: bytes) -> None:
    try:
        expected = _oracle(data)
    except Exception:  # noqa: BLE001 - dnspython refuses it
        expected = None
    try:
        ours = _read(wire.parse(data))
    except wire.Malformed:
        ours = None
    assert ours == expected


def test_the_query_is_the_question_dnspython_would_ask() -> None:
    name = dns.name.from_text("_MTA-sts.Example.com")
    labels, qname_wire = wire.encode("_MTA-sts.Example.com")
    message = dns.message.from_wire(wire.query(4660, qname_wire, wire.TXT))
    assert labels == (b"_mta-sts", b"example", b"com")
    assert (message.id, message.flags, message.edns) == (4660, dns.flags.RD, -1)
    assert [(q.name, q.rdtype) for q in message.question] == [(name, dns.rdatatype.TXT)]


def test_a_reply_answers_only_its_own_question() -> None:
    query = dns.message.make_query("a.example", "TXT")
    reply = wire.parse(dns.message.make_response(query).to_wire())
    labels = (b"a", b"example")
    assert reply.answers_question(query.id, labels, wire.TXT)
    assert not reply.answers_question(query.id ^ 1, labels, wire.TXT)
    assert not reply.answers_question(query.id, (b"b", b"example"), wire.TXT)
    assert not reply.answers_question(query.id, labels, wire.MX)
    assert not wire.parse(query.to_wire()).answers_question(query.id, labels, wire.TXT)  # QR unset
    refused = struct.pack("!6H", 7, 0x8000 | wire.REFUSED, 0, 0, 0, 0)
    assert wire.parse(refused).answers_question(7, labels, wire.TXT)
    empty = struct.pack("!6H", 7, 0x8000, 0, 0, 0, 0)
    assert not wire.parse(empty).answers_question(7, labels, wire.TXT)


@SETTINGS
@given(st.lists(label, min_size=1, max_size=4))
def test_names_are_written_as_dnspython_writes_them(labels: list[bytes]) -> None:
    name = dns.name.Name((*labels, b""))
    assert wire.text(tuple(labels)) == name.to_text(omit_final_dot=True)


# Host names (written by wire.encode itself) and everything else (by
# dnspython): escapes, '*', spaces, non-ASCII, empty labels, too long.
host_label = st.from_regex(r"[A-Za-z0-9_-]{1,63}", fullmatch=True)
name_text = st.one_of(
    st.lists(host_label, min_size=1, max_size=6).map(".".join),
    st.lists(st.sampled_from(["a" * 63, "b" * 62, "c"]), min_size=3, max_size=6).map(".".join),  # about 255 bytes
    st.tuples(st.lists(host_label, min_size=1, max_size=3).map(".".join), st.sampled_from(["", ".", "..", "\\.", "*", " ", "é", "\\065"])).map("".join),
    st.text(max_size=20),
)


@SETTINGS
@given(name_text)
def test_names_are_encoded_as_dnspython_encodes_them(text: str) -> None:
    try:
        name = dns.name.from_text(text)
        expected = (tuple(label.lower() for label in name.labels if label), name.to_wire())
    except dns.exception.DNSException as exc:
        expected = type(exc)
    try:
        ours = wire.encode(text)
    except dns.exception.DNSException as exc:
        ours = type(exc)
    assert ours == expected
    if not isinstance(ours, type):
        assert wire.to_wire(ours[0]) == ours[1].lower()


def test_a_broken_cname_set_is_followed_through_its_last_record() -> None:
    from generator.check.dns import _CnameLoop, _follow

    a, b, c = (b"a", b"example"), (b"b", b"example"), (b"c", b"example")
    answers = (wire.Record(a, wire.CNAME, b), wire.Record(a, wire.CNAME, c), wire.Record(c, wire.TXT, (b"x",)))
    assert _follow(answers, a, wire.TXT, {a}) == (c, [(b"x",)])
    assert _follow(answers, b, wire.TXT, {b}) == (b, [])
    with pytest.raises(_CnameLoop):
        _follow((wire.Record(a, wire.CNAME, b), wire.Record(b, wire.CNAME, a)), a, wire.TXT, {a})


def test_the_root_is_written_as_nothing() -> None:
    # The exchange of a null MX (RFC 7505): "MX 0 ." has no host.
    assert wire.text(()) == ""
