"""The monitor workflow `build` writes for `monitor:`, run step by step as a
runner runs it on its schedule, against NSD and a TLS server, with the real
`gh` talking to the local GitHub (tests/support/local_github.py), which holds
every request to GitHub's REST API description: one issue per domain, opened
while the domain needs action, commented when the findings change, closed
when it is healthy again; never a duplicate, even when GitHub fails midway."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from generator.check import codes
from generator.check.domain import DomainReport
from generator.config import load, loads
from generator.findings import error, info, warning
from generator.check.options import Target, make_options
from generator.github import api
from generator.github.api import GitHub, GitHubError
from generator.monitor import body, fingerprint, keep_issues, marker, monitor, needs_action, open_issues, sync, title
from generator.records import to_bind
from generator.site import MONITOR_PATH, config_files
from tests.support.check_run import MX, TLSRPT
from tests.support.cli import run_cli
from tests.support.dns_server import minimal_zone
from tests.support.github import (
    README_MONITOR_WORKFLOW,
    ActionRun,
    JobRunner,
    action_checkout,
    fresh_python,
    readme_workflow,
    run_job,
)
from tests.support.local_github import LocalGitHub, Repository, Site
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
REPOSITORY = "example-org/mta-sts-watch"
# The REST operations of GitHub's description the monitor asks for.
LIST = "GET /repos/{owner}/{repo}/issues"
LABEL = "GET /repos/{owner}/{repo}/labels/{name}"
NEW_LABEL = "POST /repos/{owner}/{repo}/labels"
OPEN = "POST /repos/{owner}/{repo}/issues"
COMMENT = "POST /repos/{owner}/{repo}/issues/{issue_number}/comments"
EDIT = "PATCH /repos/{owner}/{repo}/issues/{issue_number}"
# A workflow's GITHUB_TOKEN under the monitor workflow's permissions.
WORKFLOW_TOKEN = {"contents": "read", "issues": "write", "pages": "read"}



@pytest.fixture(scope="module")
def tools(tmp_path_factory):
    base = tmp_path_factory.mktemp("runner")
    return action_checkout(base / "action"), fresh_python(base / "python")


@dataclass
class Scheduler:
    """Runs a monitor workflow's job as the schedule would, day after day,
    with the policy host answering what each day's test asks."""

    https: TlsServer
    runner: JobRunner
    github: LocalGitHub
    temp: Path
    days: int = 0

    def run(self, workflow: Path, repository: Path, route: Route) -> tuple[Repository, list[str]]:
        """The repository's state afterwards, and the REST operations the run asked for."""
        self.https.route(f"mta-sts.{DOMAIN}", route)
        self.days += 1
        before = len(self.github.calls)
        result = run_job(workflow, "monitor", repository, self.runner, self.temp / f"run-{self.days}")
        assert result.returncode == 0, result.log
        assert f"{DOMAIN}" in result.summary and "## MTA-STS check" in result.summary
        shutil.rmtree(self.temp / f"run-{self.days}")
        calls = self.github.calls[before:]
        kept = [call for call in calls if "/issues" in call.path or "/labels" in call.path]
        assert all(call.path.startswith(f"/repos/{REPOSITORY}/") for call in kept)
        # Way 2 runs with -c and a token, so it also reads GitHub's view of the site (pages.py).
        assert all(call.method == "GET" and call.operation.startswith("GET /repos/{owner}/{repo}") for call in calls if call not in kept)
        return self.github.repos[REPOSITORY], [call.operation for call in kept]


