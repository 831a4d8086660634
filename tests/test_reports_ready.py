"""`reports --ready` and `promote`: the readiness verdict, each reason on
its own, and the one-line config edit. The reports are real ones
(tests/fixtures/tlsrpt) with their dates, counts and failures changed."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import re
from pathlib import Path

import pytest

from tests.support.cli import run_cli
from tests.test_reports import FIXTURES

UNTIL = "2026-11-20"
IN_WINDOW = dt.date(2026, 11, 15)
CONFIG = """\
# MTA-STS for example.com: two MX hosts and a hosted pool.
domain: example.com   # the policy domain
policy:
  mode: testing       # enforce once two weeks of reports are clean
  mx:
    - mx1.example.com
    - "*.mail.example.com"
  max_age: 1w
"""
_SENDERS = {"google": "dmarc-report-viewer__google.json", "microsoft": "dmarc-report-viewer__microsoft.json"}
_DETAIL = json.loads((FIXTURES / "parsedmarc__smtp_tls.json").read_text())["policies"][0]["failure-details"][0]
_counter = iter(range(1_000_000))


def report(sender: str, day: dt.date, ok: int = 15, failures: tuple = (), policy_type: str = "sts", domain: str = "example.com") -> dict:
    """A real ``sender`` report re-dated to ``day`` with these sessions.
    ``failures``: (result-type, receiving-mx-hostname or None, sessions)."""
    doc = json.loads((FIXTURES / _SENDERS[sender]).read_text())
    doc["report-id"] = f"{sender}-{next(_counter)}"
    doc["date-range"] = {"start-datetime": f"{day}T00:00:00Z", "end-datetime": f"{day}T23:59:59Z"}
    policy = doc["policies"][0]
    doc["policies"] = [policy]
    policy["policy"]["policy-type"] = policy_type
    policy["policy"]["policy-domain"] = domain
    details = []
    for result_type, host, sessions in failures:
        detail = dict(_DETAIL, **{"result-type": result_type, "failed-session-count": sessions})
        if host is None:
            for key in ("receiving-mx-hostname", "sending-mta-ip", "receiving-ip"):
                del detail[key]
        else:
            detail["receiving-mx-hostname"] = host
        details.append(detail)
    policy["summary"] = {"total-successful-session-count": ok, "total-failure-session-count": sum(f[2] for f in failures)}
    if details:
        policy["failure-details"] = details
    return doc


def write_reports(folder: Path, docs: list[dict]) -> Path:
    folder.mkdir(exist_ok=True)
    for doc in docs:
        (folder / f"{doc['report-id']}.json.gz").write_bytes(gzip.compress(json.dumps(doc).encode()))
    return folder


def failed_without_details(doc: dict, failed: int) -> dict:
    """``doc`` with ``failed`` more failed sessions than its failure-details tell."""
    summary = doc["policies"][0]["summary"]
    summary["total-failure-session-count"] += failed
    return doc


CLEAN = [report("google", IN_WINDOW), report("microsoft", IN_WINDOW - dt.timedelta(days=3), ok=10)]
SCENARIOS = [
    ("ready", CLEAN, set()),
    ("tlsa-failures-do-not-decide", [*CLEAN, report("microsoft", IN_WINDOW, ok=0, policy_type="tlsa", failures=(("tlsa-invalid", "mx1.example.com", 4),))], set()),
    ("no-reports", [], {"no-reports"}),
    ("reports-before-the-window", [report("google", dt.date(2026, 11, 1)), report("microsoft", dt.date(2026, 10, 30))], {"no-reports"}),
    ("one-organisation", [report("google", IN_WINDOW), report("google", IN_WINDOW - dt.timedelta(days=1))], {"few-organisations"}),
    ("few-sessions", [report("google", IN_WINDOW, ok=5), report("microsoft", IN_WINDOW, ok=4)], {"few-sessions"}),
    ("only-other-policy-types", [report("google", IN_WINDOW, policy_type="no-policy-found"), report("microsoft", IN_WINDOW, policy_type="no-policy-found")], {"few-sessions"}),
    ("certificate-on-a-listed-host", [*CLEAN, report("google", IN_WINDOW, failures=(("certificate-host-mismatch", "mx1.example.com", 2),))], {"mx-failures"}),
    # A sender that found no policy still reports the MX host's TLS failures: mail under enforce would fail the same way.
    ("certificate-without-a-policy-found", [*CLEAN, report("google", IN_WINDOW, policy_type="no-policy-found",
                                                           failures=(("certificate-not-trusted", "mx1.example.com", 2),))], {"mx-failures"}),
    ("expired-on-a-wildcard-host", [*CLEAN, report("microsoft", IN_WINDOW, failures=(("certificate-expired", "eu.mail.example.com", 1),))], {"mx-failures"}),
    ("starttls-on-an-unnamed-host", [*CLEAN, report("google", IN_WINDOW, failures=(("starttls-not-supported", None, 1),))], {"mx-failures"}),
    ("host-not-in-the-policy", [*CLEAN, report("google", IN_WINDOW, failures=(("validation-failure", "mx9.example.net", 3),))], {"mx-not-in-policy"}),
    ("two-labels-under-a-wildcard", [*CLEAN, report("google", IN_WINDOW, failures=(("validation-failure", "a.b.mail.example.com", 1),))], {"mx-not-in-policy"}),
    ("policy-fetch-failed", [*CLEAN, report("microsoft", IN_WINDOW, ok=0, failures=(("sts-policy-fetch-error", None, 3),))], {"policy-failures"}),
    ("another-domain-does-not-count", [*CLEAN, report("google", IN_WINDOW, domain="example.org", failures=(("certificate-expired", "mx1.example.org", 9),))], set()),
    ("several-reasons", [report("google", IN_WINDOW, ok=3, failures=(("certificate-not-trusted", "mx1.example.com", 1),))], {"few-organisations", "few-sessions", "mx-failures"}),
    # Failed sessions the sender does not explain may be anything, an MX host's certificate included.
    ("failures-without-details", [*CLEAN, failed_without_details(report("google", IN_WINDOW), 40)], {"unexplained-failures"}),
    ("failures-partly-detailed", [*CLEAN, failed_without_details(report("google", IN_WINDOW, failures=(("sts-policy-fetch-error", None, 1),)), 6)],
     {"unexplained-failures", "policy-failures"}),
    ("result-type-the-rfc-does-not-define", [*CLEAN, report("microsoft", IN_WINDOW, failures=(("certificate-revoked", "mx1.example.com", 2),))],
     {"unexplained-failures"}),
    # RFC 8460 §4.3 lets one session count under several result types; DANE types do not decide.
    ("details-over-the-total", [*CLEAN, failed_without_details(report("google", IN_WINDOW, failures=(("dnssec-invalid", "mx1.example.com", 3),)), -2)], set()),
]


@pytest.mark.parametrize(("name", "docs", "reasons"), SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_readiness_verdict(tmp_path, name, docs, reasons):
    (tmp_path / "mta-sts.yml").write_text(CONFIG)
    folder = write_reports(tmp_path / "reports", docs)
    result = run_cli("reports", folder, "--ready", "-c", tmp_path / "mta-sts.yml", "--until", UNTIL, "--json")
    [verdict] = json.loads(result.out)["readiness"]
    assert {r["code"] for r in verdict["reasons"]} == reasons
    assert (result.code, verdict["ready"]) == ((0, True) if not reasons else (1, False))
    assert verdict["window"] == {"start": "2026-11-07T00:00:00Z", "end": "2026-11-21T00:00:00Z"}
    text = run_cli("reports", folder, "--ready", "-c", tmp_path / "mta-sts.yml", "--until", UNTIL)
    assert text.code == result.code
    assert ("example.com: ready to enforce" if not reasons else "example.com: not ready to enforce") in text.out


def test_an_unreadable_report_keeps_the_verdict_from_ready(tmp_path):
    """A report that cannot be read (a sender's new format, a cut download)
    may be the one with the failures: ready only once every input is read."""
    (tmp_path / "mta-sts.yml").write_text(CONFIG)
    folder = write_reports(tmp_path / "reports", CLEAN)
    (folder / "microsoft-new-format.json").write_text('{"report-id": "m-9", "policies": "all fine"}')
    result = run_cli("reports", folder, "--ready", "-c", tmp_path / "mta-sts.yml", "--until", UNTIL, "--json")
    [verdict] = json.loads(result.out)["readiness"]
    assert (result.code, verdict["ready"], [r["code"] for r in verdict["reasons"]]) == (1, False, ["unreadable-inputs"])
    assert "1 input could not be read" in verdict["reasons"][0]["message"]


def test_a_failure_reason_names_the_host_the_cause_and_the_fix(tmp_path):
    (tmp_path / "mta-sts.yml").write_text(CONFIG)
    docs = [*CLEAN, report("google", IN_WINDOW, failures=(("certificate-host-mismatch", "mx1.example.com", 2),))]
    result = run_cli("reports", write_reports(tmp_path / "r", docs), "--ready", "-c", tmp_path / "mta-sts.yml", "--until", UNTIL)
    assert ("[mx-failures] 2 session(s) to mx1.example.com failed with certificate-host-mismatch: "
            "the MX host's certificate does not name the host senders connected to; fix: install a certificate naming the MX host") in result.out


def test_ready_in_text_leads_with_the_verdicts_before_every_domain_summary(tmp_path):
    """Other domains' summaries (a shared report address) do not bury the verdict."""
    (tmp_path / "mta-sts.yml").write_text(CONFIG)
    others = [report("google", IN_WINDOW, domain=f"other{n}.example") for n in range(5)]
    folder = write_reports(tmp_path / "r", [*CLEAN, *others])
    result = run_cli("reports", folder, "--ready", "-c", tmp_path / "mta-sts.yml", "--until", UNTIL)
    assert result.code == 0, result.output
    lines = result.out.splitlines()
    assert lines[1:3] == ["", "example.com: ready to enforce (2026-11-07 to 2026-11-21: 2 reports from 2 organisations, 25 sessions under the sts policy)"], lines[:4]
    assert result.out.index("example.com: ready to enforce") < result.out.index("example.com: 2 reports") < result.out.index("other0.example: 1 report")


def test_a_domain_no_report_names_is_said_in_every_format(tmp_path):
    folder = write_reports(tmp_path / "r", CLEAN)
    text = run_cli("reports", folder, "--domain", "nosuch.example", "--domain", "Bücher.example", "--domain", "example.com")
    assert text.code == 0, text.output
    assert text.out.splitlines()[1:3] == ["nosuch.example: no report read names this domain",
                                          "xn--bcher-kva.example: no report read names this domain"], text.out
    assert "example.com: 2 reports" in text.out
    document = json.loads(run_cli("reports", folder, "-d", "nosuch.example", "--json").out)
    assert (document["domains"], document["unreported_domains"]) == ([], ["nosuch.example"])
    assert json.loads(run_cli("reports", folder, "--json").out)["unreported_domains"] == []
    markdown = run_cli("reports", folder, "-d", "nosuch.example", "--format", "markdown")
    assert "\n- nosuch.example: no report read names this domain\n" in markdown.out, markdown.out
    # With --ready, the config's domain no report names is not ready.
    (tmp_path / "mta-sts.yml").write_text(CONFIG.replace("example.com", "nosuch.example"))
    ready = run_cli("reports", folder, "-d", "nosuch.example", "--ready", "-c", tmp_path / "mta-sts.yml", "--until", UNTIL)
    assert ready.code == 1 and "nosuch.example: no report read names this domain" in ready.out, ready.output
    assert "nosuch.example: not ready to enforce" in ready.out and "[no-reports]" in ready.out


def test_ready_in_markdown_leads_with_each_verdict_and_its_reasons(tmp_path):
    """The verdict and its reason codes are the readiness block's own lines,
    not text the report summary below them could hold."""
    (tmp_path / "mta-sts.yml").write_text(CONFIG)
    ready = ["--ready", "-c", tmp_path / "mta-sts.yml", "--until", UNTIL, "--format", "markdown"]
    failing = write_reports(tmp_path / "failing", [*CLEAN, report("google", IN_WINDOW, failures=(("certificate-expired", "mx1.example.com", 2),))])
    result = run_cli("reports", failing, *ready)
    assert result.code == 1, result.output
    assert "\n**example.com: not ready to enforce**\n- `mx-failures`: 2 session(s) to mx1.example.com failed with certificate-expired" in result.out
    assert result.out.index("**example.com: not ready to enforce**") < result.out.index("### example.com")
    clean = run_cli("reports", write_reports(tmp_path / "clean", CLEAN), *ready)
    assert clean.code == 0 and "\n**example.com: ready to enforce**\n" in clean.out and "- `" not in clean.out, clean.output


def test_the_thresholds_are_options(tmp_path):
    (tmp_path / "mta-sts.yml").write_text(CONFIG)
    folder = write_reports(tmp_path / "r", [report("google", IN_WINDOW, ok=3)])
    args = ["reports", folder, "--ready", "-c", tmp_path / "mta-sts.yml", "--until", UNTIL]
    assert run_cli(*args).code == 1
    assert run_cli(*args, "--min-organisations", "1", "--min-sessions", "3").code == 0
    assert run_cli(*args, "--min-organisations", "1", "--min-sessions", "3", "--window-days", "2").code == 1


MULTI = """\
defaults:
  policy:
    mode: testing   # every domain starts in testing
    mx: [mx1.example.com]
domains:
  - domain: example.com
  - domain: example.org
    policy:
      mode: 'testing'   # its own mode line
      mx: [mx1.example.org]
  - domain: example.net
"""


def test_ready_judges_each_domain_of_a_multi_domain_config(tmp_path):
    (tmp_path / "mta-sts.yml").write_text(MULTI)
    docs = [*CLEAN, report("google", IN_WINDOW, domain="example.org", failures=(("certificate-expired", "mx1.example.org", 1),))]
    folder = write_reports(tmp_path / "r", docs)
    result = run_cli("reports", folder, "--ready", "-c", tmp_path / "mta-sts.yml", "--until", UNTIL, "--json")
    verdicts = {v["domain"]: {r["code"] for r in v["reasons"]} for v in json.loads(result.out)["readiness"]}
    assert verdicts == {"example.com": set(), "example.org": {"few-organisations", "few-sessions", "mx-failures"}, "example.net": {"no-reports"}}
    assert result.code == 1
    only = run_cli("reports", folder, "--ready", "-c", tmp_path / "mta-sts.yml", "--until", UNTIL, "--domain", "example.com")
    assert only.code == 0 and "example.org" not in only.out


def test_ready_judges_the_named_domains_in_the_order_given_each_once(tmp_path):
    (tmp_path / "mta-sts.yml").write_text(MULTI)
    folder = write_reports(tmp_path / "r", CLEAN)
    ready = ["reports", folder, "--ready", "-c", tmp_path / "mta-sts.yml", "--until", UNTIL, "--json"]
    named = run_cli(*ready, "-d", "example.net", "-d", "Example.COM.", "-d", "example.net")
    assert [v["domain"] for v in json.loads(named.out)["readiness"]] == ["example.net", "example.com"], named.output
    assert [d["domain"] for d in json.loads(named.out)["domains"]] == ["example.com"]
    for bad, says in (("example.invalid", "--domain 'example.invalid': example.invalid is not in"),
                      ("mx1 example.org", "--domain 'mx1 example.org': 'mx1 example.org' contains a space")):
        refused = run_cli(*ready, "-d", "example.com", "-d", bad)
        assert (refused.code, refused.out) == (2, "") and says in refused.err and "Traceback" not in refused.err, refused.output


def test_a_domain_filter_that_names_no_domain_is_a_usage_error(tmp_path):
    """Without --ready nothing says which domains exist, but a name no report
    can hold is a typo to point out, not a filter that silently matches nothing."""
    folder = write_reports(tmp_path / "r", CLEAN)
    refused = run_cli("reports", folder, "--domain", "example..com")
    assert (refused.code, refused.out) == (2, "") and "'example..com' has an empty label" in refused.err, refused.output


UNTIL_OPTION = [
    # Reports up to 2026-11-15, and a failure on the 22nd, after the default --until.
    ("2026-11-20", {"start": "2026-11-07T00:00:00Z", "end": "2026-11-21T00:00:00Z"}, 2, set()),
    ("2026-11-22", {"start": "2026-11-09T00:00:00Z", "end": "2026-11-23T00:00:00Z"}, 3, {"mx-failures"}),
    ("2026-11-22T00:00:00Z", {"start": "2026-11-08T00:00:00Z", "end": "2026-11-22T00:00:00Z"}, 2, set()),
    # The window ends before the Google report of the 15th.
    ("2026-11-14", {"start": "2026-11-01T00:00:00Z", "end": "2026-11-15T00:00:00Z"}, 1, {"few-organisations", "few-sessions"}),
    ("2026-12-31", {"start": "2026-12-18T00:00:00Z", "end": "2027-01-01T00:00:00Z"}, 0, {"no-reports"}),
]


@pytest.mark.parametrize(("until", "window", "reports", "reasons"), UNTIL_OPTION, ids=[u[0] for u in UNTIL_OPTION])
def test_until_ends_the_readiness_window(tmp_path, until, window, reports, reasons):
    """--until is where the --ready window ends: reports after it do not
    count, however they failed, and the window reaches back from it."""
    (tmp_path / "mta-sts.yml").write_text(CONFIG)
    docs = [*CLEAN, report("google", dt.date(2026, 11, 22), failures=(("certificate-expired", "mx1.example.com", 3),))]
    result = run_cli("reports", write_reports(tmp_path / "r", docs), "--ready", "-c", tmp_path / "mta-sts.yml", "--until", until, "--json")
    [verdict] = json.loads(result.out)["readiness"]
    assert (verdict["window"], verdict["reports"], {r["code"] for r in verdict["reasons"]}) == (window, reports, reasons)
    assert result.code == (1 if reasons else 0)


SEVERAL = """\
defaults:
  policy:
    mode: testing
    mx: [mx1.example.com, "*.mail.example.com"]
domains:
  - domain: example.com
  - domain: example.org
    policy:
      mx: [mx1.example.org]
  - domain: example.net
  - domain: example.edu
"""


def covering(*docs: dict) -> dict:
    """The first report with the policies of all of ``docs``: one sender's
    report on several domains it sent mail to."""
    return dict(docs[0], policies=[policy for doc in docs for policy in doc["policies"]])


def only(domain: str, docs: list[dict]) -> list[dict]:
    """``docs`` cut down to ``domain``'s policies, as if no other domain had been reported."""
    cut = [dict(doc, policies=[p for p in doc["policies"] if p["policy"]["policy-domain"] == domain]) for doc in docs]
    return [doc for doc in cut if doc["policies"]]


def test_each_domain_is_judged_by_its_own_policies_among_interleaved_reports(tmp_path):
    """Reports of four domains interleaved, some covering two domains at once:
    each verdict equals the one the same reports give with every other
    domain's policies taken out."""
    (tmp_path / "mta-sts.yml").write_text(SEVERAL)
    late = dt.date(2026, 11, 25)  # after --until
    docs = [
        covering(report("google", IN_WINDOW), report("google", IN_WINDOW, domain="example.org", failures=(("certificate-expired", "mx1.example.org", 2),))),
        report("google", IN_WINDOW, ok=2, domain="example.edu"),
        report("microsoft", dt.date(2026, 11, 1), domain="example.net"),
        covering(report("microsoft", IN_WINDOW - dt.timedelta(days=3), ok=10),
                 report("microsoft", IN_WINDOW, domain="example.org", failures=(("validation-failure", "eu.mail.example.com", 3),))),
        report("microsoft", late, domain="example.net"),
        failed_without_details(report("microsoft", IN_WINDOW, ok=1, domain="example.edu"), 4),
        report("google", late, failures=(("certificate-not-trusted", "mx1.example.com", 5),)),
        report("google", IN_WINDOW, ok=30, domain="example.org"),
    ]
    ready = ["reports", "--ready", "-c", tmp_path / "mta-sts.yml", "--until", UNTIL, "--json"]
    together = run_cli(*ready[:1], write_reports(tmp_path / "all", docs), *ready[1:])
    verdicts = {v["domain"]: v for v in json.loads(together.out)["readiness"]}
    assert {domain: {r["code"] for r in v["reasons"]} for domain, v in verdicts.items()} == {
        "example.com": set(),
        # mx1.example.com's wildcard sibling is listed for example.com, not for example.org.
        "example.org": {"mx-failures", "mx-not-in-policy"},
        "example.net": {"no-reports"},
        "example.edu": {"few-sessions", "unexplained-failures"},
    }
    assert [verdicts[d]["reports"] for d in ("example.com", "example.org", "example.net", "example.edu")] == [2, 3, 0, 2]
    for domain, verdict in verdicts.items():
        alone = run_cli(*ready[:1], write_reports(tmp_path / domain, only(domain, docs)), *ready[1:], "--domain", domain)
        assert json.loads(alone.out)["readiness"] == [verdict], domain


@pytest.mark.parametrize("args", [["--window-days", "1000000000"], ["--window-days", "1000000"], ["--until", "0001-01-05"]])
def test_a_window_before_year_1_is_a_usage_error(tmp_path, args):
    (tmp_path / "mta-sts.yml").write_text(CONFIG)
    result = run_cli("reports", FIXTURES, "--ready", "-c", tmp_path / "mta-sts.yml", *args)
    assert result.code == 2 and "before year 1" in result.err and "Traceback" not in result.output, result.output
    promoted = run_cli("promote", "-c", tmp_path / "mta-sts.yml", FIXTURES, "--window-days", "1000000000")
    assert promoted.code == 2 and "before year 1" in promoted.err and (tmp_path / "mta-sts.yml").read_text() == CONFIG


def test_ready_without_a_config_is_a_config_error(tmp_path):
    result = run_cli("reports", FIXTURES, "--ready", "-c", tmp_path / "missing.yml")
    assert result.code == 2 and "config file not found" in result.err


# promote

RECENT = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=2)


