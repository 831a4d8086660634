"""Messages for policy files and TXT records found in real repositories:
each names the actual problem once (issue 11)."""

from __future__ import annotations

import subprocess

import pytest

from generator.errors import ParseError
from generator.policy import parse_policy, parse_sts_record
from generator.tlsrpt import parse_tlsrpt_record
from tests.support.cli import run_cli
from tests.support.github import ROOT
from tests.support.tools import require_tool

POLICY = "version: STSv1\nmode: enforce\nmx: mx1.example.com\nmax_age: 604800\n"
FRONT_MATTER = "---\nlayout: none\npermalink: /.well-known/mta-sts.txt\n---\n"
HTML = "<!DOCTYPE html>\n<html>\n<head><title>MTA-STS</title></head>\n<body>\n" + "<p>Our mail policy.</p>\n" * 300 + "</body>\n</html>\n"
PROSE = "\n".join(f"Paragraph {n}: this repository holds the draft of our mail policy, see below." for n in range(400)) + "\n"


def findings_of(parse) -> list:
    try:
        return list(parse())
    except ParseError as exc:
        return list(exc.findings)


def errors(findings) -> list:
    return [f for f in findings if f.severity.value == "error"]


def test_front_matter_in_a_repository_file_is_one_warning(tmp_path):
    path = tmp_path / "mta-sts.txt"
    path.write_text(FRONT_MATTER + POLICY)
    result = run_cli("validate", "--policy", path)
    assert result.code == 0, result.output
    assert result.out.count("policy-front-matter") == 1 and "policy-syntax" not in result.out, result.out
    assert "lines 1-4 are Jekyll front matter" in result.out and "from line 5 on" in result.out
    assert "[policy-version-not-first]" not in result.out


def test_front_matter_served_as_is_is_one_error():
    found = findings_of(lambda: parse_policy((FRONT_MATTER + POLICY).encode()).notes)
    assert [(f.code, f.severity.value) for f in found if f.code != "policy-lf-line-endings"] == [("policy-front-matter", "error")]
    assert "Jekyll did not build the site" in found[-1].message


@pytest.mark.timeout(60)
def test_jekyll_strips_the_front_matter_as_the_message_says(tmp_path):
    """The warning's claim, checked with the real Jekyll: the built file is
    the policy from the line after the front matter, and it parses cleanly."""
    jekyll = require_tool("jekyll")
    site = tmp_path / "site"
    assert run_cli("build", "-c", ROOT / "examples" / "google-workspace.yml", "-o", site).code == 0
    policy = site / ".well-known" / "mta-sts.txt"
    body = policy.read_bytes()
    policy.write_bytes(FRONT_MATTER.replace("\n", "\r\n").encode() + body)
    (site / ".mta-sts-pages-manifest.json").unlink()  # the edited policy is now the user's
    dest = tmp_path / "_site"
    subprocess.run([jekyll, "build", "-s", site, "-d", dest, "--disable-disk-cache"], check=True, capture_output=True, timeout=60)
    served = (dest / ".well-known" / "mta-sts.txt").read_bytes()
    assert served == body
    assert not parse_policy(served).notes


@pytest.mark.parametrize("text, message", [
    pytest.param("version: STSv1\nmode: enforce\nmx: .\nmax_age: 86400\n", "mx '.' is not a host name", id="mx-dot"),
    pytest.param("version: STSv1\nmode: testing\nmx: ..\nmax_age: 86400\n", "mx '..' is not a host name", id="mx-dots"),
])
def test_mx_that_is_not_a_host_name(text, message):
    found = errors(findings_of(lambda: parse_policy(text.encode()).notes))
    assert [f.code for f in found] == ["policy-mx-invalid"], found
    assert message in found[0].message and "trailing dot" not in found[0].message