@pytest.fixture
def scheduler(tmp_path, tools, dns_server_factory, tls_server_factory, local_github) -> Scheduler:
    action_dir, python_bin = tools
    zone = minimal_zone(DOMAIN, to_bind([BUILT]) + TLSRPT + "\n" + MX + "\n")
    nsd = dns_server_factory({DOMAIN: zone, "github.io": minimal_zone("github.io", "example-org A 127.0.0.1")})
    https = tls_server_factory()
    # The repository's Pages site as GitHub reports a healthy one.
    local_github.repo(REPOSITORY, site=Site(cname=f"mta-sts.{DOMAIN}", https_enforced=True, certificate=["issued"]))
    token = local_github.token("github-actions[bot]", WORKFLOW_TOKEN)
    runner = JobRunner(
        python_bin=python_bin, action_dir=action_dir, path=[],
        env={
            **local_github.env(token, tmp_path),
            "MTA_STS_PAGES_NAMESERVER": nsd.address,
            "MTA_STS_PAGES_CA_FILE": str(https.ca_pem_path),
            "MTA_STS_PAGES_CONNECT_TO": f"mta-sts.{DOMAIN}:443:example-org.github.io:{https.port}",
        },
        context={"github.token": token, "github.repository": REPOSITORY},
    )
    return Scheduler(https, runner, local_github, tmp_path)


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
    assert spec["jobs"]["monitor"]["permissions"] == WORKFLOW_TOKEN

    # Broken: the policy answers 404. One issue, labelled, with the report.
    recorded, calls = scheduler.run(workflow, repo, NOT_FOUND)
    assert calls == [LIST, LABEL, NEW_LABEL, OPEN]
    [issue] = recorded.issues.values()
    assert issue.title == f"MTA-STS: {DOMAIN} needs attention"
    assert issue.labels == ["mta-sts: health"] and issue.state == "open"
    assert "`policy-not-found`" in issue.body and f"<!-- mta-sts-pages monitor: domain={DOMAIN} fingerprint=" in issue.body

    # Still broken the next day: no duplicate, no comment.
    recorded, calls = scheduler.run(workflow, repo, NOT_FOUND)
    assert calls == [LIST]
    assert len(recorded.issues) == 1 and issue.comments == []

    # Broken another way (an old policy is served): a comment, and the body follows.
    stale = BUILT.policy_bytes.replace(b"mode: testing", b"mode: enforce")
    recorded, calls = scheduler.run(workflow, repo, Route(body=stale))
    assert calls == [LIST, COMMENT, EDIT]
    assert len(issue.comments) == 1 and "`policy-differs`" in issue.comments[0]
    assert "`policy-differs`" in issue.body and "`policy-not-found`" not in issue.body

    # Fixed: the issue is closed, with a last comment.
    recorded, calls = scheduler.run(workflow, repo, Route(body=BUILT.policy_bytes))
    assert calls == [LIST, COMMENT, EDIT]
    assert issue.state == "closed" and issue.comments[-1].startswith("Healthy again.")

    # Healthy and no issue open: GitHub is only asked.
    recorded, calls = scheduler.run(workflow, repo, Route(body=BUILT.policy_bytes))
    assert calls == [LIST]
    assert len(recorded.issues) == 1
    assert scheduler.https.errors == []


@pytest.mark.parametrize("way", ["site", "config"])
def test_the_monitor_reports_what_github_says_of_the_site(tmp_path, scheduler, way):
    """Way 1's monitor names this repository as the site's (it holds no
    mta-sts.yml); way 2's reads the config: both add GitHub's view."""
    config = tmp_path / "mta-sts.yml"
    config.write_text(CONFIG.replace("  owner: example-org", f"  repository: {REPOSITORY}\n  content: {way}"))
    repo = tmp_path / "repo"
    if way == "site":
        assert run_cli("build", "-c", config, "-o", repo).code == 0
    else:
        files = config_files(load(str(config)).domains[0], config.read_bytes())
        for name, data in files.items():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            (repo / name).write_bytes(data)
    scheduler.github.repos[REPOSITORY].site.certificate = ["errored"]

    recorded, calls = scheduler.run(repo / MONITOR_PATH, repo, Route(body=BUILT.policy_bytes))
    assert calls == [LIST, LABEL, NEW_LABEL, OPEN]
    [issue] = recorded.issues.values()
    assert "`github-pages-cert-failed`" in issue.body and "errored" in issue.body
    assert "GET /repos/{owner}/{repo}/pages" in [c.operation for c in scheduler.github.calls]


