"""The monitor workflow `build` writes for `monitor:`, run step by step as a
runner runs it on its schedule, against NSD and a TLS server, with a
recording stand-in for `gh` on PATH: one issue per domain, opened while the
domain needs action, commented when the findings change, closed when it is
healthy again; never a duplicate."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from generator.check import codes
from generator.check.domain import DomainReport
from generator.config import loads
from generator.findings import error, info, warning
from generator.check.options import Target, make_options
from generator.monitor import Gh, GhError, body, fingerprint, marker, monitor, needs_action, open_issues, sync, title
from generator.records import to_bind
from generator.site import MONITOR_PATH
from tests.support.check_run import MX, TLSRPT
from tests.support.cli import run_cli
from tests.support.dns_server import minimal_zone
from tests.support.github import (
    README_MONITOR_WORKFLOW,
    JobRunner,
    action_checkout,
    fresh_python,
    gh_on_path,
    project_wheel,
    readme_workflow,
    run_job,
)
from tests.support.tls_server import Route, TlsServer

pytestmark = pytest.mark.timeout(240)

DOMAIN = "watch.test"
CONFIG = f"""\
domain: {DOMAIN}
policy:
  mode: testing
  mx: [mx1.{DOMAIN}]
tlsrpt:
  rua: ["mailto:tls@example.net"]
pages:
  owner: example-org
monitor:
  schedule: "5 4 * * 1-5"
  label: "mta-sts: health"
"""
BUILT = loads(CONFIG).domains[0]


@pytest.fixture(scope="module")
def tools(tmp_path_factory):
    base = tmp_path_factory.mktemp("runner")
    return action_checkout(base / "action"), project_wheel(base / "wheels"), fresh_python(base / "python")


@dataclass
class Scheduler:
    """Runs a monitor workflow's job as the schedule would, day after day,
    with the policy host answering what each day's test asks."""

    https: TlsServer
    runner: JobRunner
    state: Path
    temp: Path
    days: int = 0

    def run(self, workflow: Path, repository: Path, route: Route) -> tuple[dict, list[list[str]]]:
        """The run's result: gh's state afterwards, and the gh commands it ran."""
        self.https.route(f"mta-sts.{DOMAIN}", route)
        self.days += 1
        before = len(json.loads(self.state.read_text())["calls"]) if self.state.exists() else 0
        result = run_job(workflow, "monitor", repository, self.runner, self.temp / f"run-{self.days}")
        assert result.returncode == 0, result.log
        assert f"{DOMAIN}" in result.summary and "## MTA-STS check" in result.summary
        shutil.rmtree(self.temp / f"run-{self.days}")
        recorded = json.loads(self.state.read_text())
        calls = recorded["calls"][before:]
        assert all(c["repo"] == "example-org/mta-sts-watch" for c in calls)
        return recorded, [c["args"][:2] for c in calls]


@pytest.fixture
def scheduler(tmp_path, tools, dns_server_factory, tls_server_factory) -> Scheduler:
    action_dir, wheels, python_bin = tools
    zone = minimal_zone(DOMAIN, to_bind([BUILT]) + TLSRPT + "\n" + MX + "\n")
    nsd = dns_server_factory({DOMAIN: zone, "github.io": minimal_zone("github.io", "example-org A 127.0.0.1")})
    https = tls_server_factory()
    state = tmp_path / "gh-state.json"
    runner = JobRunner(
        python_bin=python_bin, action_dir=action_dir, wheels=wheels, path=[gh_on_path(tmp_path / "bin")],
        env={
            "FAKE_GH_STATE": str(state),
            "MTA_STS_PAGES_NAMESERVER": nsd.address,
            "MTA_STS_PAGES_CA_FILE": str(https.ca_pem_path),
            "MTA_STS_PAGES_CONNECT_TO": f"mta-sts.{DOMAIN}:443:example-org.github.io:{https.port}",
        },
        context={"github.token": "token-of-the-run", "github.repository": "example-org/mta-sts-watch"},
    )
    return Scheduler(https, runner, state, tmp_path)


NOT_FOUND = Route(status=404, content_type="text/html", body=b"<h1>404</h1>")