def _promote(tmp_path: Path, config: str, *args) -> tuple[object, Path]:
    path = tmp_path / "mta-sts.yml"
    path.write_bytes(config.encode())
    return run_cli("promote", "-c", path, *map(str, args)), path


def only_mode_line_changed(before: str, after: str, lines: set[int]) -> None:
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    assert len(old) == len(new)
    changed = {i + 1 for i, (a, b) in enumerate(zip(old, new)) if a != b}
    assert changed == lines
    for number in lines:
        assert new[number - 1] == old[number - 1].replace("testing", "enforce", 1)


@pytest.mark.parametrize("line_end", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_promote_changes_only_the_mode_line_when_reports_say_ready(tmp_path, line_end):
    config = CONFIG.replace("\n", line_end)
    folder = write_reports(tmp_path / "r", [report("google", RECENT), report("microsoft", RECENT, ok=10)])
    os.chmod(tmp_path, 0o755)
    result, path = _promote(tmp_path, config, folder)
    assert result.code == 0, result.output
    after = path.read_bytes().decode()
    only_mode_line_changed(config, after, {4})
    assert "  mode: enforce       # enforce once two weeks of reports are clean" + line_end in after
    assert "example.com: ready to enforce" in result.out
    assert "mta-sts-pages build -c" in result.out and "_mta-sts.example.com. TXT \"v=STSv1; id=" in result.out
    new_id = run_cli("records", "-c", path, "--format", "json").out
    assert result.out.split('id=')[1].split('"')[0] in new_id
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".mta-sts-promote-")]


