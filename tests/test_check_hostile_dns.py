"""`check` against name servers that misbehave in size: it follows a
truncated answer to TCP as a sender does, reports a server it cannot get an
answer from, and reads an oversized answer without choking."""

from __future__ import annotations

import time

import dns.message
import dns.rrset
import pytest

from tests.support.bad_dns import ScriptedDns, truncating_dns
from tests.support.check_run import HEALTHY, run_check_json
from tests.support.dns_server import minimal_zone

DOMAIN = "example.test"
MISSING = {"sts-record-missing", "tlsrpt-record-missing", "mx-records-missing", "policy-host-missing"}


def codes(run) -> set[str]:
    return {code for code, _ in run.findings(DOMAIN)}


@pytest.mark.timeout(20)
def test_truncated_udp_answer_is_retried_over_tcp(test_ca):
    with truncating_dns(minimal_zone(DOMAIN, HEALTHY), DOMAIN, tcp=True) as server:
        run = run_check_json(DOMAIN, "--nameserver", server.address, "--ca-file", str(test_ca.pem_path), "--timeout", "3")
    assert run.report(DOMAIN)["sts_id"] == "abc123"
    assert not codes(run) & MISSING | {"dns-lookup-failed", "dns-timeout"} & codes(run)
    assert {transport for _, _, transport in server.queries} == {"udp", "tcp"}
    assert not server.errors


@pytest.mark.timeout(20)
def test_truncated_answer_with_tcp_refused_is_a_lookup_failure_within_the_deadline(test_ca):
    with truncating_dns(minimal_zone(DOMAIN, HEALTHY), DOMAIN, tcp=False) as server:
        started = time.monotonic()
        run = run_check_json(DOMAIN, "--nameserver", server.address, "--ca-file", str(test_ca.pem_path), "--timeout", "2")
        elapsed = time.monotonic() - started
    found = codes(run)
    assert found & {"dns-lookup-failed", "dns-timeout"}, found
    assert not found & MISSING, "an unreachable answer must not be reported as a missing record"
    assert run.code == 1 and elapsed < 10


def _huge_answer(query: dns.message.Message, over_tcp: bool) -> dns.message.Message:
    """Hundreds of TXT strings at every name: a reply of tens of kilobytes."""
    reply = dns.message.make_response(query)
    question = query.question[0]
    if question.rdtype == dns.rdatatype.TXT:
        texts = [f'"v=STSv1; id=n{i}"' for i in range(300)] + ['"' + "x" * 250 + '" "' + "y" * 250 + '"'] * 100
        reply.answer.append(dns.rrset.from_text_list(question.name, 300, "IN", "TXT", texts))
    return reply


@pytest.mark.timeout(20)
def test_oversized_answer_is_read_and_judged(test_ca):
    with ScriptedDns(_huge_answer, tcp=True) as server:
        run = run_check_json(DOMAIN, "--nameserver", server.address, "--ca-file", str(test_ca.pem_path), "--timeout", "3")
    assert ("sts-record-multiple", "error") in run.findings(DOMAIN)
    assert not server.errors