def test_one_issue_opened_kept_updated_and_closed(tmp_path, scheduler):
    """Way 1: the workflow `build` wrote into the repository that holds the site."""
    config = tmp_path / "mta-sts.yml"
    config.write_text(CONFIG)
    repo = tmp_path / "repo"
    assert run_cli("build", "-c", config, "-o", repo).code == 0
    workflow = repo / MONITOR_PATH
    spec = yaml.safe_load(workflow.read_text())
    assert spec[True] == {"schedule": [{"cron": "5 4 * * 1-5"}], "workflow_dispatch": None}
    assert spec["permissions"] == {}
    assert spec["jobs"]["monitor"]["permissions"] == {"contents": "read", "issues": "write"}

    # Broken: the policy answers 404. One issue, labelled, with the report.
    recorded, calls = scheduler.run(workflow, repo, NOT_FOUND)
    assert calls == [["issue", "list"], ["label", "list"], ["label", "create"], ["issue", "create"]]
    [issue] = recorded["issues"]
    assert issue["title"] == f"MTA-STS: {DOMAIN} needs attention"
    assert issue["labels"] == ["mta-sts: health"] and issue["state"] == "open"
    assert "`policy-not-found`" in issue["body"] and f"<!-- mta-sts-pages monitor: domain={DOMAIN} fingerprint=" in issue["body"]

    # Still broken the next day: no duplicate, no comment.
    recorded, calls = scheduler.run(workflow, repo, NOT_FOUND)
    assert calls == [["issue", "list"]]
    assert len(recorded["issues"]) == 1 and recorded["issues"][0]["comments"] == []

    # Broken another way (an old policy is served): a comment, and the body follows.
    stale = BUILT.policy_bytes.replace(b"mode: testing", b"mode: enforce")
    recorded, calls = scheduler.run(workflow, repo, Route(body=stale))
    assert calls == [["issue", "list"], ["issue", "comment"], ["issue", "edit"]]
    [issue] = recorded["issues"]
    assert len(issue["comments"]) == 1 and "`policy-differs`" in issue["comments"][0]
    assert "`policy-differs`" in issue["body"] and "`policy-not-found`" not in issue["body"]

    # Fixed: the issue is closed, with a last comment.
    recorded, calls = scheduler.run(workflow, repo, Route(body=BUILT.policy_bytes))
    assert calls == [["issue", "list"], ["issue", "comment"], ["issue", "close"]]
    [issue] = recorded["issues"]
    assert issue["state"] == "closed" and issue["comments"][-1].startswith("Healthy again.")

    # Healthy and no issue open: gh is only asked.
    recorded, calls = scheduler.run(workflow, repo, Route(body=BUILT.policy_bytes))
    assert calls == [["issue", "list"]]
    assert len(recorded["issues"]) == 1
    assert scheduler.https.errors == []


def test_the_readme_workflow_for_way_2_uses_the_action(tmp_path, scheduler):
    """Way 2: the repository holds mta-sts.yml; the action's monitor command reads its monitor: section."""
    repo = tmp_path / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True)
    (repo / "mta-sts.yml").write_text(CONFIG)
    workflow = repo / ".github" / "workflows" / "mta-sts-monitor.yml"
    workflow.write_text(readme_workflow(README_MONITOR_WORKFLOW))

    recorded, calls = scheduler.run(workflow, repo, NOT_FOUND)
    assert calls == [["issue", "list"], ["label", "list"], ["label", "create"], ["issue", "create"]]
    [issue] = recorded["issues"]
    assert issue["labels"] == ["mta-sts: health"]  # from the config's monitor: section
    recorded, calls = scheduler.run(workflow, repo, NOT_FOUND)
    assert calls == [["issue", "list"]]
    recorded, calls = scheduler.run(workflow, repo, Route(body=BUILT.policy_bytes))
    assert calls == [["issue", "list"], ["issue", "comment"], ["issue", "close"]]
    assert [i["state"] for i in recorded["issues"]] == ["closed"]


def test_fingerprint_ignores_counts_that_change_every_day():
    expiring = [warning(codes.POLICY_CERT_EXPIRING, "the policy host mta-sts.a.test's certificate expires in 12 days")]
    tomorrow = [warning(codes.POLICY_CERT_EXPIRING, "the policy host mta-sts.a.test's certificate expires in 11 days")]
    other = [error(codes.POLICY_NOT_FOUND, "https://mta-sts.a.test/.well-known/mta-sts.txt answers 404 Not Found")]
    assert fingerprint(expiring) == fingerprint(tomorrow) != fingerprint(other)
    assert fingerprint(expiring + other) == fingerprint(other + expiring)
    assert fingerprint([]) == "none"