def test_promote_refuses_when_reports_say_not_ready_and_force_overrides_loudly(tmp_path):
    failing = [report("google", RECENT), report("microsoft", RECENT, failures=(("certificate-expired", "mx1.example.com", 2),))]
    folder = write_reports(tmp_path / "r", failing)
    result, path = _promote(tmp_path, CONFIG, folder)
    assert result.code == 1 and "not ready to enforce" in result.out and "[mx-failures]" in result.out
    assert "promote: not changed" in result.err
    assert path.read_text() == CONFIG
    forced = run_cli("promote", "-c", path, folder, "--force")
    assert forced.code == 0 and "WARNING: --force: promoting although the TLS reports say not ready" in forced.err
    only_mode_line_changed(CONFIG, path.read_text(), {4})


@pytest.mark.parametrize(("id_line", "warned"), [("  id: 2026\n", True), ("  id: auto\n", False), ("", False)], ids=["fixed", "auto", "no-id"])
def test_promote_warns_that_a_fixed_policy_id_must_change_too(tmp_path, id_line, warned):
    """Senders refetch the policy only when the _mta-sts id changes: a fixed
    id left as it is keeps the cached testing policy until max_age runs out."""
    config = CONFIG.replace("  max_age: 1w\n", f"  max_age: 1w\n{id_line}")
    result, path = _promote(tmp_path, config, write_reports(tmp_path / "r", [report("google", RECENT), report("microsoft", RECENT, ok=10)]))
    assert result.code == 0, result.output
    only_mode_line_changed(config, path.read_text(), {4})
    warning = "warning: policy.id of example.com is fixed (2026): change it too, or senders keep the cached testing policy"
    assert (warning in result.out) is warned, result.output
    assert ("policy.id" in result.output) is warned, result.output


