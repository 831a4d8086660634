"""Issue 11: whatever one server sends, every domain gets its report, and
what a server sends cannot act on the terminal that shows it.

Real servers on 127.0.0.1: NSD, the test HTTPS server, aiosmtpd, and raw
TCP servers for SMTP replies no real MTA sends; scripted DNS servers for
answers NSD cannot be made to give.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator

import dns.message
import dns.rcode
import dns.rrset
import pytest

from generator.check import dns as check_dns
from generator.check.domain import DomainReport
from generator.check.report import human, summary_table, table_row
from generator.findings import error
from generator.terminal import json_for_terminal, printable
from tests.support.bad_dns import ScriptedDns, zone_answer
from tests.support.check_run import HEALTHY, MX, STS, TLSRPT, CheckServers, check_servers, policy_bytes, run_check_json
from tests.support.cli import run_cli
from tests.support.dns_server import minimal_zone
from tests.support.runner import workflow_commands
from tests.support.tcp import ThreadedTcpServer
from tests.support.tls_server import Route
from tests.support.tools import require_tool

pytestmark = pytest.mark.timeout(30)

GOOD = "good.test"
BOOM = "boom.test"
IDN, IDN_ASCII = "bücher.test", "xn--bcher-kva.test"
ESCAPING = "escaping.test"
# What a hostile server would put on the screen: clear it, home the cursor,
# print a verdict; C1 CSI (0x9b) does the same on terminals that take it.
CLEAR_AND_LIE = "\x1b[2J\x1b[Hgood.test: passed"
C1_CLEAR = "\x9b2J"


@pytest.fixture(scope="module")
def servers(tmp_path_factory, test_ca) -> Iterator[CheckServers]:
    require_tool("nsd")
    require_tool("nsd-checkzone")
    zones = {d: minimal_zone(d, HEALTHY) for d in (GOOD, BOOM, ESCAPING, "digits.test")}
    # No address for mta-sts.<IDN>: only the --connect-to rule can reach it.
    zones[IDN_ASCII] = minimal_zone(IDN_ASCII, "\n".join([STS, TLSRPT, MX]))
    with check_servers(zones, tmp_path_factory.mktemp("nsd"), test_ca) as started:
        started.https.route(f"mta-sts.{ESCAPING}", Route.redirect(f"https://elsewhere.test/{C1_CLEAR}"))
        yield started


def _check(servers: CheckServers, *args: str, json: bool = True, every_policy_host: bool = True):
    """``every_policy_host``: a --connect-to rule sends every port 443 to the HTTPS server."""
    common = ("--nameserver", servers.nameserver, "--ca-file", str(servers.ca_file), "--timeout", "5")
    if every_policy_host:
        common += ("--connect-to", f":443:127.0.0.1:{servers.https.port}")
    if json:
        return run_check_json(*args, *common)
    return run_cli("check", *args, *common)


def _smtp_script(*replies: bytes) -> ThreadedTcpServer:
    """An MX host that sends ``replies[0]`` as its greeting and each next one
    in answer to a command, then closes."""

    def converse(conn: socket.socket) -> None:
        conn.settimeout(10)
        reader = conn.makefile("rb")
        conn.sendall(replies[0])
        for reply in replies[1:]:
            if not reader.readline():
                return
            conn.sendall(reply)

    return ThreadedTcpServer(converse)


# --- 1. ASCII digits, and a guard per domain ---------------------------------


@pytest.mark.parametrize(
    "replies",
    [
        pytest.param((b"2\xb20 hi\r\n",), id="greeting-2\u00b20"),
        pytest.param((b"220 mx1.digits.test ESMTP\r\n", b"2\xb90-mx1.digits.test\r\n2\xb90 STARTTLS\r\n"), id="ehlo-2\u00b90"),
    ],
)
def test_an_smtp_reply_code_with_a_non_ascii_digit_is_a_protocol_finding(servers, smtp_server_factory, replies) -> None:
    """str.isdigit() takes "²" and "¹", int() does not: the run used to end there."""
    good_mx = smtp_server_factory(f"mx1.{GOOD}")
    with _smtp_script(*replies) as bad_mx:
        run = _check(servers, GOOD, "digits.test", "--smtp",
                     "--connect-to", f"mx1.{GOOD}:25:127.0.0.1:{good_mx.port}",
                     "--connect-to", f"mx1.digits.test:25:127.0.0.1:{bad_mx.port}")
        assert not bad_mx.errors
    assert run.report(GOOD)["result"] == "ok", run.report(GOOD)["findings"]
    protocol = [f for f in run.report("digits.test")["findings"] if f["code"] == "smtp-protocol"]
    assert protocol and "not an SMTP reply" in protocol[0]["message"], run.report("digits.test")["findings"]
    assert run.code == 1


def test_an_unexpected_exception_in_one_domain_is_its_finding_and_the_run_goes_on(servers, monkeypatch, tmp_path) -> None:
    mx_findings = check_dns.mx_findings

    def broken_for_boom(answer, domain):
        if domain == BOOM:
            raise ValueError("invalid literal for int() with base 10: '2\u00b20'")
        return mx_findings(answer, domain)

    monkeypatch.setattr(check_dns, "mx_findings", broken_for_boom)
    domains = tmp_path / "domains.txt"
    domains.write_text(f"{GOOD}\n{BOOM}\n{IDN_ASCII}\n", encoding="utf-8")

    # --workers 1: the patch is in this process, not in worker processes.
    run = _check(servers, "--domains-file", str(domains), "--concurrency", "1", "--workers", "1")
    assert sorted(r["domain"] for r in run.reports) == sorted([GOOD, BOOM, IDN_ASCII])
    [internal] = [f for f in run.report(BOOM)["findings"] if f["code"] == "internal-error"]
    assert internal["severity"] == "error"
    assert "ValueError" in internal["message"] and "invalid literal for int()" in internal["message"], internal
    assert run.report(GOOD)["result"] == "ok"
    assert not any(f["code"] == "internal-error" for f in run.report(IDN_ASCII)["findings"])
    assert run.code == 1

    shown = _check(servers, "--domains-file", str(domains), "--workers", "1", json=False)
    assert shown.code == 1 and f"{BOOM}: FAILED" in shown.out and "[internal-error]" in shown.out
    assert "3 domains: 1 ok" in shown.out, shown.out


@pytest.mark.parametrize("flag", [["--nameserver", "127.0.0.1:5\u00b3"], ["--connect-to", "x:4\u00b23:127.0.0.1:443"]])
def test_a_port_of_non_ascii_digits_is_a_usage_error(flag: list[str]) -> None:
    result = run_cli("check", GOOD, *flag)
    assert result.code == 2 and "is not a number from 1 to 65535" in result.err, result.output
    assert "Traceback" not in result.output


# --- 2. Terminal escapes -----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        pytest.param("\x1b[2J", "\\x1b[2J", id="ESC"),
        pytest.param("a\x9b2Jb", "a\\x9b2Jb", id="C1-CSI"),
        pytest.param("\x00\x07\x7f", "\\x00\\x07\\x7f", id="NUL-BEL-DEL"),
        pytest.param("line\r\nfake: passed\tx", "line\\x0d\\x0afake: passed\\x09x", id="CR-LF-TAB"),
        pytest.param("evil\u202etxt.exe", "evil\\u202etxt.exe", id="bidi-override"),
        pytest.param("a\u2028b\U000e0041", "a\\u2028b\\U000e0041", id="line-separator-and-tag"),
        pytest.param("bücher.example 日本語 ÆØÅ — ok", "bücher.example 日本語 ÆØÅ — ok", id="letters-stay"),
    ],
)
def test_printable(text: str, shown: str) -> None:
    assert printable(text) == shown


@pytest.mark.parametrize("text", ["\x9b2J", "\u202egnp.exe", "tag\U000e0001", "bücher \x1b[2J \u2028", "plain"])
def test_json_for_terminal_escapes_what_a_terminal_acts_on_and_decodes_the_same(text: str) -> None:
    document = json_for_terminal(json.dumps({"message": text}, ensure_ascii=False))
    assert document.isprintable(), document
    assert json.loads(document) == {"message": text}
    assert ("bücher" in document) == ("bücher" in text)  # letters stay readable


def test_the_human_report_and_table_escape_whatever_a_finding_holds() -> None:
    report = DomainReport("example.test", [error("smtp-protocol", f"greeting answered 554 {CLEAR_AND_LIE}", f"fix {C1_CLEAR}")])
    for text in (human(report), summary_table([table_row(report), table_row(DomainReport("x\x1b.test"))])):
        assert all(ch.isprintable() or ch == "\n" for ch in text), text
    assert "\\x1b[2J\\x1b[Hgood.test: passed" in human(report) and "fix \\x9b2J" in human(report)


def test_server_text_reaches_the_terminal_escaped_and_json_unchanged(servers) -> None:
    """An SMTP greeting with ESC sequences and a Location header with C1 CSI:
    escaped in the report for people, and in the JSON text too (which then
    decodes to exactly what the server sent)."""
    with _smtp_script(f"554 {CLEAR_AND_LIE}\r\n".encode()) as mx:
        args = (ESCAPING, "--smtp", "--connect-to", f"mx1.{ESCAPING}:25:127.0.0.1:{mx.port}")
        shown = _check(servers, *args, json=False)
        run = _check(servers, *args)
        raw = run_cli("check", "--json", *args, "--nameserver", servers.nameserver, "--ca-file", str(servers.ca_file),
                      "--timeout", "5", "--connect-to", f":443:127.0.0.1:{servers.https.port}")
    assert all(ch.isprintable() or ch == "\n" for ch in raw.out), repr(raw.out)
    [decoded] = [json.loads(line) for line in raw.out.splitlines()]
    assert decoded["findings"] == run.report(ESCAPING)["findings"]  # the same findings, escaped
    assert shown.code == 1
    assert all(ch.isprintable() or ch == "\n" for ch in shown.out), repr(shown.out)
    assert "554 \\x1b[2J\\x1b[Hgood.test: passed" in shown.out and "/\\x9b2J" in shown.out, shown.out
    messages = " ".join(f["message"] for f in run.report(ESCAPING)["findings"])
    assert CLEAR_AND_LIE in messages and C1_CLEAR in messages, messages


def test_server_text_never_becomes_a_workflow_command(servers) -> None:
    """An SMTP reply holding the runner's markers, in every output format
    and in the Markdown summary file."""
    with _smtp_script(b"554-::add-mask::greeting\r\n554 ##[stop-commands]token\r\n") as mx:
        args = (ESCAPING, "--smtp", "--connect-to", f"mx1.{ESCAPING}:25:127.0.0.1:{mx.port}", "--nameserver", servers.nameserver,
                "--ca-file", str(servers.ca_file), "--timeout", "5", "--connect-to", f":443:127.0.0.1:{servers.https.port}")
        shown = [run_cli("check", *args, *form) for form in ([], ["--json"], ["--format", "markdown"])]
    for result in shown:
        assert result.code == 1 and "token" in result.out, result.output
        assert workflow_commands(result.out) == [] and workflow_commands(result.err) == []


# --- 3. Each DNS lookup under its own limit ----------------------------------


def _only_for_tlsrpt(broken: Callable[[dns.message.Message], object]):
    healthy = zone_answer(minimal_zone("example.test", HEALTHY), "example.test")

    def answer(query: dns.message.Message, over_tcp: bool):
        if query.question[0].name.to_text().startswith("_smtp._tls."):
            return broken(query)
        return healthy(query, over_tcp)

    return answer


def _rcode(rcode: dns.rcode.Rcode):
    def reply(query: dns.message.Message) -> dns.message.Message:
        message = dns.message.make_response(query)
        message.set_rcode(rcode)
        return message

    return reply


def _malformed(query: dns.message.Message) -> bytes:
    message = dns.message.make_response(query)
    message.answer.append(dns.rrset.from_text(query.question[0].name, 300, "IN", "TXT", '"v=TLSRPTv1; rua=mailto:a@example.net"'))
    return message.to_wire()[:-8]  # cut inside the record


@pytest.mark.parametrize(
    ("broken", "code", "reason"),
    [
        pytest.param(lambda query: None, "dns-timeout", "no answer within", id="silent"),
        pytest.param(_malformed, "dns-timeout", "a malformed reply was ignored", id="malformed"),
        pytest.param(_rcode(dns.rcode.SERVFAIL), "dns-lookup-failed", "answered SERVFAIL", id="servfail"),
        pytest.param(_rcode(dns.rcode.REFUSED), "dns-lookup-failed", "answered REFUSED", id="refused"),
    ],
)
def test_an_unanswered_tlsrpt_lookup_is_its_own_finding_and_the_policy_is_still_checked(test_ca, tls_server_factory, broken, code, reason) -> None:
    https = tls_server_factory()
    https.route("mta-sts.example.test", Route(body=policy_bytes("example.test")))
    with ScriptedDns(_only_for_tlsrpt(broken)) as server:
        run = run_check_json("example.test", "--nameserver", server.address, "--ca-file", str(test_ca.pem_path),
                             "--connect-to", f":443:127.0.0.1:{https.port}", "--timeout", "4")
        assert not server.errors
    report = run.report("example.test")
    dns_findings = [f for f in report["findings"] if f["code"].startswith("dns-")]
    assert [f["code"] for f in dns_findings] == [code], report["findings"]
    assert "_smtp._tls.example.test" in dns_findings[0]["message"] and reason in dns_findings[0]["message"], dns_findings
    assert report["policy"] == {"mode": "enforce", "max_age": 604800, "mx": ["mx1.example.test"]}
    assert (report["sts_id"], report["mx_hosts"]) == ("abc123", ["mx1.example.test"])
    assert [r.sni for r in https.requests] == ["mta-sts.example.test"]


# --- 5. --connect-to with an IDN host ----------------------------------------


def test_a_connect_to_rule_naming_an_idn_host_applies(servers) -> None:
    run = _check(servers, IDN, "--connect-to", f"mta-sts.{IDN}:443:127.0.0.1:{servers.https.port}", every_policy_host=False)
    report = run.report(IDN_ASCII)
    assert report["policy"] is not None, report["findings"]
    assert ("policy-host-missing", "error") in run.findings(IDN_ASCII)  # DNS still has no address: said, not hidden