def test_fingerprint_holds_when_the_server_rotates_an_rrset():
    """Name servers rotate the records of a set from one answer to the next;
    the same two _mta-sts records must not comment on the issue every day."""
    from generator.check.dns import Answer, Status, sts_findings

    one, two = (b"v=STSv1; id=a1",), (b"v=STSv1; id=b2",)
    found = [sts_findings(Answer(Status.FOUND, "_mta-sts.a.test", records, queried="_mta-sts.a.test"), "a.test")[0]
             for records in ((one, two), (two, one))]
    assert fingerprint(found[0]) == fingerprint(found[1])


@pytest.mark.parametrize(
    ("finding", "tlsrpt", "acts"),
    [
        pytest.param(error(codes.POLICY_NOT_FOUND, "404"), None, True, id="error"),
        pytest.param(warning(codes.POLICY_CERT_EXPIRING, "expires"), None, True, id="certificate-expiring"),
        pytest.param(warning(codes.MX_NOT_COVERED, "not covered"), None, True, id="mx-not-covered"),
        pytest.param(warning(codes.TLSRPT_RECORD_MISSING, "no record"), ("mailto:a@b.test",), True, id="tlsrpt-configured-but-missing"),
        pytest.param(warning(codes.TLSRPT_RECORD_MISSING, "no record"), None, False, id="tlsrpt-not-wanted"),
        pytest.param(info(codes.SMTP_NOT_CHECKED, "not checked"), None, False, id="note"),
    ],
)
def test_which_findings_need_action(finding, tlsrpt, acts):
    config = loads(CONFIG).domains[0]._replace(tlsrpt_rua=tlsrpt)
    assert needs_action(finding, config) is acts


def test_gh_failures_are_errors_that_name_gh(tmp_path, monkeypatch):
    report = DomainReport(DOMAIN, [error(codes.POLICY_NOT_FOUND, "404")])
    monkeypatch.setenv("FAKE_GH_STATE", str(tmp_path / "state.json"))
    monkeypatch.delenv("GH_TOKEN", raising=False)
    gh = Gh(str(gh_on_path(tmp_path / "bin") / "gh"))
    with pytest.raises(GhError, match="gh label list failed .exit 4.: To use GitHub CLI in a GitHub Actions workflow, set the GH_TOKEN"):
        sync(report, None, None, gh, "mta-sts")
    with pytest.raises(GhError, match="no-such-gh not found: the monitor needs the GitHub CLI"):
        sync(report, None, None, Gh("no-such-gh"), "mta-sts")


@pytest.mark.timeout(30)
def test_each_domain_of_a_config_keeps_its_issue_under_its_own_label(tmp_path, monkeypatch):
    config = loads(
        "defaults:\n  policy: {mx: [mx.a.test]}\n  monitor: {label: ops}\n"
        "domains:\n  - domain: a.test\n  - domain: b.test\n    monitor: {label: mail-team}\n  - domain: c.test\n"
    )
    assert config.domains[1].monitor.label == "mail-team" and config.domains[2].monitor.label == "ops"
    monkeypatch.setenv("FAKE_GH_STATE", str(tmp_path / "state.json"))
    monkeypatch.setenv("GH_TOKEN", "token")
    monkeypatch.setenv("GH_REPO", "example-org/policies")
    # Nothing listens on port 1: every lookup fails at once, so every domain needs action.
    options = make_options(nameservers=["127.0.0.1:1"], ca_file=None, connect_to=[], timeout=5, concurrency=3, smtp=False)
    gh = Gh(str(gh_on_path(tmp_path / "bin") / "gh"))

    synced = monitor([Target(d.domain, d) for d in config.domains], options, gh)

    assert [(s.report.domain, s.action, s.number) for s in synced] == [("a.test", "opened", 1), ("b.test", "opened", 2), ("c.test", "opened", 3)]
    state = json.loads((tmp_path / "state.json").read_text())
    assert [(i["title"], i["labels"]) for i in state["issues"]] == [
        ("MTA-STS: a.test needs attention", ["ops"]), ("MTA-STS: b.test needs attention", ["mail-team"]), ("MTA-STS: c.test needs attention", ["ops"]),
    ]
    assert [c["args"][:4] for c in state["calls"] if c["args"][:2] == ["issue", "list"]] == [
        ["issue", "list", "--label", "ops"], ["issue", "list", "--label", "mail-team"],
    ]
    # The next run finds all three and opens nothing; a --label given on the command line wins.
    again = monitor([Target(d.domain, d) for d in config.domains], options, gh)
    assert [s.action for s in again] == ["unchanged"] * 3
    assert [s.action for s in monitor([Target(config.domains[0].domain, config.domains[0])], options, gh, label="other")] == ["opened"]


