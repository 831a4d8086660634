"""`check` without a network: flag parsing, coverage, drift, DNS answers read
as a sender reads them, and the documented code list. (That start-up never
imports the network stack is tested in test_startup.py.)"""

from __future__ import annotations

import ast
import asyncio
import dataclasses
import inspect
import re
from pathlib import Path

import pytest

from generator.check import codes, coverage, drift, https, smtp, wire
from generator.check import dns as check_dns
from generator.check.dns import Answer, Status
from generator import cli
from generator.check.options import (
    DEFAULT_CONCURRENCY, DEFAULT_TIMEOUT, ConnectTo, Endpoint, parse_connect_to, parse_nameserver, route,
)
from generator.check.targets import Targets
from generator.config import loads
from generator.names import MAX_POLICY_DOMAIN
from generator.errors import UsageError
from generator.policy import Policy
from tests.support.cli import run_cli

ROOT = Path(__file__).resolve().parent.parent


# --- flags -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("mta-sts.example.com:443:127.0.0.1:8443", ConnectTo("mta-sts.example.com", 443, "127.0.0.1", 8443)),
        ("MTA-STS.Example.com.:443:pages.github.io:", ConnectTo("mta-sts.example.com", 443, "pages.github.io", None)),
        ("::127.0.0.1:8443", ConnectTo("", None, "127.0.0.1", 8443)),
        ("[::1]:25:[2001:db8::1]:2525", ConnectTo("::1", 25, "2001:db8::1", 2525)),
        ("mx1.example.com:25:localhost:2525", ConnectTo("mx1.example.com", 25, "localhost", 2525)),
        (":443:Pages.GitHub.io.:", ConnectTo("", 443, "pages.github.io", None)),
        ("x:443:staging_web:8443", ConnectTo("x", 443, "staging_web", 8443)),
        # An IDN, HOST or ADDR, becomes its A-label, as every other name does (issue 11)
        ("x:443:bücher.example:443", ConnectTo("x", 443, "xn--bcher-kva.example", 443)),
        ("mta-sts.Bücher.example:443:127.0.0.1:8443", ConnectTo("mta-sts.xn--bcher-kva.example", 443, "127.0.0.1", 8443)),
    ],
)
def test_connect_to_parses_like_curl(value: str, expected: ConnectTo) -> None:
    assert parse_connect_to(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "example.com:443:127.0.0.1", "a:b:c:d:e", "x:443:1.2.3.4:0", "x:https:1.2.3.4:1",
        # ADDR: an IP address or LDH labels, nothing else dnspython or a socket could choke on
        "mta-sts.example.test:443:bad..host:443", "x:443:.host:443", "x:443:-host.example:443", "x:443:host-.example:443",
        "x:443:" + "a" * 64 + ".example:443", pytest.param("x:443:" + "a." * 127 + "example:443", id="addr-too-long"), "x:443:127.0.0.256:443",
        "x:443:[localhost]:443", "x:443:[2001:db8::zz]:443", "x:443:host name:443",
        # HOST too: a rule that could never match is an error, not silence
        "bad..host:443:127.0.0.1:443", "host name:443:127.0.0.1:443",
        # ports of ASCII digits only: str.isdigit() takes "²", int() does not (issue 11)
        "x:4\N{SUPERSCRIPT TWO}3:127.0.0.1:443", "x:443:127.0.0.1:\N{SUPERSCRIPT ONE}",
    ],
)
def test_connect_to_rejects(value: str) -> None:
    with pytest.raises(UsageError, match="--connect-to"):
        parse_connect_to(value)


def test_connect_to_first_matching_rule_wins_and_blanks_keep_the_original() -> None:
    rules = (parse_connect_to("mx1.example.com:25:127.0.0.1:2525"), parse_connect_to(":25:10.0.0.1:"))
    assert route(rules, "MX1.example.com", 25) == Endpoint("127.0.0.1", 2525)
    assert route(rules, "mx2.example.com", 25) == Endpoint("10.0.0.1", 25)
    assert route(rules, "mx2.example.com", 443) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [("192.0.2.1", Endpoint("192.0.2.1", 53)), ("127.0.0.1:5353", Endpoint("127.0.0.1", 5353)),
     ("2001:db8::53", Endpoint("2001:db8::53", 53)), ("[2001:db8::53]:5353", Endpoint("2001:db8::53", 5353)),
     ("[127.0.0.1]:5353", Endpoint("127.0.0.1", 5353))],
)
def test_nameserver(value: str, expected: Endpoint) -> None:
    assert parse_nameserver(value) == expected