def test_the_readme_workflow_for_way_2_uses_the_action(tmp_path, scheduler):
    """Way 2: the repository holds mta-sts.yml; the action's monitor command reads its monitor: section."""
    repo = tmp_path / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True)
    (repo / "mta-sts.yml").write_text(CONFIG)
    workflow = repo / ".github" / "workflows" / "mta-sts-monitor.yml"
    workflow.write_text(readme_workflow(README_MONITOR_WORKFLOW))

    recorded, calls = scheduler.run(workflow, repo, NOT_FOUND)
    assert calls == [LIST, LABEL, NEW_LABEL, OPEN]
    [issue] = recorded.issues.values()
    assert issue.labels == ["mta-sts: health"]  # from the config's monitor: section
    recorded, calls = scheduler.run(workflow, repo, NOT_FOUND)
    assert calls == [LIST]
    recorded, calls = scheduler.run(workflow, repo, Route(body=BUILT.policy_bytes))
    assert calls == [LIST, COMMENT, EDIT]
    assert [i.state for i in recorded.issues.values()] == ["closed"]


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


def test_gh_failures_are_errors_that_name_what_is_missing(tmp_path, monkeypatch, local_github):
    report = DomainReport(DOMAIN, [error(codes.POLICY_NOT_FOUND, "404")])
    local_github.environ(monkeypatch, "", tmp_path)
    monkeypatch.delenv("GH_ENTERPRISE_TOKEN")
    # Without a token gh asks an enterprise host anonymously; GitHub says 401.
    with pytest.raises(GitHubError, match=r"GitHub rejected the token \(HTTP 401 \"Bad credentials\"\): check GH_TOKEN or gh auth login"):
        sync(report, None, None, GitHub(), "example-org/policies", "mta-sts")
    with pytest.raises(GitHubError, match="no-such-gh not found: install the GitHub CLI"):
        sync(report, None, None, GitHub("no-such-gh"), "example-org/policies", "mta-sts")
    assert len(local_github.calls) == 1


def _repository(monkeypatch, github: LocalGitHub, home: Path, *, permissions: dict[str, str] | None = WORKFLOW_TOKEN,
                name: str = "example-org/policies") -> Repository:
    """A repository on the local GitHub that this process's gh reaches, as a workflow's does (GH_REPO)."""
    repo = github.repo(name)
    github.environ(monkeypatch, github.token("github-actions[bot]", permissions), home)
    monkeypatch.setenv("GH_REPO", name)
    return repo


def _offline_options(concurrency: int = 3):
    # Nothing listens on port 1: every lookup fails at once, so every domain needs action.
    return make_options(nameservers=["127.0.0.1:1"], ca_file=None, connect_to=[], timeout=5, concurrency=concurrency, smtp=False)


@pytest.mark.timeout(30)
def test_each_domain_of_a_config_keeps_its_issue_under_its_own_label(tmp_path, monkeypatch, local_github):
    config = loads(
        "defaults:\n  policy: {mx: [mx.a.test]}\n  monitor: {label: ops}\n"
        "domains:\n  - domain: a.test\n  - domain: b.test\n    monitor: {label: mail-team}\n  - domain: c.test\n"
    )
    assert config.domains[1].monitor.label == "mail-team" and config.domains[2].monitor.label == "ops"
    repo = _repository(monkeypatch, local_github, tmp_path)
    targets = [Target(d.domain, d) for d in config.domains]

    synced = monitor(targets, _offline_options(), GitHub())

    assert [(s.report.domain, s.action, s.number) for s in synced] == [("a.test", "opened", 1), ("b.test", "opened", 2), ("c.test", "opened", 3)]
    assert [(i.title, i.labels) for i in repo.issues.values()] == [
        ("MTA-STS: a.test needs attention", ["ops"]), ("MTA-STS: b.test needs attention", ["mail-team"]), ("MTA-STS: c.test needs attention", ["ops"]),
    ]
    assert [c.query["labels"] for c in local_github.calls if c.operation == LIST] == [["ops"], ["mail-team"]]
    # The next run finds all three and opens nothing; a --label given on the command line wins.
    again = monitor(targets, _offline_options(), GitHub())
    assert [s.action for s in again] == ["unchanged"] * 3
    assert [s.action for s in monitor(targets[:1], _offline_options(), GitHub(), label="other")] == ["opened"]


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
    # --label overrides the config's monitor.label.
    relabelled = run_cli("monitor", "--dry-run", "--label", "mail-security", "--nameserver", "127.0.0.1:1", "--timeout", "5", cwd=tmp_path)
    assert "would open an issue labelled 'mail-security'" in relabelled.out, relabelled.output


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


