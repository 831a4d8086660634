"""The check's own name-server client (generator/check/transport.py) against
real servers: NSD for the answers, scripted servers for the misbehaviour a
shared socket must survive (late, stray and malformed replies, failing and
silent servers, a closed port)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import gc
import socket
import struct
import time
import warnings

import dns.flags
import dns.message
import dns.rdata
import dns.rrset
import pytest

from generator.check import dns as check_dns
from generator.check.dns import Answer, Resolver, Status
from generator.check.options import Endpoint
from generator.errors import UsageError
from tests.support.bad_dns import ScriptedDns, blackhole_dns, servfail_dns
from tests.support.dns_server import minimal_zone
from tests.support.server import HOST

pytestmark = pytest.mark.timeout(30)


def _endpoint(server) -> Endpoint:
    host, port = server.address.rsplit(":", 1)
    return Endpoint(host, int(port))


def _lookups(endpoints: list[Endpoint], questions: list[tuple[str, str]], timeout: float = 5.0) -> list[Answer]:
    """Ask every question at once through one Resolver, as a check run does."""

    async def ask() -> list[Answer]:
        resolver = Resolver(tuple(endpoints), timeout)
        try:
            return await asyncio.gather(*(resolver.lookup(name, rdtype) for name, rdtype in questions))
        finally:
            resolver.close()

    return asyncio.run(ask())


def _txt_reply(query: dns.message.Message, text: str) -> dns.message.Message:
    reply = dns.message.make_response(query)
    reply.answer.append(dns.rrset.from_text(query.question[0].name, 300, "IN", "TXT", f'"{text}"'))
    return reply


def test_many_questions_at_once_each_get_their_own_answer(dns_server_factory) -> None:
    zones = {f"z{i}.test": minimal_zone(f"z{i}.test", f'_mta-sts TXT "v=STSv1; id=z{i}"\n@ MX 10 mx{i}.z{i}.test.') for i in range(20)}
    nsd = dns_server_factory(zones)
    questions = [(f"_mta-sts.z{i}.test", "TXT") for i in range(20)] * 5 + [(f"z{i}.test", "MX") for i in range(20)] * 5
    answers = _lookups([_endpoint(nsd)], questions)
    for (name, rdtype), answer in zip(questions, answers):
        zone = name.removeprefix("_mta-sts.")
        expected = ((f"v=STSv1; id={zone.split('.')[0]}".encode(),),) if rdtype == "TXT" else ((10, f"mx{zone[1:].split('.')[0]}.{zone}"),)
        assert (answer.status, answer.records) == (Status.FOUND, expected), (name, answer)


def test_stray_and_late_replies_are_ignored() -> None:
    def answer(query, over_tcp):
        stray = _txt_reply(dns.message.make_query("someone-else.test", "TXT", id=query.id), "stray")
        late = _txt_reply(query, "late")
        late.id = query.id ^ 0xFFFF
        # A reply with the right ID to another question, one with another ID, then the real one.
        return [stray.to_wire(), late.to_wire(), _txt_reply(query, "v=STSv1; id=real").to_wire()]

    with ScriptedDns(answer) as server:
        [found] = _lookups([_endpoint(server)], [("_mta-sts.example.test", "TXT")])
    assert (found.status, found.records) == (Status.FOUND, ((b"v=STSv1; id=real",),)), found
    assert not server.errors


def _malformed(query: dns.message.Message) -> bytes:
    # The right ID and flags, then a name that runs off the end.
    return struct.pack("!6H", query.id, 0x8180, 1, 0, 0, 0) + b"\x3fabc"


def test_a_malformed_datagram_is_ignored_and_the_real_reply_taken() -> None:
    # As in dnspython and stub resolvers: one forged or broken datagram
    # carrying the query's ID must not decide the lookup.
    with ScriptedDns(lambda query, over_tcp: [_malformed(query), _txt_reply(query, "v=STSv1; id=real").to_wire()]) as server:
        [found] = _lookups([_endpoint(server)], [("_mta-sts.example.test", "TXT")])
    assert (found.status, found.records) == (Status.FOUND, ((b"v=STSv1; id=real",),)), found


def test_a_server_sending_only_malformed_replies_times_out_saying_so(monkeypatch) -> None:
    monkeypatch.setattr(check_dns, "ATTEMPT_TIMEOUT", 0.2)
    with ScriptedDns(lambda query, over_tcp: _malformed(query)) as server:
        [failed] = _lookups([_endpoint(server)], [("_mta-sts.example.test", "TXT")], timeout=1)
    assert failed.status is Status.FAILED, failed
    assert "no answer within" in failed.detail and "a malformed reply was ignored: a name runs past its end" in failed.detail, failed


def test_a_truncated_reply_cut_mid_record_is_asked_again_over_tcp() -> None:
    # Servers without EDNS cut at 512 bytes and set TC; what is left of the
    # answer section is not to be read.
    def answer(query, over_tcp):
        reply = _txt_reply(query, "v=STSv1; id=ok")
        reply.answer[0].add(dns.rdata.from_text("IN", "TXT", " ".join(['"' + "x" * 200 + '"'] * 3)))
        if over_tcp:
            return reply
        reply.flags |= dns.flags.TC
        return reply.to_wire()[:300]

    with ScriptedDns(answer, tcp=True) as server:
        [found] = _lookups([_endpoint(server)], [("_mta-sts.example.test", "TXT")])
        transports = [transport for _, _, transport in server.queries]
    assert found.status is Status.FOUND and (b"v=STSv1; id=ok",) in found.records, found
    assert transports == ["udp", "tcp"]


def test_a_truncated_reply_is_read_whole_over_tcp_even_with_tc_set_there() -> None:
    # A broken server that sets TC over TCP too: there is nothing further to
    # ask, so the answer is taken, as dnspython takes it, not reported missing.
    def answer(query, over_tcp):
        reply = _txt_reply(query, "v=STSv1; id=tcp")
        reply.flags |= dns.flags.TC
        return reply

    with ScriptedDns(answer, tcp=True) as server:
        [found] = _lookups([_endpoint(server)], [("_mta-sts.example.test", "TXT")])
    assert (found.status, found.records) == (Status.FOUND, ((b"v=STSv1; id=tcp",),)), found


def test_the_tcp_retry_gets_only_what_is_left_of_the_deadline(monkeypatch) -> None:
    # The TC reply comes late and TCP never answers: the lookup still ends at
    # its own limit (timeout + 1 = 2 s), not a whole attempt (5 s) after the TC.
    monkeypatch.setattr(check_dns, "ATTEMPT_TIMEOUT", 5.0)

    def answer(query, over_tcp):
        if over_tcp:
            time.sleep(4)  # past the deadline either way; shorter than an attempt
            return None
        time.sleep(1.5)
        reply = dns.message.make_response(query)
        reply.flags |= dns.flags.TC
        return reply

    with ScriptedDns(answer, tcp=True) as server:
        started = time.monotonic()
        [failed] = _lookups([_endpoint(server)], [("_mta-sts.example.test", "TXT")], timeout=2)
        elapsed = time.monotonic() - started
    assert failed.status is Status.FAILED and "no answer within 2 s" in failed.detail, failed
    assert elapsed < 3.2, "the TCP attempt ran past the lookup's limit"


def test_the_next_server_is_asked_when_one_fails(dns_server_factory, monkeypatch) -> None:
    nsd = dns_server_factory({"example.test": minimal_zone("example.test", '_mta-sts TXT "v=STSv1; id=ok"')})
    monkeypatch.setattr(check_dns, "ATTEMPT_TIMEOUT", 0.3)
    question = [("_mta-sts.example.test", "TXT")]
    with servfail_dns() as failing, blackhole_dns() as silent:
        for first in (failing, silent):
            [found] = _lookups([_endpoint(first), _endpoint(nsd)], question)
            assert (found.status, found.records) == (Status.FOUND, ((b"v=STSv1; id=ok",),)), found
        [failed] = _lookups([_endpoint(failing)], question)
    assert failed.status is Status.FAILED and "SERVFAIL" in failed.detail, failed


def test_a_closed_port_fails_the_lookup_at_once() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((HOST, 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    [failed] = _lookups([Endpoint(HOST, port)], [("_mta-sts.example.test", "TXT")], timeout=10)
    assert failed.status is Status.FAILED and "refused" in failed.detail.lower(), failed
    assert time.monotonic() - started < 2


def test_a_silent_server_is_asked_again_until_the_lookup_times_out(monkeypatch) -> None:
    monkeypatch.setattr(check_dns, "ATTEMPT_TIMEOUT", 0.2)
    with blackhole_dns() as silent:
        [failed] = _lookups([_endpoint(silent)], [("_mta-sts.example.test", "TXT")], timeout=1)
        asked = len(silent.queries)
    assert failed.status is Status.FAILED and "no answer within" in failed.detail, failed
    assert asked >= 3, "the query is sent again after each attempt times out"


def test_cname_chains_are_followed_and_loops_stopped(dns_server_factory) -> None:
    records = "\n".join([
        "_mta-sts CNAME hop1", "hop1 CNAME policy.other.test.", "loop1 CNAME loop2", "loop2 CNAME loop1",
        "away CNAME back.other.test.",
    ])
    other = '\n'.join(['policy TXT "v=STSv1; id=far"', "back CNAME away.example.test."])
    nsd = dns_server_factory({"example.test": minimal_zone("example.test", records), "other.test": minimal_zone("other.test", other)})
    chained, looped, across = _lookups([_endpoint(nsd)], [("_mta-sts.example.test", "TXT"), ("loop1.example.test", "TXT"), ("away.example.test", "TXT")])
    assert (chained.status, chained.name, chained.records, chained.via_cname) == (Status.FOUND, "policy.other.test", ((b"v=STSv1; id=far",),), True)
    assert looped.status is Status.FAILED and "loops back" in looped.detail, looped
    assert across.status is Status.FAILED and "loops back" in across.detail, across


def test_close_releases_the_sockets(dns_server_factory) -> None:
    nsd = dns_server_factory({"example.test": minimal_zone("example.test")})

    async def run() -> list:
        resolver = Resolver((_endpoint(nsd),), 5.0)
        await resolver.lookup("example.test", "MX")
        opened = [socket.transport for server in resolver._client.servers for socket in server._open]
        resolver.close()
        return opened

    transports = asyncio.run(run())
    assert transports and all(t.is_closing() for t in transports)


def test_queries_leave_from_a_rotating_pool_of_source_ports() -> None:
    """RFC 5452 §9.2: not one source port for the whole run. A few sockets
    per server, one picked at random per query, each replaced after
    QUERIES_PER_SOCKET queries, its port the system's random pick."""
    from generator.check.transport import POOL_SIZE, QUERIES_PER_SOCKET

    count = 1000
    questions = [("_mta-sts.example.test", "TXT")] * count

    async def ask(endpoint: Endpoint) -> tuple[list[Answer], int]:
        resolver = Resolver((endpoint,), 10.0)
        slots = asyncio.Semaphore(50)  # as a check run's domains in flight

        async def one(name: str, rdtype: str) -> Answer:
            async with slots:
                return await resolver.lookup(name, rdtype)

        try:
            answers = await asyncio.gather(*(one(name, rdtype) for name, rdtype in questions))
            return answers, len(resolver._client.servers[0]._open)
        finally:
            resolver.close()

    with ScriptedDns(lambda query, over_tcp: _txt_reply(query, "v=STSv1; id=pool")) as server:
        answers, still_open = asyncio.run(ask(_endpoint(server)))
    assert all(a.status is Status.FOUND for a in answers)
    ports = collections.Counter(server.udp_source_ports)
    assert sum(ports.values()) == count
    # Each socket carries about QUERIES_PER_SOCKET queries (a few more when
    # many wait for it to open), so the run sees more ports than the pool
    # holds at once (sockets were replaced), and the replaced ones are closed.
    assert count > POOL_SIZE * QUERIES_PER_SOCKET  # more than the pool can carry without replacing a socket
    assert len(ports) > POOL_SIZE, ports
    assert still_open <= POOL_SIZE


