"""The policy file and the two TXT records: render, parse, and agree with an
independent implementation (postfix-mta-sts-resolver)."""

from __future__ import annotations

import pytest
from postfix_mta_sts_resolver.utils import parse_mta_sts_policy, parse_mta_sts_record

from generator.config import loads
from generator.errors import ParseError
from generator.names import mx_matches
from generator.policy import Policy, parse_policy, parse_sts_record, policy_id, render_policy, render_sts_record
from generator.tlsrpt import parse_tlsrpt_record, render_tlsrpt_record

POLICY = Policy(mode="enforce", mx=("mx1.example.com", "*.mail.protection.outlook.com"), max_age=604800)


def test_render_is_crlf_in_rfc_order():
    assert render_policy(POLICY) == (
        b"version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\n"
        b"mx: *.mail.protection.outlook.com\r\nmax_age: 604800\r\n"
    )


@pytest.mark.parametrize(
    "policy",
    [
        POLICY,
        Policy("testing", ("a.example",), 0),
        Policy("none", ("mx.example.org",), 31557600),
        Policy("none", (), 86400),
    ],
)
def test_render_parse_round_trip(policy):
    parsed = parse_policy(render_policy(policy))
    assert parsed.policy == policy
    assert render_policy(parsed.policy) == render_policy(policy)


def test_independent_parser_reads_the_same_values():
    body = render_policy(POLICY).decode()
    theirs = parse_mta_sts_policy(body)
    assert theirs == {"version": "STSv1", "mode": "enforce", "max_age": "604800", "mx": list(POLICY.mx)}


def test_independent_parser_reads_the_records():
    config = loads(
        "domain: example.com\npolicy:\n  mx: [mx.example.com]\ntlsrpt:\n  rua: [mailto:r@example.com]\n"
    )
    domain = config.domains[0]
    assert parse_mta_sts_record(render_sts_record(domain.id)) == {"v": "STSv1", "id": domain.id}
    # The TLS-RPT record has the same key=value; grammar, so the same reader applies.
    assert parse_mta_sts_record(render_tlsrpt_record(domain.tlsrpt_rua)) == {"v": "TLSRPTv1", "rua": "mailto:r@example.com"}


def test_auto_id_follows_the_policy_bytes():
    one = policy_id(render_policy(POLICY))
    assert one == policy_id(render_policy(POLICY))
    assert one != policy_id(render_policy(Policy("testing", POLICY.mx, POLICY.max_age)))
    assert one.isalnum() and 1 <= len(one) <= 32


def test_explicit_id_used_as_given():
    config = loads("domain: example.com\npolicy:\n  mx: [mx.example.com]\n  id: 20261128\n")
    assert config.domains[0].id == "20261128" and not config.domains[0].id_is_auto


def codes(exc_info) -> set[str]:
    return {f.code for f in exc_info.value.findings if f.severity.value == "error"}


@pytest.mark.parametrize(
    "text, code",
    [
        ("mode: testing\nmx: a.example\nmax_age: 1\n", "policy-version-missing"),
        ("version: STSv2\nmode: testing\nmx: a.example\nmax_age: 1\n", "policy-version-invalid"),
        ("version: STSv1\nmx: a.example\nmax_age: 1\n", "policy-mode-missing"),
        ("version: STSv1\nmode: doubt\nmx: a.example\nmax_age: 1\n", "policy-mode-invalid"),
        ("version: STSv1\nmode: Testing\nmx: a.example\nmax_age: 1\n", "policy-mode-invalid"),
        ("version: STSv1\nmode: testing\nmx: a.example\n", "policy-max-age-missing"),
        ("version: STSv1\nmode: testing\nmx: a.example\nmax_age: xxx\n", "policy-max-age-invalid"),
        ("version: STSv1\nmode: testing\nmx: a.example\nmax_age: 31557601\n", "policy-max-age-invalid"),
        ("version: STSv1\nmode: testing\nmx: a.example\nmax_age: -5\n", "policy-max-age-invalid"),
        ("version: STSv1\nmode: testing\nmx: a.example\nmax_age: 12345678901\n", "policy-max-age-invalid"),
        ("version: STSv1\nmode: enforce\nmax_age: 1\n", "policy-mx-missing"),
        ("version: STSv1\nmode: testing\nmx: mx*.a.example\nmax_age: 1\n", "policy-mx-invalid"),
        ("version: STSv1\nmode: testing\nmx: 192.0.2.1\nmax_age: 1\n", "policy-mx-invalid"),
        ("version: STSv1\nmode: testing\nmode: enforce\nmx: a.example\nmax_age: 1\n", "policy-mode-duplicate"),
        ("version: STSv1\nmode: testing\nmx: a.example\nmax_age: 1\nmax_age: 2\n", "policy-max-age-duplicate"),
        ("version: STSv1\ngarbage\nmode: testing\nmx: a.example\nmax_age: 1\n", "policy-syntax"),
        ("<html>not a policy</html>", "policy-syntax"),
        ("", "policy-empty"),
    ],
)
def test_parser_rejects(text, code):
    with pytest.raises(ParseError) as exc_info:
        parse_policy(text.encode())
    assert code in codes(exc_info)


def test_parser_accepts_lf_with_info_and_ignores_unknown_keys():
    parsed = parse_policy(b"version: STSv1\nmode: testing\nmx: a.example\nmax_age: 86400\nfoo: bar\n")
    assert parsed.policy == Policy("testing", ("a.example",), 86400)
    notes = {f.code: f.severity.value for f in parsed.notes}
    assert notes == {"policy-lf-line-endings": "info", "policy-unknown-key": "warning"}