def _days_ago(days: int) -> dt.date:
    return dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days)


_TWO_SENDERS = [report("google", RECENT, ok=15), report("microsoft", RECENT, ok=10)]  # 25 sessions
_ONE_SENDER = [report("google", RECENT, ok=3)]
_TEN_DAYS_AGO = [report("google", _days_ago(10)), report("microsoft", _days_ago(10), ok=10)]
_TWENTY_DAYS_AGO = [report("google", _days_ago(20)), report("microsoft", _days_ago(20), ok=10)]
PROMOTE_OPTIONS = [
    ("defaults", _TWO_SENDERS, [], set()),
    ("more-organisations", _TWO_SENDERS, ["--min-organisations", "3"], {"few-organisations"}),
    ("more-sessions", _TWO_SENDERS, ["--min-sessions", "26"], {"few-sessions"}),
    ("just-enough-sessions", _TWO_SENDERS, ["--min-sessions", "25"], set()),
    ("one-sender-by-default", _ONE_SENDER, [], {"few-organisations", "few-sessions"}),
    ("one-sender-allowed", _ONE_SENDER, ["--min-organisations", "1", "--min-sessions", "3"], set()),
    ("in-the-default-window", _TEN_DAYS_AGO, [], set()),
    ("a-shorter-window", _TEN_DAYS_AGO, ["--window-days", "7"], {"no-reports"}),
    ("before-the-default-window", _TWENTY_DAYS_AGO, [], {"no-reports"}),
    ("a-longer-window", _TWENTY_DAYS_AGO, ["--window-days", "30"], set()),
    ("a-window-ending-earlier", _TWENTY_DAYS_AGO, ["--until", _days_ago(15).isoformat()], set()),
    ("a-window-ending-before-the-reports", _TEN_DAYS_AGO, ["--until", _days_ago(12).isoformat()], {"no-reports"}),
]