def _seed(github: LocalGitHub, repo: Repository, issues: list[tuple[str, str]], label: str = "ops") -> None:
    """The repository already holds these open issues: (domain, fingerprint) each."""
    from tests.support.local_github import Issue

    github._label(repo, label)
    for number, (domain, print_) in enumerate(issues, start=len(repo.issues) + 1):
        repo.issues[number] = Issue(number, title(domain), marker(domain, print_) + "\nreport", "someone", [label])


@pytest.mark.timeout(30)
def test_a_duplicate_issue_is_closed_pointing_to_the_one_kept(tmp_path, monkeypatch, local_github):
    """Two open issues for one domain (two runs racing, one copied by hand):
    the oldest is kept, the other closed with a comment naming it, once."""
    config = loads("domain: a.test\npolicy: {mx: [mx.a.test]}\nmonitor: {label: ops}\n")
    repo = _repository(monkeypatch, local_github, tmp_path)
    _seed(local_github, repo, [("a.test", "0" * 16), ("a.test", "0" * 16)])
    targets = [Target(d.domain, d) for d in config.domains]

    [synced] = monitor(targets, _offline_options(1), GitHub())

    assert (synced.action, synced.number, synced.duplicates) == ("commented", 1, (2,))
    assert synced.line().endswith("; closed duplicate #2")
    assert [i.state for i in repo.issues.values()] == ["open", "closed"]
    assert repo.issues[2].comments == ["A duplicate: the monitor keeps a.test's findings in #1."]
    [again] = monitor(targets, _offline_options(1), GitHub())
    assert (again.action, again.duplicates) == ("unchanged", ())


@pytest.mark.parametrize(("answer", "message"), [
    ("not json", "answered what is not a list"),
    ('{"number": 1}', "answered what is not a list"),
    ('[{"body": "x"}]', "listed an issue without a number"),
    ('[{"number": "one", "body": ""}]', "listed an issue without a number"),
])
def test_odd_answers_are_github_errors(tmp_path, answer, message):
    script = tmp_path / "gh"
    script.write_text(f"#!/bin/sh\nprintf 'HTTP/1.1 200 OK\\r\\nContent-Type: application/json\\r\\n\\r\\n'\ncat <<'END'\n{answer}\nEND\n")
    script.chmod(0o755)
    with pytest.raises(GitHubError, match=message):
        open_issues(GitHub(str(script)), "example-org/policies", "mta-sts")


@pytest.mark.parametrize("existing", ["ops", "OPS"])
def test_an_existing_label_is_used_as_its_owners_left_it(tmp_path, monkeypatch, local_github, existing):
    """Creating the label again would fail or reset the colour and
    description someone chose; it is created only when the repository lacks
    it (names ignore case on GitHub)."""
    repo = _repository(monkeypatch, local_github, tmp_path)
    _seed(local_github, repo, [], label=existing)

    done = sync(DomainReport("a.test", [error(codes.POLICY_NOT_FOUND, "404")]), None, None, GitHub(), "example-org/policies", "ops")

    assert (done.action, done.number) == ("opened", 1)
    assert local_github.operations() == [LABEL, OPEN]
    assert repo.issues[1].labels == [existing]


@pytest.mark.timeout(30)
def test_the_job_summary_keeps_the_report_when_github_refuses(tmp_path, monkeypatch, local_github):
    """A token without issues: write (the workflow's permissions left out):
    the run fails naming the permission, and its summary still shows what
    the check found."""
    _repository(monkeypatch, local_github, tmp_path, permissions={"contents": "read"})
    config = tmp_path / "mta-sts.yml"
    config.write_text("domain: a.test\npolicy: {mx: [mx.a.test]}\nmonitor: {}\n")
    summary = tmp_path / "summary.md"

    result = run_cli("monitor", "-c", str(config), "--nameserver", "127.0.0.1:1", "--timeout", "5", "--summary", str(summary))

    assert result.code == 1, result.output
    assert ('GET /repos/example-org/policies/issues: refused (HTTP 403 "Resource not accessible by integration"): '
            "the token lacks the issues: read permission") in result.err
    assert "Traceback" not in result.err
    text = summary.read_text("utf-8")
    assert text.startswith("## MTA-STS check\n") and "### :x: a.test: failed" in text


