"""No line any command prints can be a GitHub Actions workflow command made
of a server's or a sender's text (``::add-mask::``, ``::error::``,
``##[stop-commands]``): the runner obeys those in a step's output
(tests/support/runner.py says how it reads them)."""

from __future__ import annotations

import datetime as dt
import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generator.terminal import json_for_terminal, lines_for_terminal, printable
from tests.support.cli import run_cli
from tests.support.runner import workflow_commands
from tests.test_reports import FIXTURES

# The runner's markers and what its TrimStart strips, beside plain letters.
HOSTILE = st.text(alphabet=st.sampled_from([":", ":", "#", "#", "[", "]", " ", "\t", "\n", "\r", "\x85", "\xa0", "\u2003",
                                            "\u3000", "\x1c", "a", "="]), max_size=40)


@pytest.mark.parametrize("output", ["::error::x", "ok\n  ::add-mask::s", "a\rb ##[group]c", "\u3000::warning::w"])
def test_the_test_sees_what_the_runner_would_obey(output: str) -> None:
    """The detector every test here relies on finds real commands."""
    assert workflow_commands(output) != []


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        pytest.param("::error title=x::boom", "\\x3a:error title=x::boom", id="error"),
        pytest.param("  ::add-mask::secret", "  \\x3a:add-mask::secret", id="indented"),
        pytest.param("\u3000::add-mask::x", "\\u3000::add-mask::x", id="ideographic-space-escaped"),
        pytest.param("org ##[error]boom", "org \\x23#[error]boom", id="legacy-mid-line"),
        pytest.param("###[stop-commands]t", "#\\x23#[stop-commands]t", id="legacy-three-hashes"),
        pytest.param("a::b # [c]", "a::b # [c]", id="harmless-stays"),
    ],
)
def test_printable_never_leaves_a_workflow_command(line: str, shown: str) -> None:
    assert printable(line) == shown


@settings(max_examples=300, deadline=None)
@given(st.lists(HOSTILE, max_size=5))
def test_no_line_for_the_terminal_is_a_workflow_command(lines: list[str]) -> None:
    assert workflow_commands(lines_for_terminal(lines)) == []


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(HOSTILE, HOSTILE | st.lists(HOSTILE, max_size=3), max_size=4), st.sampled_from([None, 2]))
def test_json_for_the_terminal_has_no_workflow_command_and_decodes_the_same(document: dict, indent: int | None) -> None:
    text = json_for_terminal(json.dumps(document, ensure_ascii=False, indent=indent))
    assert workflow_commands(text) == []
    assert json.loads(text) == document


# What a sender can write in a report, where the output shows it.
ERROR = "::error title=x::ready to enforce"
MASK = "::add-mask::fake"
LEGACY = "##[stop-commands]token"


def _report(tmp_path):
    day = dt.date.today() - dt.timedelta(days=2)  # inside promote's window, which ends now
    doc = json.loads((FIXTURES / "dmarc-report-viewer__google.json").read_text())
    doc.update({"organization-name": LEGACY, "report-id": MASK,
                "date-range": {"start-datetime": f"{day}T00:00:00Z", "end-datetime": f"{day}T23:59:59Z"}})
    [policy] = doc["policies"][:1]
    doc["policies"] = [policy, json.loads(json.dumps(policy))]
    policy["policy"]["policy-domain"] = "example.com"
    policy["summary"]["total-failure-session-count"] = 2
    policy["failure-details"] = [{"result-type": ERROR, "receiving-mx-hostname": MASK, "failed-session-count": 2},
                                 {"result-type": "certificate-expired", "receiving-mx-hostname": f"  {ERROR}", "failed-session-count": 1}]
    doc["policies"][1]["policy"]["policy-domain"] = ERROR
    (tmp_path / "evil.json").write_text(json.dumps(doc))
    (tmp_path / f"{MASK}.json").write_text('{"report-id": "x"}')  # an unreadable input, named in an error line
    config = tmp_path / "mta-sts.yml"
    config.write_text("domain: example.com\npolicy:\n  mode: testing\n  mx: [mx1.example.com]\n")
    return config