@pytest.mark.parametrize(("name", "docs", "args", "reasons"), PROMOTE_OPTIONS, ids=[o[0] for o in PROMOTE_OPTIONS])
def test_promote_judges_by_its_window_and_thresholds(tmp_path, name, docs, args, reasons):
    """--window-days, --min-organisations and --min-sessions reach promote's
    verdict: each turns reports that are ready under the defaults into
    reports that are not, or the other way round."""
    result, path = _promote(tmp_path, CONFIG, write_reports(tmp_path / "r", docs), *args)
    found = {code for code in re.findall(r"\[([a-z-]+)\]", result.out)}
    assert found == reasons, result.output
    if reasons:
        assert result.code == 1 and "example.com: not ready to enforce" in result.out and path.read_text() == CONFIG, result.output
    else:
        assert result.code == 0 and "example.com: ready to enforce" in result.out, result.output
        only_mode_line_changed(CONFIG, path.read_text(), {4})


def test_promote_without_reports_needs_force(tmp_path):
    result, path = _promote(tmp_path, CONFIG)
    assert result.code == 2 and "give the TLS reports" in result.err and path.read_text() == CONFIG
    forced = run_cli("promote", "-c", path, "--force")
    assert forced.code == 0 and "WARNING: --force: promoting without reading any TLS report" in forced.err
    only_mode_line_changed(CONFIG, path.read_text(), {4})