def test_the_label_is_made_sure_of_once_for_many_new_issues(tmp_path, monkeypatch, local_github):
    repo = _repository(monkeypatch, local_github, tmp_path)
    labels: set[str] = set()

    for domain in ("a.test", "b.test", "c.test"):
        report = DomainReport(domain, [error(codes.POLICY_NOT_FOUND, "404")])
        assert sync(report, None, None, GitHub(), "example-org/policies", "ops", labels).action == "opened"

    assert local_github.operations() == [LABEL, NEW_LABEL, OPEN, OPEN, OPEN]
    assert len(repo.issues) == 3


def _broken(domain: str, code: str = codes.POLICY_NOT_FOUND) -> DomainReport:
    return DomainReport(domain, [error(code, f"{domain}: {code}")])


def test_requests_do_not_grow_with_healthy_domains(tmp_path, monkeypatch, local_github):
    """200 domains with open issues, of which 3 change: two pages of the
    list, then a comment and an edit for each of the three; nothing for the
    197 others."""
    repo = _repository(monkeypatch, local_github, tmp_path)
    domains = [f"d{n}.test" for n in range(200)]
    _seed(local_github, repo, [(d, fingerprint(_broken(d).findings)) for d in domains])
    changed = {"d7.test", "d100.test", "d199.test"}
    reports = [_broken(d, codes.POLICY_REDIRECT if d in changed else codes.POLICY_NOT_FOUND) for d in domains]

    synced = keep_issues([(r, None, "ops") for r in reports], GitHub(), "example-org/policies")

    assert {s.report.domain for s in synced if s.action == "commented"} == changed
    assert sum(s.action == "unchanged" for s in synced) == 197
    assert local_github.operations() == [LIST, LIST] + [COMMENT, EDIT] * 3


def test_requests_for_a_thousand_domains_are_those_of_the_three_that_change(tmp_path, monkeypatch, local_github):
    """1,000 domains: 597 healthy without an issue, 400 broken as their
    open issues say, and 3 that change: one healed, one whose findings
    changed, one newly broken. Five pages of the list (402 open issues, 100
    a page), then only the three's writes: 10 requests, where a request a
    domain would be 1,000, past a workflow token's 1,000 an hour."""
    repo = _repository(monkeypatch, local_github, tmp_path)
    domains = [f"d{n}.test" for n in range(1000)]
    healed, changed, new = "d1.test", "d2.test", "d3.test"
    broken = set(domains[10:410]) | {healed, changed}  # the 402 with open issues
    _seed(local_github, repo, [(d, fingerprint(_broken(d).findings)) for d in domains if d in broken])
    reports = [DomainReport(d, []) if d not in broken | {new} or d == healed
               else _broken(d, codes.POLICY_REDIRECT if d == changed else codes.POLICY_NOT_FOUND) for d in domains]

    synced = keep_issues([(r, None, "ops") for r in reports], GitHub(), "example-org/policies")

    actions = {s.report.domain: s.action for s in synced if s.action not in ("unchanged", "healthy")}
    assert actions == {healed: "closed", changed: "commented", new: "opened"}
    assert sum(s.action == "unchanged" for s in synced) == 400
    assert local_github.operations() == [LIST] * 5 + [COMMENT, EDIT] * 2 + [OPEN]


@pytest.mark.timeout(60)
def test_a_lost_answer_after_opening_neither_loses_nor_duplicates_the_issue(tmp_path, monkeypatch, local_github):
    """GitHub opens the issue, labelled, but its answer is lost (a 502): the
    POST is not repeated (that could open a second one), the run fails, and
    the next run finds the issue by its label and leaves it as it is."""
    repo = _repository(monkeypatch, local_github, tmp_path)
    local_github.fail("POST", "/repos/example-org/policies/issues", 502, after=True)
    report = _broken("a.test")

    with pytest.raises(GitHubError, match=r"POST /repos/example-org/policies/issues: HTTP 502"):
        keep_issues([(report, None, "ops")], GitHub(), "example-org/policies")
    assert len(repo.issues) == 1 and repo.issues[1].labels == ["ops"]

    [again] = keep_issues([(report, None, "ops")], GitHub(), "example-org/policies")
    assert (again.action, again.number) == ("unchanged", 1)
    assert len(repo.issues) == 1