@pytest.mark.parametrize("value", ["ns1.example.com", "127.0.0.1:", "127.0.0.1:70000", "[::1]:53:1", "127.0.0.1:5\N{SUPERSCRIPT THREE}", "[::1]:\N{ARABIC-INDIC DIGIT FIVE}3"])
def test_nameserver_rejects(value: str) -> None:
    with pytest.raises(UsageError, match="--nameserver"):
        parse_nameserver(value)


def test_the_cli_defaults_are_the_check_defaults() -> None:
    """cli.py spells them out: importing generator.check (or verify, built
    on it) there would load it for every command (test_startup.py), so the
    two are held equal here."""
    from generator.verify import DEFAULT_WAIT

    parameters = inspect.signature(cli.check).parameters
    assert (parameters["timeout"].default, parameters["concurrency"].default) == (DEFAULT_TIMEOUT, DEFAULT_CONCURRENCY)
    assert inspect.signature(cli.verify).parameters["wait"].default == DEFAULT_WAIT


CONFIG = loads("domain: example.com\npolicy:\n  mode: enforce\n  mx: [mx1.example.com]\n", file="mta-sts.yml")


def test_targets_are_normalized_deduplicated_and_kept_in_order(tmp_path) -> None:
    listed = tmp_path / "domains.txt"
    listed.write_text("# comment\nxn--bcher-kva.example  # the same as Bücher\n\na.example.\n", encoding="utf-8")
    targets = Targets(("b.example", "Bücher.example"), listed)
    assert targets.validate() == 3
    assert [(p, t.domain) for p, t in targets.numbered()] == [(0, "b.example"), (1, "xn--bcher-kva.example"), (3, "a.example")]


def test_bad_names_are_all_reported_before_any_check(tmp_path) -> None:
    listed = tmp_path / "domains.txt"
    listed.write_text("ok.example\nbad..example\n-x.example\n", encoding="utf-8")
    with pytest.raises(UsageError) as failure:
        Targets(("also bad",), listed).validate()
    assert [line.split(":")[0] for line in str(failure.value).splitlines()] == ["DOMAIN 'also bad'", str(listed), str(listed)]


def test_targets_from_a_config_carry_it_for_drift() -> None:
    ((_, target),) = Targets(config=CONFIG).numbered()
    assert (target.domain, target.config) == ("example.com", CONFIG.domains[0])
    with pytest.raises(UsageError, match="other.example is not in mta-sts.yml"):
        Targets(("other.example",), config=CONFIG).validate()


def test_nothing_to_check_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="give a DOMAIN"):
        Targets().validate()