@pytest.mark.parametrize(
    ("config", "args", "message"),
    [
        (CONFIG.replace("mode: testing", "mode: enforce"), [], "example.com is in mode enforce, not testing"),
        (CONFIG.replace("  mode: testing       # enforce once two weeks of reports are clean\n", ""), [], "is in testing by default (no mode: line)"),
        (MULTI, [], "has 3 domains; name the one(s) to promote with --domain"),
        (MULTI, ["--domain", "example.com"], "defaults.policy.mode also sets the mode of example.net"),
        (MULTI, ["--domain", "example.invalid"], "example.invalid is not in"),
    ],
    ids=["already-enforce", "no-mode-line", "multi-without-domain", "shared-default", "unknown-domain"],
)
def test_promote_refuses_what_it_cannot_do_cleanly(tmp_path, config, args, message):
    result, path = _promote(tmp_path, config, *args, "--force")
    assert result.code == 2 and message in result.err, result.output
    assert path.read_text() == config


def test_promote_in_a_multi_domain_config(tmp_path):
    result, path = _promote(tmp_path, MULTI, "--domain", "example.org", "--force")
    assert result.code == 0, result.output
    only_mode_line_changed(MULTI, path.read_text(), {9})
    assert "      mode: 'enforce'   # its own mode line\n" in path.read_text()
    both = run_cli("promote", "-c", path, "-d", "example.com", "-d", "example.net", "--force")
    assert both.code == 0, both.output
    only_mode_line_changed(MULTI, path.read_text(), {3, 9})