@pytest.mark.timeout(60)
def test_rate_limits_and_server_errors_between_steps_are_waited_out(tmp_path, monkeypatch, local_github):
    """A 429 with retry-after on the label, a 403 rate limit on the list and
    a 503 on the edit: each waited out or retried, and the issue is kept
    exactly once."""
    monkeypatch.setattr(api, "RETRY_PAUSE", 0.01)
    repo = _repository(monkeypatch, local_github, tmp_path)
    local_github.rate_limit("POST", "/repos/example-org/policies/labels", seconds=1)
    local_github.rate_limit("GET", "/repos/example-org/policies/issues", status=403, seconds=1)
    local_github.fail("PATCH", "/repos/example-org/policies/issues/1", 503, times=2)

    [opened] = keep_issues([(_broken("a.test"), None, "ops")], GitHub(), "example-org/policies")
    [commented] = keep_issues([(_broken("a.test", codes.POLICY_REDIRECT), None, "ops")], GitHub(), "example-org/policies")

    assert (opened.action, commented.action) == ("opened", "commented")
    assert len(repo.issues) == 1 and "policy-redirect" in repo.issues[1].body
    assert local_github.faults == []


def test_a_rate_limit_past_the_deadline_says_when_to_run_again(tmp_path, monkeypatch, local_github):
    _repository(monkeypatch, local_github, tmp_path)
    local_github.rate_limit("GET", "/repos/example-org/policies/issues", status=403, seconds=3600)

    with pytest.raises(GitHubError, match="rate limit holds for 36.. s more, past the time allowed: run again later"):
        keep_issues([(_broken("a.test"), None, "ops")], GitHub(wait=5), "example-org/policies")


def _run_promoting(workflow_of, tmp_path, tools, dns_server_factory, tls_server_factory, local_github) -> ActionRun:
    """A repository holding mta-sts.yml (monitor.promote, reports in tlsrpt/)
    and ready reports, on the local GitHub too; the monitor job of
    ``workflow_of(repo)`` run as the schedule runs it, with a token holding
    the permissions that job asks for. The pull request it opens must change
    the mode line alone."""
    import datetime as dt

    from tests.test_reports_ready import report, write_reports

    config = CONFIG + "  promote: true\n  reports:\n    paths: [tlsrpt]\n"
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "mta-sts.yml").write_text(config)
    workflow = workflow_of(repo)
    today = dt.datetime.now(dt.UTC).date()
    write_reports(repo / "tlsrpt", [report("google", today - dt.timedelta(days=2), domain=DOMAIN),
                                    report("microsoft", today - dt.timedelta(days=1), ok=10, domain=DOMAIN)])
    permissions = yaml.safe_load(workflow.read_text())["jobs"]["monitor"]["permissions"]
    assert permissions == {"contents": "write", "issues": "write", "pages": "read", "pull-requests": "write"}
    # GitHub's names for the permissions the job asks for, on the token the run gets.
    token = local_github.token("github-actions[bot]", {name.replace("-", "_"): level for name, level in permissions.items()})
    hosted = local_github.repo(REPOSITORY)
    git = local_github._git
    blob = git(hosted, "hash-object", "-w", "--stdin", stdin=config.encode()).stdout.decode().strip()
    tree = git(hosted, "mktree", stdin=f"100644 blob {blob}\tmta-sts.yml\n".encode()).stdout.decode().strip()
    git(hosted, "update-ref", "refs/heads/main",
        git(hosted, "-c", "user.name=a", "-c", "user.email=a@a.test", "commit-tree", tree, "-m", "config").stdout.strip())
    zone = minimal_zone(DOMAIN, to_bind([BUILT]) + TLSRPT + "\n" + MX + "\n")
    nsd = dns_server_factory({DOMAIN: zone, "github.io": minimal_zone("github.io", "example-org A 127.0.0.1")})
    https = tls_server_factory()
    https.route(f"mta-sts.{DOMAIN}", Route(body=BUILT.policy_bytes))
    action_dir, python_bin = tools
    runner = JobRunner(
        python_bin=python_bin, action_dir=action_dir, path=[],
        env={**local_github.env(token, tmp_path), "MTA_STS_PAGES_NAMESERVER": nsd.address, "MTA_STS_PAGES_CA_FILE": str(https.ca_pem_path),
             "MTA_STS_PAGES_CONNECT_TO": f"mta-sts.{DOMAIN}:443:example-org.github.io:{https.port}"},
        context={"github.token": token, "github.repository": REPOSITORY},
    )
    result = run_job(workflow, "monitor", repo, runner, tmp_path / "run")
    assert result.returncode == 0, result.log
    assert "```mermaid" in result.summary and f"**{DOMAIN}: ready to enforce**" in result.summary
    [pull] = hosted.issues.values()
    assert pull.pull["head"] == f"mta-sts-pages/enforce-{DOMAIN}"
    assert local_github.files(REPOSITORY, pull.pull["head"])["mta-sts.yml"].decode() == config.replace("mode: testing", "mode: enforce")
    return result