def test_a_socket_that_failed_to_open_is_opened_again_by_the_next_query(monkeypatch) -> None:
    """A passing failure (out of file descriptors) must not stay with the server for the run."""
    from generator.check import transport

    monkeypatch.setattr(transport, "POOL_SIZE", 1)

    async def ask(endpoint: Endpoint) -> tuple[Answer, Answer]:
        loop = asyncio.get_running_loop()
        real = loop.create_datagram_endpoint
        failures = iter([OSError(24, "Too many open files")])

        async def once_failing(*args, **kwargs):
            for failure in failures:
                raise failure
            return await real(*args, **kwargs)

        loop.create_datagram_endpoint = once_failing
        resolver = Resolver((endpoint,), 2.0)
        try:
            return await resolver.lookup("_mta-sts.example.test", "TXT"), await resolver.lookup("_mta-sts.example.test", "TXT")
        finally:
            resolver.close()

    with ScriptedDns(lambda query, over_tcp: _txt_reply(query, "v=STSv1; id=again")) as server:
        failed, found = asyncio.run(ask(_endpoint(server)))
    assert failed.status is Status.FAILED and "Too many open files" in failed.detail, failed
    assert found.status is Status.FOUND, found


def test_the_system_resolver_configuration_is_read(tmp_path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("search example.net\nnameserver 192.0.2.53\nnameserver 2001:db8::53\noptions timeout:3 attempts:2\n")
    assert check_dns._system_servers(str(conf)) == ([("192.0.2.53", 53), ("2001:db8::53", 53)], 3.0)
    conf.write_text("# no name server\n")
    with pytest.raises(UsageError, match="no DNS resolver configured"):
        check_dns._system_servers(str(conf))


def test_a_lookup_cancelled_while_the_socket_opens_leaves_no_socket_behind(dns_server_factory) -> None:
    nsd = dns_server_factory({"example.test": minimal_zone("example.test")})

    async def run() -> None:
        resolver = Resolver((_endpoint(nsd),), 5.0)
        lookup = asyncio.ensure_future(resolver.lookup("example.test", "MX"))
        await asyncio.sleep(0)  # the opening has begun; cancel before it ends
        lookup.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await lookup
        resolver.close()
        await asyncio.sleep(0.05)  # the opening ends, and closes its socket

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        asyncio.run(run())
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)], [str(w.message) for w in caught]