def test_promote_keeps_the_file_mode_and_writes_through_a_link(tmp_path):
    real = tmp_path / "configs" / "real.yml"
    real.parent.mkdir()
    real.write_text(CONFIG)
    real.chmod(0o640)
    link = tmp_path / "mta-sts.yml"
    link.symlink_to(real)
    result = run_cli("promote", "-c", link, "--force")
    assert result.code == 0, result.output
    assert link.is_symlink() and (real.stat().st_mode & 0o777) == 0o640
    only_mode_line_changed(CONFIG, real.read_text(), {4})


def test_promote_that_cannot_write_beside_the_config_says_so_and_changes_nothing(tmp_path):
    """The new config is written to a temporary file beside it first; when
    that fails (a folder the user may not write to; here, as tests run as
    root, a path that leaves no room under PATH_MAX for the temporary name)
    the config stays as it was, and the error is a message, not a traceback."""
    folder = tmp_path  # 4,075 bytes: "/mta-sts.yml" fits under 4,096, "/.mta-sts-promote-XXXXXXXX" does not
    while len(str(folder)) < 4075:
        folder = folder / ("d" * min(200, 4075 - len(str(folder)) - 1))
    folder.mkdir(parents=True)
    result, path = _promote(folder, CONFIG, "--force")
    assert result.code == 2 and "cannot write it" in result.err and "it is unchanged" in result.err, result.output
    assert "Traceback" not in result.output and path.read_text() == CONFIG
    assert [p.name for p in folder.iterdir()] == ["mta-sts.yml"]


@pytest.mark.parametrize(
    "config",
    [
        "domain: example.com\npolicy: {mode: testing, mx: [mx1.example.com], max_age: 1w}  # flow style\n",
        "domain: example.com\npolicy:\n  mx: [mx1.example.com]\n  mode: \"testing\"\n",
        "# mode: testing is what we run\ndomain: example.com\npolicy:\n  mx:\n  - mx1.example.com\n  mode:    testing    # two spaces\n",
    ],
    ids=["flow", "double-quoted-last", "comment-mentions-testing"],
)
def test_promote_edits_the_mode_value_whatever_the_layout(tmp_path, config):
    result, path = _promote(tmp_path, config, "--force")
    assert result.code == 0, result.output
    after = path.read_text()
    line = next(i for i, text in enumerate(config.splitlines(), 1) if text.lstrip().startswith(("policy: {", "mode:")))
    only_mode_line_changed(config, after, {line})