# One character too long for `_smtp._tls.<domain>` to be a DNS name.
LONG_DOMAIN = ".".join(["a" * 60] * 3) + "." + "b" * (MAX_POLICY_DOMAIN + 1 - 3 * 61 - len(".com")) + ".com"


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param([], "give a DOMAIN, --domains-file FILE or --config FILE", id="nothing-to-check"),
        pytest.param(["bad_name.example"], "underscore", id="bad-domain"),
        pytest.param([LONG_DOMAIN], f"DOMAIN '{LONG_DOMAIN}': '{LONG_DOMAIN}' is {MAX_POLICY_DOMAIN + 1} characters long", id="domain-too-long-for-its-records"),
        pytest.param(["--domains-file", "long.txt"], "long.txt:2: ", id="domains-file-entry-too-long"),
        pytest.param(["example.com", "--connect-to", "example.com:443"], "--connect-to", id="bad-connect-to"),
        pytest.param(["example.com", "--connect-to", "mta-sts.example.com:443:bad..host:443"], "--connect-to", id="bad-connect-to-addr"),
        pytest.param(["example.com", "--nameserver", "ns1.example.com"], "--nameserver", id="bad-nameserver"),
        pytest.param(["example.com", "--timeout", "0"], "--timeout", id="zero-timeout"),
        pytest.param(["example.com", "--concurrency", "0"], "--concurrency 0: give a number from 1 to 1000", id="zero-concurrency"),
        pytest.param(["example.com", "--concurrency", "100000"], "--concurrency 100000: give a number from 1 to 1000", id="huge-concurrency"),
        pytest.param(["example.com", "--ca-file", "missing.pem"], "no such file", id="missing-ca-file"),
        pytest.param(["example.com", "--ca-file", "garbage.pem"], "not a PEM file", id="garbage-ca-file"),
        pytest.param(["--domains-file", "missing.txt"], "missing.txt", id="missing-domains-file"),
        pytest.param(["other.example", "-c", "mta-sts.yml"], "not in mta-sts.yml", id="domain-not-in-config"),
        pytest.param(["-c", "broken.yml"], "policy", id="broken-config"),
    ],
)
def test_usage_and_config_errors_exit_2_without_a_traceback(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "garbage.pem").write_text("not a certificate\n")
    (tmp_path / "mta-sts.yml").write_text("domain: example.com\npolicy:\n  mx: [mx1.example.com]\n")
    (tmp_path / "broken.yml").write_text("domain: example.com\n")
    (tmp_path / "long.txt").write_text(f"example.com\n{LONG_DOMAIN}\n")
    (tmp_path / "empty").mkdir()
    result = run_cli("check", *args, cwd=tmp_path if args else tmp_path / "empty")
    assert result.code == 2, result.output
    assert message in result.err
    assert "Traceback" not in result.output


# --- coverage and drift --------------------------------------------------------


def _codes(findings) -> list[tuple[str, str]]:
    return [(f.code, f.severity.value) for f in findings]


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("enforce", [("mx-not-covered", "error")]), ("testing", [("mx-not-covered", "warning")]), ("none", [])],
)
def test_an_uncovered_mx_by_mode(mode: str, expected) -> None:
    policy = Policy(mode, ("*.example.com",), 604800)
    # One label only: a.b.example.com is not covered by *.example.com.
    assert _codes(coverage.coverage_findings(policy, ["mx.example.com", "a.b.example.com"])) == expected


def test_a_pattern_matching_no_mx_is_a_warning() -> None:
    policy = Policy("enforce", ("mx1.example.com", "*.backup.example.com"), 604800)
    findings = coverage.coverage_findings(policy, ["mx1.example.com"])
    assert _codes(findings) == [("mx-pattern-unused", "warning")]
    assert "*.backup.example.com" in findings[0].message


def test_with_a_config_an_uncovered_mx_the_config_covers_asks_for_a_deploy() -> None:
    """A stale policy is served (policy-differs says so): with the config
    already listing the MX host, adding it again is not the fix."""
    config = loads("domain: example.com\npolicy:\n  mode: enforce\n  mx: [mx1.example.com, mx2.example.com]\n").domains[0]
    stale = Policy("enforce", ("mx1.example.com", "old.example.com"), 604800)
    uncovered, unused = coverage.coverage_findings(stale, ["mx1.example.com", "mx2.example.com"], config)
    assert uncovered.code == "mx-not-covered" and uncovered.fix.startswith("deploy the built policy")
    assert "already covers mx2.example.com" in uncovered.fix
    assert unused.code == "mx-pattern-unused" and unused.fix.startswith("deploy the built policy")
    (missing,) = coverage.coverage_findings(stale, ["mx1.example.com", "mx3.example.com", "old.example.com"], config)
    assert missing.fix.startswith("add 'mx: mx3.example.com'") and "to the config's policy" in missing.fix