def test_init_closes_its_resolver(dns_server_factory) -> None:
    from generator.starter import live_mx

    nsd = dns_server_factory({"example.test": minimal_zone("example.test", "@ MX 10 mx.example.test.")})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        assert live_mx("example.test", [nsd.address]) == ["mx.example.test"]
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)], [str(w.message) for w in caught]


def test_a_lookup_after_close_fails_at_once(dns_server_factory) -> None:
    nsd = dns_server_factory({"example.test": minimal_zone("example.test", "@ MX 10 mx.example.test.")})

    async def run() -> tuple[Answer, Answer]:
        resolver = Resolver((_endpoint(nsd),), 5.0)
        before = await resolver.lookup("example.test", "MX")
        resolver.close()
        resolver.close()  # twice is harmless
        return before, await resolver.lookup("example.test", "MX")

    started = time.monotonic()
    before, after = asyncio.run(run())
    assert before.status is Status.FOUND
    assert after.status is Status.FAILED and "closed" in after.detail, after
    assert time.monotonic() - started < 2


def test_query_ids_running_out_is_a_failure_not_a_hang() -> None:
    from generator.check.transport import ServerFailed, _new_id

    with pytest.raises(ServerFailed, match="lower --concurrency"):
        _new_id(range(0x10000))
    assert _new_id(set(range(0xFFFF))) == 0xFFFF