@pytest.mark.parametrize(
    "config",
    [
        "domain: example.com\npolicy:\n  mode: testing\t# a tab before the comment\n  mx: [mx1.example.com]\n",
        "domain: example.com\npolicy:\n  mode: |-\n    testing\n  mx: [mx1.example.com]\n",
        "domain: example.com\npolicy:\n  mode: >-\n    testing\n  mx: [mx1.example.com]\n",
        "domain: example.com\npolicy:\n  mode: !!str testing  # tagged\n  mx: [mx1.example.com]\n",
        "domain: example.com\npolicy:\n  mode: &mode testing\n  mx: [mx1.example.com]\n",
        "\ufeffdomain: example.com\r\npolicy:\r\n  mode: \"testing\" # BOM and CRLF\r\n  mx: [mx1.example.com]\r\n",
        "domain: example.com\npolicy:\n  mx: [mx1.example.com]\n  mode:\n    testing\n",
    ],
    ids=["tab-before-comment", "literal-block", "folded-block", "tag", "anchor", "bom-crlf", "value-on-the-next-line"],
)
def test_promote_changes_only_the_mode_value_of_any_yaml_the_config_reader_takes(tmp_path, config):
    """Whatever YAML `validate` accepts, only the word changes: tags, anchors
    and block indicators stay, and nothing is written unless it parses."""
    assert run_cli("validate", "-c", _write(tmp_path / "check.yml", config)).code == 0
    result, path = _promote(tmp_path, config, "--force")
    assert result.code == 0, result.output
    assert path.read_bytes().decode() == config.replace("testing", "enforce")


def test_promote_reads_and_composes_the_config_once(tmp_path, monkeypatch):
    """The config judged is the text edited: read from disk once, composed
    once, and the edited text composed once more to check it."""
    import builtins
    import io

    import yaml

    path = _write(tmp_path / "mta-sts.yml", CONFIG)
    opened, composed = [], []
    real_open, real_compose = io.open, yaml.compose

    def counting_open(file, *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and os.fspath(file) == os.fspath(path):
            opened.append(args[0] if args else kwargs.get("mode", "r"))
        return real_open(file, *args, **kwargs)

    def counting_compose(stream, *args, **kwargs):
        composed.append(stream)
        return real_compose(stream, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", counting_open)
    monkeypatch.setattr(io, "open", counting_open)
    monkeypatch.setattr(yaml, "compose", counting_compose)
    result = run_cli("promote", "-c", path, "--force")
    assert result.code == 0, result.output
    assert opened == ["rb"]
    assert composed == [CONFIG, CONFIG.replace("mode: testing", "mode: enforce")]


@pytest.mark.parametrize(
    ("config", "message", "line"),
    [
        (CONFIG + "pages:\n  deploy: branch\n  colour: blue\n", "pages.colour: unknown key", 11),
        (CONFIG.replace("max_age: 1w", "max_age: 2y"), "policy.max_age:", 8),
        (CONFIG + "domain: example.org\n", "domain: duplicate key", 9),
    ],
    ids=["unknown-key", "bad-value", "duplicate-key"],
)
def test_promote_of_an_invalid_config_names_the_field_the_file_and_the_line_and_changes_nothing(tmp_path, config, message, line):
    result, path = _promote(tmp_path, config, "--force")
    assert result.code == 2 and message in result.err and f"({path}:{line})" in result.err, result.output
    assert "Traceback" not in result.output and path.read_text() == config


def _write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode())
    return path


@pytest.mark.parametrize("command", ["reports", "promote"])
def test_the_cli_defaults_are_the_readiness_defaults(command):
    """cli.py spells them out (importing generator.reports there would load it
    for every command), so the two are held equal here."""
    import inspect

    from generator import cli
    from generator.reports.command import DEFAULT_PASSWORD_ENV
    from generator.reports.ready import Criteria

    parameters = inspect.signature(getattr(cli, command)).parameters
    defaults = {name: parameters[name].default for name in ("window_days", "min_organisations", "min_sessions", "imap_password_env")}
    assert defaults == {"window_days": Criteria().days, "min_organisations": Criteria().min_organisations,
                        "min_sessions": Criteria().min_sessions, "imap_password_env": DEFAULT_PASSWORD_ENV}