@pytest.mark.timeout(30)
def test_dry_run_prints_the_report_and_the_issue_actions_without_gh(tmp_path, monkeypatch):
    """Locally, without gh logged in (or installed): the report, and what a
    run would do about each domain's issue. The config is ./mta-sts.yml by
    default, as for build."""
    (tmp_path / "mta-sts.yml").write_text(CONFIG)
    monkeypatch.setenv("PATH", str(tmp_path / "no-gh-here"))
    # Nothing listens on port 1: every lookup fails at once, so the domain needs action.
    result = run_cli("monitor", "--dry-run", "--nameserver", "127.0.0.1:1", "--timeout", "5", "--summary", tmp_path / "summary.md", cwd=tmp_path)
    assert result.code == 0, result.output
    assert f"{DOMAIN}: FAILED (1 error" in result.out and "[dns-lookup-failed]" in result.out
    assert (f"Without --dry-run:\n{DOMAIN}: 1 finding needs action; would open an issue labelled 'mta-sts: health' "
            f"titled 'MTA-STS: {DOMAIN} needs attention', or comment on the open one if its findings differ") in result.out
    assert "## MTA-STS check" in (tmp_path / "summary.md").read_text()


@pytest.mark.timeout(30)
def test_dry_run_of_a_healthy_domain_would_close_its_issue(tmp_path, monkeypatch, dns_server_factory, tls_server_factory):
    from tests.support.check_run import HEALTHY, policy_bytes

    domain = "fine.test"
    nsd = dns_server_factory({domain: minimal_zone(domain, HEALTHY)})
    https = tls_server_factory()
    https.route(f"mta-sts.{domain}", Route(body=policy_bytes(domain)))
    policy = tmp_path / "mta-sts.txt"
    policy.write_bytes(policy_bytes(domain))
    monkeypatch.setenv("PATH", str(tmp_path / "no-gh-here"))
    result = run_cli("monitor", domain, "--policy", policy, "--id", "abc123", "--dry-run", "--nameserver", nsd.address,
                     "--ca-file", https.ca_pem_path, "--connect-to", f":443:127.0.0.1:{https.port}", "--timeout", "5")
    assert result.code == 0, result.output
    assert f"{domain}: passed" in result.out
    assert f"Without --dry-run:\n{domain}: healthy; would close its open issue labelled 'mta-sts', if there is one\n" in result.out


def test_a_huge_report_is_cut_to_what_github_accepts():
    report = DomainReport(DOMAIN, [error(codes.POLICY_REDIRECT, f"redirect {i} to https://x.test/" + "a" * 2000) for i in range(100)])
    text = body(report, fingerprint(report.findings))
    assert len(text) < 65536
    assert text.startswith(f"<!-- mta-sts-pages monitor: domain={DOMAIN} fingerprint=")
    assert "(The report is cut here; the run's job summary has all of it.)" in text


def _seed(state: Path, issues: list[tuple[str, str]], label: str = "ops") -> None:
    """A repository that already holds these open issues: (domain, fingerprint) each."""
    state.write_text(json.dumps({"labels": [label], "calls": [], "issues": [
        {"number": n, "title": title(domain), "body": marker(domain, print_) + "\nreport", "labels": [label], "state": "open", "comments": []}
        for n, (domain, print_) in enumerate(issues, start=1)
    ]}))