def test_drift_says_what_differs() -> None:
    config = CONFIG.domains[0]
    assert drift.policy_drift(config, config.policy_bytes) == []
    (other,) = drift.policy_drift(config, b"version: STSv1\nmode: testing\nmx: mx2.example.com\nmax_age: 86400\n")
    assert other.code == "policy-differs"
    for part in ("mode is testing, the config says enforce", "max_age is 86400", "mx mx1.example.com missing", "mx mx2.example.com not in the config"):
        assert part in other.message
    (ends,) = drift.policy_drift(config, config.policy_bytes.replace(b"\r\n", b"\n"))
    assert "other line ends" in ends.message


@pytest.mark.parametrize(
    ("change", "said"),
    [
        pytest.param(lambda b: b.removesuffix(b"\r\n"), "does not end with a line end (CRLF) as the build writes it", id="no-final-crlf"),
        pytest.param(lambda b: b + b"\r\n", "blank lines or line ends after the last line", id="extra-blank-line"),
        pytest.param(lambda b: b.replace(b"\r\n", b"\n").removesuffix(b"\n"), "other line ends and another end of file", id="lf-no-final"),
        pytest.param(lambda b: b.replace(b"mode: enforce", b"mode:  enforce"), "line 2 is 'mode:  enforce', the build wrote 'mode: enforce'",
                     id="blank-inside"),
    ],
)
def test_drift_between_policies_that_mean_the_same_names_the_bytes(change, said) -> None:
    """Bytes must be exact (a sender compares nothing, but the id announces
    these bytes); the finding says where they part, not 'other formatting'."""
    config = CONFIG.domains[0]
    (differs,) = drift.policy_drift(config, change(config.policy_bytes))
    assert differs.code == "policy-differs" and said in differs.message


def test_stale_id_names_the_record_to_publish() -> None:
    config = CONFIG.domains[0]
    assert drift.id_drift(config, config.id) == []
    (stale,) = drift.id_drift(config, "old1")
    assert (stale.code, stale.severity.value) == ("id-stale", "error")
    assert f'"v=STSv1; id={config.id}"' in stale.fix


def test_tlsrpt_drift_only_when_the_config_has_tlsrpt() -> None:
    with_rpt = loads("domain: example.com\npolicy:\n  mx: [mx.example.com]\ntlsrpt:\n  rua: [mailto:a@example.com]\n").domains[0]
    assert drift.tlsrpt_drift(CONFIG.domains[0], ("mailto:x@example.com",)) == []
    assert drift.tlsrpt_drift(with_rpt, ("mailto:a@example.com",)) == []
    assert _codes(drift.tlsrpt_drift(with_rpt, ("mailto:x@example.com",))) == [("tlsrpt-differs", "warning")]


# --- DNS answers ---------------------------------------------------------------


def _txt(*records: tuple[bytes, ...], name: str = "_mta-sts.example.com") -> Answer:
    return Answer(Status.FOUND, name, records, queried="_mta-sts.example.com")


def test_sts_record_reading() -> None:
    findings, sts_id = check_dns.sts_findings(_txt((b"v=spf1 -all",), (b"v=STSv1; ", b"id=20240101"), name="sts.example.net"), "example.com")
    assert sts_id == "20240101"
    assert _codes(findings) == [("sts-record-cname", "info"), ("sts-record-split", "info")]
    findings, sts_id = check_dns.sts_findings(_txt((b"v=STSv1; id=a",), (b"v=STSv1; id=b",)), "example.com")
    assert (sts_id, _codes(findings)) == (None, [("sts-record-multiple", "error")])
    findings, _ = check_dns.sts_findings(_txt((b"v=spf1 -all",)), "example.com")
    assert _codes(findings) == [("sts-record-missing", "error")] and "1 unrelated TXT record" in findings[0].message
    findings, _ = check_dns.sts_findings(Answer(Status.FAILED, "x", detail="server failure", queried="_mta-sts.example.com"), "example.com")
    assert _codes(findings) == [("dns-lookup-failed", "error")]