def test_parser_accepts_missing_final_newline_and_spaces_after_colon():
    parsed = parse_policy(b"version: STSv1\r\nmode:\tenforce\r\nmx:   a.example  \r\nmax_age: 86400")
    assert parsed.policy == Policy("enforce", ("a.example",), 86400)
    assert not parsed.notes


def test_parser_caps_size():
    text = b"version: STSv1\r\nmode: testing\r\n" + b"mx: a.example\r\n" * 5000 + b"max_age: 1\r\n"
    with pytest.raises(ParseError) as exc_info:
        parse_policy(text)
    assert "policy-too-large" in codes(exc_info)


@pytest.mark.parametrize(
    "record, sts_id",
    [
        ("v=STSv1; id=20261128", "20261128"),
        ("v=STSv1;id=abc", "abc"),
        ("v=STSv1; id=abc;", "abc"),
        ("v=STSv1 ;\tid=ABC123", "ABC123"),
    ],
)
def test_sts_record_accepts(record, sts_id):
    assert parse_sts_record(record)[0].id == sts_id


@pytest.mark.parametrize(
    "record, code",
    [
        ("v=STSv1", "sts-id-missing"),
        ("v=STSv1; id=2026-11-28", "sts-id-invalid"),
        ("v=STSv1; id=" + "a" * 33, "sts-id-invalid"),
        ("v=STSv1; id=", "sts-id-invalid"),
        ("v=stsv1; id=abc", "sts-record-version"),
        ("id=abc; v=STSv1", "sts-record-version"),
        ("v=STSv1; id=a; id=b", "sts-record-syntax"),
        ("v=spf1 -all", "sts-record-version"),
    ],
)
def test_sts_record_rejects(record, code):
    with pytest.raises(ParseError) as exc_info:
        parse_sts_record(record)
    assert code in {f.code for f in exc_info.value.findings}


def test_sts_record_extension_is_a_warning():
    record, notes = parse_sts_record("v=STSv1; id=abc; ext=1")
    assert record.extensions == (("ext", "1"),)
    assert [n.code for n in notes] == ["sts-record-extension"]


def test_tlsrpt_round_trip():
    rua = ("mailto:tls@example.com", "https://tlsrpt.example.com/v1/report")
    record, notes = parse_tlsrpt_record(render_tlsrpt_record(rua))
    assert record.rua == rua and not notes


@pytest.mark.parametrize(
    "record, code",
    [
        ("v=TLSRPTv1", "tlsrpt-rua-missing"),
        ("v=TLSRPTv1; rua=ftp://x.example", "tlsrpt-rua-invalid"),
        ("v=TLSRPTv1; rua=mailto:", "tlsrpt-rua-invalid"),
        ("v=TLSRPTv2; rua=mailto:a@example.com", "tlsrpt-record-version"),
        ("v=TLSRPTv1; rua", "tlsrpt-record-syntax"),
    ],
)
def test_tlsrpt_rejects(record, code):
    with pytest.raises(ParseError) as exc_info:
        parse_tlsrpt_record(record)
    assert code in {f.code for f in exc_info.value.findings}


@pytest.mark.parametrize(
    "pattern, host, expected",
    [
        ("mx.example.com", "mx.example.com", True),
        ("mx.example.com", "MX.Example.COM.", True),
        ("mx.example.com", "mx.example.com.evil.org", False),
        ("*.example.com", "mx.example.com", True),
        ("*.example.com", "example.com", False),
        ("*.example.com", "a.b.example.com", False),
        ("*.example.com", "mxexample.com", False),
        ("*.mail.protection.outlook.com", "contoso-com.mail.protection.outlook.com", True),
    ],
)
def test_mx_matching_is_one_label(pattern, host, expected):
    assert mx_matches(pattern, host) is expected


def test_parser_rejects_u_label_mx():
    with pytest.raises(ParseError) as exc_info:
        parse_policy("version: STSv1\r\nmode: enforce\r\nmx: bücher.example\r\nmax_age: 86400\r\n".encode())
    assert "policy-mx-invalid" in codes(exc_info)
    assert parse_policy(b"version: STSv1\r\nmode: enforce\r\nmx: xn--bcher-kva.example\r\nmax_age: 86400\r\n").policy.mx == ("xn--bcher-kva.example",)


def test_mode_none_without_mx_warns_for_stalwart():
    config = loads("domain: example.com\npolicy:\n  mode: none\n")
    messages = [w.message for w in config.warnings]
    assert any("Stalwart rejects a policy with no mx line" in m for m in messages)
    assert not any("Stalwart" in w.message for w in loads("domain: example.com\npolicy:\n  mode: none\n  mx: [mx.example.com]\n").warnings)


def test_mailto_local_part_is_judged_decoded():
    record, notes = parse_tlsrpt_record("v=TLSRPTv1; rua=mailto:tls%21reports+x@example.com")
    assert record.rua == ("mailto:tls%21reports+x@example.com",) and notes == ()
    for bad in ("a%40b", "a%20b", "a%2Cb", ".a", "a..b"):
        with pytest.raises(ParseError):
            parse_tlsrpt_record(f"v=TLSRPTv1; rua=mailto:{bad}@example.com")
