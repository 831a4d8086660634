"""`check --format markdown`: the report as GitHub-flavoured Markdown, with
everything a server sent escaped so it cannot add links, HTML, table
cells or @-mentions to a job summary or an issue."""

from __future__ import annotations

import re

import pytest

from generator import markdown as md
from tests.support.check_run import HEALTHY, MX, POLICY_HOST, STS, TLSRPT, policy_bytes
from tests.support.cli import run_cli
from tests.support.dns_server import minimal_zone
from tests.support.tls_server import Route

HOSTILE = "https://evil.example/<img src=x onerror=alert(1)>|`@octocat #12 **bold** [a](b)\x1b[2J"


@pytest.mark.parametrize(
    ("value", "rendered"),
    [
        ("a|b", r"a\|b"),
        ("<script>&", "&lt;script&gt;&amp;"),
        ("@octocat and #12", "@\u2060octocat and #\u206012"),
        ("*x* _y_ ~z~ [l](u) `c`", r"\*x\* \_y\_ \~z\~ \[l\](u) \`c\`"),
        ("line\r\nnext", "line next"),
        ("\x1b[2J\u202e", r"\\u001b\[2J\\u202e"),
        # A line separator, a bidi mark, a soft hyphen and invisible tag characters.
        # (Eight hex digits in a row get a word joiner, as a commit SHA would.)
        ("a\u2028b\u061cc\u00add\U000e0041", "a\\\\u2028b\\\\u061cc\\\\u00add\\\\U000e00\u206041"),
        ("mail@example.com", "mail@\u2060example.com"),
        # GitHub renders $...$ as MathJax in issues, where \$ is no sure escape.
        ("$\\color{red}{URGENT}$ costs $5", "&#36;\\\\color{red}{URGENT}&#36; costs &#36;5"),
    ],
)
def test_text_escapes_what_markdown_would_interpret(value, rendered):
    assert md.text(value) == rendered


def test_code_spans_and_blocks_hold_any_backticks():
    assert md.code("a`b|c") == "`` a`b\\|c ``"
    assert md.block("x\n```\ny\r\n") == "````text\nx\n```\ny\n````"


def test_a_findings_quoted_commands_are_code_spans_in_the_table_not_literal_backticks():
    """Job summaries show `records` as code, as the terminal reads it; the
    rest stays escaped, and a server's backticks make only a code span,
    where nothing links or mentions."""
    from generator.check.domain import DomainReport
    from generator.check.markdown import findings_table
    from generator.findings import error

    report = DomainReport("a.test", [error("sts-record-missing", "no record at _mta-sts.a.test | @octocat `<b>@x</b>`",
                                           'publish _mta-sts.a.test TXT "v=STSv1; id=<id>" (`mta-sts-pages records` prints it)')])
    row = findings_table(report)[-1]
    assert "(`mta-sts-pages records` prints it)" in row and "\\`" not in row
    assert "\\| @\u2060octocat `<b>@x</b>`" in row and "id=&lt;id&gt;" in row
    assert len(re.findall(r"(?<!\\)\|", row)) == 5, row


@pytest.mark.timeout(30)
def test_check_writes_a_markdown_report(dns_server_factory, tls_server_factory):
    zones = {
        "ok.test": minimal_zone("ok.test", HEALTHY),
        "bad.test": minimal_zone("bad.test", "\n".join([STS, TLSRPT, MX, POLICY_HOST])),
    }
    nsd = dns_server_factory(zones)
    https = tls_server_factory()
    https.route("mta-sts.ok.test", Route(body=policy_bytes("ok.test")))
    https.route("mta-sts.bad.test", Route.redirect(HOSTILE))
    flags = ["--nameserver", nsd.address, "--ca-file", str(https.ca_pem_path), "--connect-to", f":443:127.0.0.1:{https.port}"]

    result = run_cli("check", "ok.test", "bad.test", "--format", "markdown", *flags)
    assert result.code == 1, result.output
    text = result.out
    assert text.startswith("## MTA-STS check\n\n| Domain | Result | Errors | Warnings | Mode | Id |\n")
    assert "| ok.test | :white_check_mark: ok | 0 | 0 | `enforce` | `abc123` |" in text
    assert "### :x: bad.test: failed (1 error, 1 note)" in text
    assert "### :white_check_mark: ok.test" not in text  # only domains to act on get a section
    [row] = [line for line in text.splitlines() if "`policy-redirect`" in line]
    # Exactly the table's five cell borders survive: the server's '|' is escaped.
    assert len(re.findall(r"(?<!\\)\|", row)) == 5, row
    assert "<img" not in text and "@octocat" not in text and "#12" not in text and "\x1b" not in text
    assert "&lt;img src=x onerror=alert(1)&gt;\\|\\`@\u2060octocat #\u206012 \\*\\*bold\\*\\* \\[a\\](b)\\\\u001b\\[2J" in row


@pytest.mark.parametrize("command", [["check", "example.com"], ["reports", "."]])
def test_json_and_another_format_conflict(command):
    result = run_cli(*command, "--json", "--format", "markdown")
    assert result.code == 2
    assert "--json and --format markdown ask for two formats" in result.err
