"""Outside text in GitHub Markdown (issues, job summaries, `--format
markdown`) renders as text: no link, mention or reference.

Rendered with GitHub's own Markdown engine, cmark-gfm with the autolink and
table extensions; GitHub's mention and reference filters then read the
rendered text outside code elements, so that text must hold no ``@name``,
``#12``, ``GH-12``, ``owner/repo#12`` or commit-like hex run.
"""

from __future__ import annotations

import html
import json
import re
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generator import markdown as md
from generator.check.domain import DomainReport
from generator.check.markdown import document
from generator.config import loads
from generator.findings import error
from generator.monitor import body
from generator.verify import Verdict
from generator.verify import markdown as verify_markdown
from tests.support.cli import run_cli
from tests.support.tools import require_tool
from tests.test_reports_hostile import _doc

# What GitHub links or notifies in rendered text, matched more widely than
# GitHub does (anywhere, either case): a mention, an issue reference, a
# repository's autolink prefix, a commit SHA, a URL or www. name.
_LINKED = re.compile(r"@[a-z0-9]|#[0-9]|[a-z]-[0-9]|(?<![0-9a-f])[0-9a-f]{7,}|://|www\.", re.IGNORECASE)


def render(markdown: str) -> str:
    program = require_tool("cmark-gfm")
    run = subprocess.run([program, "-e", "autolink", "-e", "table"], input=markdown, capture_output=True, text=True, timeout=30, check=True)
    return run.stdout


def leaks(markdown: str) -> list[str]:
    """Links, and what GitHub would link, in the rendered HTML outside code."""
    rendered = render(markdown)
    found = re.findall(r"<a [^>]*>", rendered)
    outside_code = re.sub(r"<(code|pre)[^>]*>.*?</\1>", " ", rendered, flags=re.DOTALL)
    visible_text = html.unescape(re.sub(r"<[^>]+>", " ", outside_code))
    return found + _LINKED.findall(visible_text)


def contexts(value: str) -> str:
    """``value`` where the documents put outside text: a paragraph, a list
    item, a heading and a table cell."""
    shown = md.text(value)
    return f"Organisations: {shown}\n\n- error: {shown}\n\n### {shown}\n\n| Sender | Reports |\n|---|---:|\n| {shown} | 1 |\n"


NAMED = {
    "url": "see https://evil.example/x and http://a.b",
    "ftp": "ftp://files.evil.example/x",
    "www": "www.evil.example and WWW.EVIL.EXAMPLE",
    "email": "postmaster@evil.example",
    "mailto": "mailto:postmaster@evil.example",
    "xmpp": "xmpp:user@evil.example/resource",
    "mention": "@octocat and @github/security-team",
    "mention-in-parens": "(@octocat)",
    "issue": "#12 and (#34)",
    "gh-issue": "GH-12 gh-7",
    "cross-repo": "owner/repo#1 and owner/repo@1a2b3c4",
    "sha": "1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d and deadbee",
    "autolink-prefix": "TICKET-123",
    "entity-mention": "&#64;octocat &#35;12",
    "escaped": "\\@octocat \\#12 <https://evil.example>",
    "markdown-link": "[click](https://evil.example) ![img](http://evil.example/i.png)",
    "html-link": '<a href="https://evil.example">x</a>',
    "angle-autolink": "<https://evil.example> <me@evil.example>",
    "zero-width": "@\u200boctocat www\u200b.evil.example",
    "word-joiner": "@\u2060octocat",
    "hostname": "mx1.evil.example",
}


@pytest.mark.parametrize("value", NAMED.values(), ids=NAMED.keys())
def test_named_outside_text_makes_no_link_mention_or_reference(value: str) -> None:
    assert leaks(contexts(value)) == []


def test_the_test_sees_what_github_would_link() -> None:
    """The renderer links raw text; the pattern finds raw mentions."""
    assert len(leaks(f"{NAMED['url']} {NAMED['www']} {NAMED['email']}")) >= 4
    assert leaks("@octocat #12 GH-3 deadbeef1") == ["@o", "#1", "H-3", "deadbeef1"]


# Pieces of everything above, recombined; letters and digits that join them into names.
TOKENS = ["@", "#", "/", ":", ".", "-", "_", "w", "www.", "WWW.", "http://", "https://", "ftp://", "mailto:", "xmpp:", "GH-", "gh-",
          "a", "Z", "1", "12", "deadbeef", "f00d", "example.com", "user", "org/team", "owner/repo", " ", "\t", "\n", "`", "*", "<", ">",
          "&", "&#64;", "&#35;", ";", "[", "](", ")", "|", "\\", "~", "$", "!", "\u200b", "\u2060", "\u00a0"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=24).map("".join))
def test_any_outside_text_makes_no_link_mention_or_reference(value: str) -> None:
    assert leaks(contexts(value)) == []


def test_a_check_report_with_hostile_server_text_renders_without_links() -> None:
    """What an issue and a job summary hold: findings quoting a server."""
    hostile = " ".join(NAMED.values())
    report = DomainReport("example.com", [error("policy-redirect", f"a redirect to {hostile}", f"fix {hostile}")])
    report.mx_hosts = ["www.evil.example", "@octocat"]
    shown = document([report])
    assert "octocat" in shown and "evil.example" in shown, shown  # the hostile text is there, made harmless
    assert leaks(shown) == []


def test_an_issue_body_and_a_verify_summary_with_hostile_server_text_render_without_links() -> None:
    hostile = " ".join(NAMED.values())
    report = DomainReport("example.com", [error("policy-redirect", f"a redirect to {hostile}", f"fix {hostile}")])
    issue = body(report, "0123456789abcdef").split("-->", 1)[1]  # after the monitor's own marker
    assert "octocat" in issue, issue
    assert leaks(issue) == []
    domain = loads("domain: example.com\npolicy:\n  mx: [mx1.example.com]\n").domains[0]
    verdict = Verdict(domain, findings=[error("policy-differs", hostile)], dns_findings=[error("sts-record-invalid", hostile)])
    assert "octocat" in verify_markdown(verdict)
    assert leaks(verify_markdown(verdict)) == []


def test_reports_markdown_with_hostile_sender_text_renders_without_links(tmp_path) -> None:
    hostile = " ".join(NAMED.values())
    doc = _doc(**{"organization-name": hostile, "report-id": "links-1"})
    policy = doc["policies"][0]
    policy["summary"]["total-failure-session-count"] = 1
    policy["failure-details"] = [{"result-type": "certificate-expired", "receiving-mx-hostname": hostile, "failed-session-count": 1}]
    (tmp_path / "links.json").write_text(json.dumps(doc))
    shown = run_cli("reports", tmp_path, "--format", "markdown")
    assert "octocat" in shown.out
    assert leaks(shown.out) == []