@pytest.mark.parametrize("args", [[], ["--format", "json"], ["--format", "markdown"], ["--ready"], ["--ready", "--format", "json"]],
                         ids=["text", "json", "markdown", "ready", "ready-json"])
def test_reports_print_no_workflow_command(tmp_path, args: list[str]) -> None:
    config = _report(tmp_path)
    shown = run_cli("reports", tmp_path / "evil.json", tmp_path / f"{MASK}.json", "-c", config, *args)
    assert "example.com" in shown.out, shown.output
    assert workflow_commands(shown.out) == [] and workflow_commands(shown.err) == []
    if "json" in args:
        document = json.loads(shown.out)
        assert ERROR in {d["domain"] for d in document["domains"]} and document["errors"], document


def test_promote_prints_no_workflow_command(tmp_path) -> None:
    config = _report(tmp_path)
    shown = run_cli("promote", "-c", config, tmp_path)
    assert shown.code == 1 and "not ready" in shown.output, shown.output
    assert workflow_commands(shown.out) == [] and workflow_commands(shown.err) == []


def test_dns_prints_no_workflow_command_from_the_zone(tmp_path) -> None:
    """The values a zone holds at the owned names are shown in `dns diff`."""
    zones = tmp_path / "zones"
    zones.mkdir()
    (zones / "example.com.yaml").write_text("_smtp._tls:\n  type: TXT\n  value: 'v=TLSRPTv1\\; rua=mailto:a@example.com ##[error]x'\n")
    config = tmp_path / "mta-sts.yml"
    config.write_text(f"domain: example.com\npolicy:\n  mx: [mx1.example.com]\ntlsrpt:\n  rua: ['mailto:tls@example.com']\n"
                      f"dns:\n  provider:\n    class: octodns.provider.yaml.YamlProvider\n    directory: {zones}\n    escaped_semicolons: true\n")
    shown = run_cli("dns", "diff", "-c", config, "--timeout", "2", "--connect-to", "mta-sts.example.com:443:127.0.0.1:9")
    assert shown.code == 1 and "rua=mailto:a@example.com" in shown.out, shown.output
    assert workflow_commands(shown.out) == [] and workflow_commands(shown.err) == []


@pytest.mark.timeout(30)
def test_monitor_prints_no_workflow_command_from_github(tmp_path, monkeypatch) -> None:
    """What gh prints when it fails is GitHub's text (an API message)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "gh").write_text(f"#!/bin/sh\necho '{ERROR}' >&2\necho '  {MASK}' >&2\necho 'HTTP 502 {LEGACY}' >&2\nexit 1\n")
    (bin_dir / "gh").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("GH_TOKEN", "token")
    monkeypatch.setenv("GH_REPO", "example-org/policies")
    (tmp_path / "mta-sts.yml").write_text("domain: example.test\npolicy:\n  mode: testing\n  mx: [mx1.example.test]\n")
    # Nothing listens on port 1: the lookups fail at once, so the domain needs an issue.
    shown = run_cli("monitor", "-c", tmp_path / "mta-sts.yml", "--nameserver", "127.0.0.1:1", "--timeout", "5")
    assert shown.code != 0 and "stop-commands" in shown.err, shown.output
    assert workflow_commands(shown.out) == [] and workflow_commands(shown.err) == []


def test_validate_prints_no_workflow_command_from_a_fetched_policy_or_record(tmp_path) -> None:
    """`validate --policy` and `--txt` lint what was fetched from a server or DNS."""
    policy = tmp_path / "mta-sts.txt"
    policy.write_bytes(f"version: STSv1\r\n{ERROR}\r\nmode: enforce {LEGACY}\r\nmx: {MASK}\r\nmax_age: 86400\r\n".encode())
    for args in (["--policy", policy], ["--txt", f"v=STSv1; id={ERROR} {LEGACY}"], ["--tlsrpt", ERROR]):
        shown = run_cli("validate", *args)
        assert shown.code == 1 and "error" in shown.out, shown.output
        # The hostile text is quoted (escaped), so the check below means something.
        assert any(marker in shown.out for marker in ("error title=x", "stop-commands", "add-mask")), shown.out
        assert workflow_commands(shown.out) == [] and workflow_commands(shown.err) == []