def test_tlsrpt_and_mx_reading() -> None:
    findings, rua = check_dns.tlsrpt_findings(_txt((b"v=TLSRPTv1; rua=mailto:r@example.com",)), "example.com")
    assert (findings, rua) == ([], ("mailto:r@example.com",))
    findings, rua = check_dns.tlsrpt_findings(_txt((b"v=TLSRPTv1;",)), "example.com")
    assert (_codes(findings), rua) == ([("tlsrpt-rua-missing", "error")], None)
    null_mx = check_dns._records(wire.MX, [(0, ())])  # "MX 0 ." as wire.parse reads it
    findings, hosts = check_dns.mx_findings(Answer(Status.FOUND, "example.com", null_mx), "example.com")
    assert (_codes(findings), hosts) == ([("mx-records-missing", "warning")], [])
    assert "null MX" in findings[0].message
    assert check_dns.mx_findings(Answer(Status.FOUND, "example.com", ((5, "b.example.com"), (10, "a.example.com"))), "example.com") == ([], ["b.example.com", "a.example.com"])


def test_with_a_config_every_dns_fix_names_the_configs_values() -> None:
    """A fix copied from `check -c` publishes what the config says: its
    mailbox, its id, its owner; never a placeholder or a config change
    already made."""
    config = loads("domain: example.com\npolicy:\n  mx: [mx.example.com]\ntlsrpt:\n  rua: [mailto:tlsrpt@example.com]\n"
                   "pages:\n  owner: octo\n").domains[0]
    missing = Answer(Status.NONE, "x", detail="no such name", queried="_smtp._tls.example.com")
    (rpt,), _ = check_dns.tlsrpt_findings(missing, "example.com", config)
    assert rpt.fix == 'publish _smtp._tls.example.com TXT "v=TLSRPTv1; rua=mailto:tlsrpt@example.com"'
    (bare,), _ = check_dns.tlsrpt_findings(missing, "example.com", CONFIG.domains[0])
    assert "add 'tlsrpt:" in bare.fix and "to the config" in bare.fix
    (alone,), _ = check_dns.tlsrpt_findings(missing, "example.com")
    assert "config" not in alone.fix
    (sts,), _ = check_dns.sts_findings(Answer(Status.NONE, "x", detail="no such name", queried="_mta-sts.example.com"), "example.com", config)
    assert f'"v=STSv1; id={config.id}"' in sts.fix and "<id>" not in sts.fix
    (host,) = check_dns.policy_host_findings(Answer(Status.NONE, "x", detail="no such name", queried="mta-sts.example.com"), config)
    assert host.fix == "publish mta-sts.example.com CNAME octo.github.io."
    # A live record that does not parse: the fix is the config's record, not the parser's placeholder.
    (broken,), _ = check_dns.sts_findings(_txt((b"v=STSv1; id=a-b",)), "example.com", config)
    assert broken.fix == f'publish _mta-sts.example.com TXT "v=STSv1; id={config.id}" in its place'
    (no_rua,), _ = check_dns.tlsrpt_findings(_txt((b"v=TLSRPTv1;",)), "example.com", config)
    assert no_rua.fix == 'publish _smtp._tls.example.com TXT "v=TLSRPTv1; rua=mailto:tlsrpt@example.com" in its place'
    (refused,), _ = https.fetch_findings(https.FetchResult(https.Status.CONNECT_FAILED, "refused"), "mta-sts.example.com", config.owner)
    assert "CNAME to octo.github.io." in refused.fix


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "name",
    [
        pytest.param("_smtp._tls." + ("a" * 60 + ".") * 4 + "test", id="name-too-long"),
        pytest.param("bad..host", id="empty-label"),
        pytest.param("a" * 64 + ".test", id="label-too-long"),
    ],
)
def test_a_name_dns_cannot_hold_is_a_failed_lookup_not_an_exception(name: str) -> None:
    resolver = check_dns.Resolver((Endpoint("127.0.0.1", 9),), timeout=1.0)

    async def ask() -> tuple[Answer, Answer]:
        return await resolver.lookup(name, "TXT"), await resolver.addresses(name)

    for answer in asyncio.run(ask()):
        assert (answer.status, answer.queried) == (Status.FAILED, name)
        assert "not a valid DNS name" in answer.detail


# --- the documented codes -------------------------------------------------------