@pytest.mark.timeout(30)
def test_a_duplicate_issue_is_closed_pointing_to_the_one_kept(tmp_path, monkeypatch):
    """Two open issues for one domain (two runs racing, one copied by hand):
    the oldest is kept, the other closed with a comment naming it, once."""
    config = loads("domain: a.test\npolicy: {mx: [mx.a.test]}\nmonitor: {label: ops}\n")
    state = tmp_path / "state.json"
    _seed(state, [("a.test", "0" * 16), ("a.test", "0" * 16)])
    monkeypatch.setenv("FAKE_GH_STATE", str(state))
    monkeypatch.setenv("GH_TOKEN", "token")
    monkeypatch.setenv("GH_REPO", "example-org/policies")
    options = make_options(nameservers=["127.0.0.1:1"], ca_file=None, connect_to=[], timeout=5, concurrency=1, smtp=False)
    gh = Gh(str(gh_on_path(tmp_path / "bin") / "gh"))
    targets = [Target(d.domain, d) for d in config.domains]

    [synced] = monitor(targets, options, gh)

    assert (synced.action, synced.number, synced.duplicates) == ("commented", 1, (2,))
    assert synced.line().endswith("; closed duplicate #2")
    issues = json.loads(state.read_text())["issues"]
    assert [i["state"] for i in issues] == ["open", "closed"]
    assert issues[1]["comments"] == ["A duplicate: the monitor keeps a.test's findings in #1."]
    [again] = monitor(targets, options, gh)
    assert (again.action, again.duplicates) == ("unchanged", ())


@pytest.mark.parametrize("printed", ["not json", '{"number": 1}', '[{"body": "x"}]', '[{"number": "one", "body": ""}]', "[1]"])
def test_gh_printing_odd_json_is_a_gh_error(tmp_path, printed):
    script = tmp_path / "gh"
    script.write_text(f"#!/bin/sh\ncat <<'END'\n{printed}\nEND\n")
    script.chmod(0o755)
    with pytest.raises(GhError, match="gh issue list printed what is not a JSON list of issues"):
        open_issues(Gh(str(script)), "mta-sts")


@pytest.mark.parametrize("existing", ["ops", "OPS"])
def test_an_existing_label_is_used_as_its_owners_left_it(tmp_path, monkeypatch, existing):
    """`gh label create --force` would reset the colour and description
    someone chose; the label is created only when the repository lacks it
    (names ignore case on GitHub)."""
    state = tmp_path / "state.json"
    _seed(state, [], label=existing)
    monkeypatch.setenv("FAKE_GH_STATE", str(state))
    monkeypatch.setenv("GH_TOKEN", "token")
    monkeypatch.setenv("GH_REPO", "example-org/policies")
    gh = Gh(str(gh_on_path(tmp_path / "bin") / "gh"))

    done = sync(DomainReport("a.test", [error(codes.POLICY_NOT_FOUND, "404")]), None, None, gh, "ops")

    assert (done.action, done.number) == ("opened", 1)
    calls = [c["args"][:2] for c in json.loads(state.read_text())["calls"]]
    assert calls == [["label", "list"], ["issue", "create"]]


@pytest.mark.timeout(30)
def test_the_job_summary_keeps_the_report_when_gh_fails(tmp_path, monkeypatch):
    """A token without issues: write makes gh fail; the run fails, and its
    summary still shows what the check found."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "gh").write_text("#!/bin/sh\necho 'HTTP 403: Resource not accessible by integration' >&2\nexit 1\n")
    (bin_dir / "gh").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    config = tmp_path / "mta-sts.yml"
    config.write_text("domain: a.test\npolicy: {mx: [mx.a.test]}\nmonitor: {}\n")
    summary = tmp_path / "summary.md"

    result = run_cli("monitor", "-c", str(config), "--nameserver", "127.0.0.1:1", "--timeout", "5", "--summary", str(summary))

    assert result.code == 1, result.output
    assert "gh issue list failed (exit 1): HTTP 403: Resource not accessible by integration" in result.err
    text = summary.read_text("utf-8")
    assert text.startswith("## MTA-STS check\n") and "### :x: a.test: failed" in text


def test_the_label_is_made_sure_of_once_for_many_new_issues(tmp_path, monkeypatch):
    state = tmp_path / "state.json"
    _seed(state, [])
    monkeypatch.setenv("FAKE_GH_STATE", str(state))
    monkeypatch.setenv("GH_TOKEN", "token")
    monkeypatch.setenv("GH_REPO", "example-org/policies")
    gh = Gh(str(gh_on_path(tmp_path / "bin") / "gh"))
    labels: set[str] = set()

    for domain in ("a.test", "b.test", "c.test"):
        assert sync(DomainReport(domain, [error(codes.POLICY_NOT_FOUND, "404")]), None, None, gh, "ops", labels).action == "opened"

    calls = [c["args"][:2] for c in json.loads(state.read_text())["calls"]]
    assert calls.count(["label", "list"]) == 1 and calls.count(["issue", "create"]) == 3, calls