@pytest.mark.parametrize("record, code, message", [
    pytest.param("v=STSv1; id={Choose a String Value}", "sts-id-invalid", "placeholder", id="placeholder-id"),
    pytest.param("v=STSv1; id=<your id here>", "sts-id-invalid", "placeholder", id="angle-placeholder-id"),
    pytest.param("v=STSv1 id=20190429T010101", "sts-record-syntax", "need a ';' between them", id="missing-semicolon"),
    pytest.param("v=STSv1\tid=20190429T010101;", "sts-record-syntax", "need a ';' between them", id="missing-semicolon-tab"),
    pytest.param("v=STSV1; id=20190429", "sts-record-version", "case-sensitive", id="version-case"),
    pytest.param("v=STSv1; id=", "sts-id-invalid", "the id is empty", id="empty-id"),
])
def test_sts_record_names_the_actual_problem(record, code, message):
    found = errors(findings_of(lambda: parse_sts_record(record)[1]))
    assert [f.code for f in found] == [code], found
    assert message in found[0].message


def test_tlsrpt_record_missing_semicolon_is_one_error():
    found = errors(findings_of(lambda: parse_tlsrpt_record("v=TLSRPTv1 rua=mailto:tls@example.com")[1]))
    assert [f.code for f in found] == ["tlsrpt-record-syntax"] and "need a ';'" in found[0].message


@pytest.mark.parametrize("text, shape", [
    pytest.param(HTML, " (it looks like HTML)", id="html-page"),
    pytest.param(PROSE, "", id="prose"),
    pytest.param("Note: this is an old draft\nStatus: obsolete\nAuthor: someone\nDate: 2019\nSee: the wiki\nOwner: it\nversion: STSv1\n", "", id="old-draft"),
])
def test_a_file_that_is_no_policy_stops_after_a_few_problems(tmp_path, text, shape):
    path = tmp_path / "mta-sts.txt"
    path.write_text(text)
    result = run_cli("validate", "--policy", path)
    assert result.code == 1
    reported = [line for line in result.out.splitlines() if line.startswith(("error:", "warning:"))]
    assert len(reported) <= 7, result.out
    assert reported[-1].startswith("error: [policy-not-a-policy-file]") and "this is not an MTA-STS policy file" + shape in reported[-1]


def test_one_stray_line_in_a_policy_is_still_reported_as_a_line():
    found = errors(findings_of(lambda: parse_policy(("version: STSv1\ngarbage\n" + POLICY[14:]).encode()).notes))
    assert [f.code for f in found] == ["policy-syntax"]


@pytest.mark.parametrize("parse", [
    pytest.param(lambda: parse_policy(POLICY.encode() + b"foo: bar\n").notes, id="policy-unknown-key"),
    pytest.param(lambda: parse_sts_record("v=STSv1; id=abc; ext=1")[1], id="sts-extension"),
])
def test_no_claim_about_other_tools_that_was_not_checked(parse):
    found = findings_of(parse)
    assert found and all("checkdmarc" not in f.message + f.fix for f in found), found


@pytest.mark.parametrize("uri", ["mailto:tls@localhost", "https://reports/tlsrpt"])
def test_one_label_report_host_warns_in_a_live_record_and_is_refused_in_a_config(tmp_path, uri):
    result = run_cli("validate", "--tlsrpt", f"v=TLSRPTv1; rua={uri}")
    assert result.code == 0, result.output
    assert "warning: [tlsrpt-rua-one-label]" in result.out and "single label" in result.out
    assert run_cli("validate", "--strict", "--tlsrpt", f"v=TLSRPTv1; rua={uri}").code == 1

    config = tmp_path / "mta-sts.yml"
    config.write_text(f"domain: example.com\npolicy:\n  mx: [mx.example.com]\ntlsrpt:\n  rua: ['{uri}']\n")
    refused = run_cli("validate", "-c", config)
    assert refused.code == 2 and "tlsrpt.rua[0]" in refused.err and "single label" in refused.err, refused.output