def _documented_codes() -> dict[str, tuple[str, str]]:
    """docs/findings.md's table: code -> (severity, meaning)."""
    rows = re.findall(r"^\| `([a-z0-9-]+)` \| ([a-z /]+) \| (.+) \|$", (ROOT / "docs" / "findings.md").read_text(), flags=re.M)
    assert len(rows) == len({name for name, _, _ in rows}), "a code is listed twice"
    return {name: (severity, meaning) for name, severity, meaning in rows}


def test_docs_list_every_code_with_its_severity_and_meaning() -> None:
    """Every registered code is documented as registered, and no code that
    is gone stays listed."""
    documented = _documented_codes()
    registered = {name: (code.severity, code.meaning) for name, code in codes.CODES.items()}
    assert sorted(set(registered) - set(documented)) == [], "registered but not in docs/findings.md"
    assert sorted(set(documented) - set(registered)) == [], "in docs/findings.md but not registered"
    assert documented == registered


def _finding_calls(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("error", "warning", "info") and node.args:
            yield node.func.id, node.args[0]


@pytest.mark.parametrize("module", ["policy.py", "tlsrpt.py"])
def test_every_parser_code_is_registered(module: str) -> None:
    """The parsers' findings reach `check` reports unchanged, so their codes
    (and severities) must be in the registry too."""
    found = 0
    for severity, arg in _finding_calls(ROOT / "generator" / module):
        if isinstance(arg, ast.Constant):
            names = [arg.value]
        else:  # an f-string such as f"policy-{key}-duplicate"
            pattern = "".join(re.escape(p.value) if isinstance(p, ast.Constant) else "[a-z-]+" for p in arg.values)
            names = [n for n in codes.CODES if re.fullmatch(pattern, n)]
        assert names, ast.unparse(arg)
        for name in names:
            assert severity in codes.CODES[name].severity, name
            found += 1
    assert found > 5


def test_check_modules_emit_only_registered_codes() -> None:
    """Findings in generator/check/ take their code from `codes` (directly or
    through a TlsCodes table), never from a literal."""
    found = 0
    for path in (ROOT / "generator" / "check").glob("*.py"):
        for _, arg in _finding_calls(path):
            owner, _, attribute = ast.unparse(arg).partition(".")
            assert owner in ("codes", "tls_codes"), f"{path.name}: {ast.unparse(arg)}"
            if owner == "codes":
                assert getattr(codes, attribute) in codes.CODES
            found += 1
    assert found > 20  # the calls are still found where the findings are made
    for table in (https.POLICY_TLS, smtp.SMTP_TLS):
        assert set(dataclasses.asdict(table).values()) <= set(codes.CODES)


@pytest.mark.parametrize(
    ("limits", "concurrency", "expected"),
    [
        pytest.param((1024, 4096), 1000, (4096, 4096), id="raised-up-to-the-hard-limit"),
        pytest.param((1024, 1_000_000), 1000, (8064, 1_000_000), id="raised-to-what-is-needed"),
        pytest.param((1024, 4096), 50, None, id="enough-already"),
        pytest.param((20000, 20000), 1000, None, id="never-lowered"),
    ],
)
def test_check_raises_its_open_file_limit_for_its_concurrency(monkeypatch, limits, concurrency: int, expected) -> None:
    import resource

    from generator.check import runner

    set_to = []
    monkeypatch.setattr(resource, "getrlimit", lambda which: limits)
    monkeypatch.setattr(resource, "setrlimit", lambda which, value: set_to.append(value))
    runner._allow_open_files(concurrency)
    assert set_to == ([expected] if expected else [])


def test_a_refused_open_file_limit_does_not_stop_the_check(monkeypatch) -> None:
    import resource

    from generator.check import runner

    def refuse(which, value):
        raise ValueError("not allowed to raise maximum limit")

    monkeypatch.setattr(resource, "getrlimit", lambda which: (256, resource.RLIM_INFINITY))
    monkeypatch.setattr(resource, "setrlimit", refuse)
    runner._allow_open_files(1000)  # no exception