def test_the_generated_workflow_with_promote_opens_the_enforce_pull_request(tmp_path, tools, dns_server_factory, tls_server_factory,
                                                                           local_github):
    """Way 1: the workflow `build` writes for monitor.promote reads
    monitor.reports from the checkout and asks for the permissions it needs."""
    def generated(repo: Path) -> Path:
        assert run_cli("build", "-c", repo / "mta-sts.yml", "-o", repo).code == 0
        return repo / MONITOR_PATH

    result = _run_promoting(generated, tmp_path, tools, dns_server_factory, tls_server_factory, local_github)
    assert f"{DOMAIN}: the TLS reports say ready; opened pull request #1 to enforce" in result.log


def test_the_way_2_workflow_with_promote_opens_the_enforce_pull_request_through_the_action(tmp_path, tools, dns_server_factory,
                                                                                            tls_server_factory, local_github):
    """Way 2: the docs' monitor workflow with the permissions docs/github.md
    adds for promote; the action's monitor reads everything from the config."""
    def documented(repo: Path) -> Path:
        text = readme_workflow(README_MONITOR_WORKFLOW)
        old = "      contents: read # check out mta-sts.yml\n      issues: write # open, comment on and close the domain's issue\n"
        assert old in text
        path = repo / ".github" / "workflows" / "mta-sts-monitor.yml"
        path.parent.mkdir(parents=True)
        path.write_text(text.replace(old, PROMOTE_PERMISSIONS))
        return path

    _run_promoting(documented, tmp_path, tools, dns_server_factory, tls_server_factory, local_github)


# The permissions docs/github.md tells way 2 to give its monitor job for promote.
PROMOTE_PERMISSIONS = ("      contents: write # mta-sts.yml; the enforce branch\n      issues: write # the domain's issue\n"
                       "      pages: read # GitHub's view of the site\n      pull-requests: write # the enforce pull request\n")


def test_the_docs_give_way_2_the_permissions_promote_needs():
    assert PROMOTE_PERMISSIONS in (Path(__file__).parents[1] / "docs" / "github.md").read_text()


@pytest.mark.parametrize(("args", "message"), [
    (("-c", "CONFIG", "--pages-repository", "example-org/x"), "--pages-repository goes with --policy; with --config, pages.repository gives it"),
    (("--policy", "POLICY", "--pages-repository", "example-org"), "--pages-repository 'example-org' is not OWNER/NAME of a GitHub repository"),
])
def test_pages_repository_mistakes_are_usage_errors(tmp_path, args, message):
    (tmp_path / "mta-sts.yml").write_text(CONFIG)
    (tmp_path / "mta-sts.txt").write_bytes(BUILT.policy_bytes)
    paths = {"CONFIG": str(tmp_path / "mta-sts.yml"), "POLICY": str(tmp_path / "mta-sts.txt")}
    result = run_cli("monitor", DOMAIN, *(paths.get(a, a) for a in args), "--dry-run")
    assert result.code == 2, result.output
    assert message in result.err and "Traceback" not in result.output
