"""The monitor's autopilot from testing to enforce, against the real parts:
NSD and a TLS server for the live check, the local GitHub driven by the real
`gh` (every request held to GitHub's REST API description), reports written
for the test's own dates in a folder or in a real Dovecot.

- failing reports: no pull request, the reasons in the job summary;
- ready reports: one pull request whose only change is the mode line;
- the same run again: still one, nothing written;
- the evidence changes: its body follows; no longer ready: commented, closed;
- a domain in enforce whose reports show failures: a finding in its issue;
- a mailbox is searched from the readiness window's first day;
- 1,000 promoted domains: one list of the open pull requests, then only
  what changes.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import time
from email.message import EmailMessage
from pathlib import Path

import pytest

from generator.config import loads
from generator.records import to_bind
from tests.support.check_run import MX, TLSRPT
from tests.support.cli import run_cli
from tests.support.dns_server import minimal_zone
from tests.support.imap_server import DovecotServer
from tests.support.local_github import LocalGitHub, Repository
from tests.support.tls_server import Route
from tests.support.tools import require_tool
from tests.test_reports_ready import report, write_reports

pytestmark = pytest.mark.timeout(120)

DOMAIN = "auto.test"
REPOSITORY = "example-org/mta-sts-auto"
BRANCH = f"mta-sts-pages/enforce-{DOMAIN}"
CONFIG = f"""\
# The policy of {DOMAIN}: testing until the reports say otherwise.
domain: {DOMAIN}
policy:
  mode: testing   # enforce once the reports are clean
  mx: [mx1.{DOMAIN}]
tlsrpt:
  rua: ["mailto:tls@example.net"]
pages:
  owner: example-org
monitor:
  label: mta-sts
"""
TOKEN = {"contents": "write", "issues": "write", "pull_requests": "write"}
LIST_PULLS = "GET /repos/{owner}/{repo}/pulls"
LIST_ISSUES = "GET /repos/{owner}/{repo}/issues"
TODAY = dt.datetime.now(dt.UTC).date()
DAYS = [TODAY - dt.timedelta(days=n) for n in (3, 2, 1)]
CLEAN = [report("google", DAYS[0], ok=12, domain=DOMAIN), report("microsoft", DAYS[1], ok=10, domain=DOMAIN)]
FAILING = [report("google", DAYS[2], ok=5, failures=(("certificate-expired", f"mx1.{DOMAIN}", 4),), domain=DOMAIN)]


class Site:
    """The live domain as `config` builds it, served by NSD and a TLS server,
    and the repository on the local GitHub whose default branch holds it."""

    def __init__(self, config: str, tmp_path: Path, dns_server_factory, tls_server_factory, github: LocalGitHub, ca_pem: Path,
                 monkeypatch) -> None:
        built = loads(config).domains[0]
        zone = minimal_zone(DOMAIN, to_bind([built]) + TLSRPT + "\n" + MX + "\n")
        self.nsd = dns_server_factory({DOMAIN: zone, "github.io": minimal_zone("github.io", "example-org A 127.0.0.1")})
        self.https = tls_server_factory()
        self.https.route(f"mta-sts.{DOMAIN}", Route(body=built.policy_bytes))
        self.github = github
        self.repo: Repository = github.repo(REPOSITORY)
        self.work = tmp_path / "checkout"
        self.work.mkdir()
        (self.work / "mta-sts.yml").write_text(config)
        self.commit("mta-sts.yml", config.encode())
        self.reports = tmp_path / "reports"
        self.summary = tmp_path / "summary.md"
        self.ca_pem = ca_pem
        github.environ(monkeypatch, github.token("github-actions[bot]", TOKEN), tmp_path)
        monkeypatch.setenv("GH_REPO", REPOSITORY)

    def commit(self, path: str, data: bytes) -> None:
        """A commit on main with ``path`` alone, as a push would leave it."""
        git = self.github._git
        blob = git(self.repo, "hash-object", "-w", "--stdin", stdin=data).stdout.decode().strip()
        tree = git(self.repo, "mktree", stdin=f"100644 blob {blob}\t{path}\n".encode()).stdout.decode().strip()
        commit = git(self.repo, "-c", "user.name=a", "-c", "user.email=a@a.test", "commit-tree", tree, "-m", "config").stdout.strip()
        git(self.repo, "update-ref", "refs/heads/main", commit)

    def monitor(self, *args: str, reports: bool = True):
        """One run of the monitor, as the workflow runs it at the repository's root."""
        self.summary.unlink(missing_ok=True)
        before = len(self.github.calls)
        result = run_cli("monitor", DOMAIN, "--config", "mta-sts.yml", *(("--reports", self.reports) if reports else ()), *args,
                         "--nameserver", self.nsd.address, "--ca-file", self.ca_pem,
                         "--connect-to", f"mta-sts.{DOMAIN}:443:example-org.github.io:{self.https.port}",
                         "--summary", self.summary, cwd=self.work)
        assert result.code == 0, result.output
        return result, self.github.calls[before:]

    def pulls(self) -> list:
        return [issue for issue in self.repo.issues.values() if issue.pull is not None]


@pytest.fixture
def site(tmp_path, dns_server_factory, tls_server_factory, local_github, test_ca, monkeypatch) -> Site:
    return Site(CONFIG, tmp_path, dns_server_factory, tls_server_factory, local_github, test_ca.pem_path, monkeypatch)


def writes(calls) -> list[str]:
    return [c.operation for c in calls if c.writes]


def test_the_enforce_pull_request_is_opened_kept_updated_and_closed(site):
    # Failing reports from one sender: no pull request, the reasons in the summary.
    write_reports(site.reports, FAILING)
    result, calls = site.monitor("--promote")
    assert f"{DOMAIN}: not ready to enforce (few-organisations, few-sessions, mx-failures; reasons in the job summary); no pull request" in result.out
    assert writes(calls) == [] and site.pulls() == []
    summary = site.summary.read_text()
    assert "## TLS reports" in summary and "**auto.test: not ready to enforce**" in summary
    assert "- `mx-failures`: 4 session(s) to mx1.auto.test failed with certificate-expired" in summary
    assert "- `few-organisations`:" in summary
    assert "```mermaid\nxychart-beta\n" in summary and "| `certificate-expired` | mx1.auto.test | 173.212.201.41 | 209.85.222.201 | 4 |" in summary

    # Clean reports from two senders: one pull request, the mode line its only change.
    for path in site.reports.iterdir():
        path.unlink()
    write_reports(site.reports, CLEAN)
    result, calls = site.monitor("--promote")
    assert f"{DOMAIN}: the TLS reports say ready; opened pull request #1 to enforce" in result.out
    assert writes(calls) == ["POST /repos/{owner}/{repo}/git/refs", "PUT /repos/{owner}/{repo}/contents/{path}", "POST /repos/{owner}/{repo}/pulls"]
    [pull] = site.pulls()
    assert pull.pull == {"head": BRANCH, "base": "main"} and pull.state == "open"
    before = site.github.files(REPOSITORY, "main")["mta-sts.yml"].decode()
    after = site.github.files(REPOSITORY, BRANCH)["mta-sts.yml"].decode()
    assert after == before.replace("  mode: testing   #", "  mode: enforce   #") != before
    assert list(site.github.files(REPOSITORY, BRANCH)) == ["mta-sts.yml"]
    assert f"<!-- mta-sts-pages promote: domain={DOMAIN} evidence=" in pull.body
    assert "| Google Inc., Microsoft Corporation | 2 | 22 | ready to enforce |" in pull.body
    assert "(line 4)" in pull.body and "mta-sts-pages dns apply" in pull.body
    assert f"_mta-sts.{DOMAIN}. TXT \"v=STSv1; id={loads(after).domains[0].id}\"" in pull.body

    # The same run again: still one, nothing written.
    result, calls = site.monitor("--promote")
    assert f"{DOMAIN}: still ready; pull request #1 is up to date" in result.out
    assert writes(calls) == [] and len(site.pulls()) == 1

    # More sessions: the body follows, the branch stays.
    head = site.github.head(REPOSITORY, BRANCH)
    write_reports(site.reports, [report("google", DAYS[2], ok=7, domain=DOMAIN)])
    result, calls = site.monitor("--promote")
    assert f"{DOMAIN}: the evidence changed; updated pull request #1" in result.out
    assert writes(calls) == ["PATCH /repos/{owner}/{repo}/pulls/{pull_number}"]
    assert "| 3 | 29 | ready to enforce |" in pull.body and site.github.head(REPOSITORY, BRANCH) == head

    # A failure: no longer ready, so a comment says why and the pull request is closed.
    write_reports(site.reports, FAILING)
    result, calls = site.monitor("--promote")
    assert f"{DOMAIN}: the TLS reports no longer say ready; commented on and closed pull request #1" in result.out
    assert writes(calls) == ["POST /repos/{owner}/{repo}/issues/{issue_number}/comments", "PATCH /repos/{owner}/{repo}/pulls/{pull_number}"]
    assert pull.state == "closed" and len(site.pulls()) == 1
    assert "Closing: the TLS reports no longer say ready." in pull.comments[0]
    assert "`mx-failures`: 4 session(s) to mx1.auto.test failed with certificate-expired" in pull.comments[0]

    # Ready again once the failing report is gone: the monitor closed the last one, so it opens a new one.
    for path in site.reports.iterdir():
        if "google" in path.name and path.stat().st_size and "certificate-expired" in gzip.decompress(path.read_bytes()).decode():
            path.unlink()
    result, calls = site.monitor("--promote")
    assert f"{DOMAIN}: the TLS reports say ready; opened pull request #2 to enforce" in result.out
    assert [p.state for p in site.pulls()] == ["closed", "open"]
    assert site.https.errors == []


def test_a_changed_default_branch_rebuilds_the_branch_from_it(site):
    write_reports(site.reports, CLEAN)
    site.monitor("--promote")
    edited = CONFIG.replace("  mx: [mx1.auto.test]", "  mx: [mx1.auto.test, mx2.auto.test]")
    site.commit("mta-sts.yml", edited.encode())
    result, calls = site.monitor("--promote")
    assert writes(calls) == ["PATCH /repos/{owner}/{repo}/git/refs/{ref}", "PUT /repos/{owner}/{repo}/contents/{path}"]
    assert site.github.files(REPOSITORY, BRANCH)["mta-sts.yml"].decode() == edited.replace("mode: testing", "mode: enforce")
    assert len(site.pulls()) == 1


def test_a_pull_request_closed_by_a_person_is_not_opened_again_until_reopened(site):
    write_reports(site.reports, CLEAN)
    site.monitor("--promote")
    [pull] = site.pulls()
    pull.state = "closed"  # a person said no
    result, calls = site.monitor("--promote")
    assert f"{DOMAIN}: ready, but someone closed pull request #1; reopen it to have the monitor keep it again" in result.out
    assert writes(calls) == [] and len(site.pulls()) == 1
    pull.state = "open"
    write_reports(site.reports, [report("google", DAYS[2], ok=7, domain=DOMAIN)])
    result, calls = site.monitor("--promote")
    assert f"{DOMAIN}: the evidence changed; updated pull request #1" in result.out and len(site.pulls()) == 1


def test_a_domain_moved_to_enforce_by_hand_closes_the_pull_request(site):
    write_reports(site.reports, CLEAN)
    site.monitor("--promote")
    (site.work / "mta-sts.yml").write_text(ENFORCED)  # merged by hand another way; the site not yet rebuilt
    result, calls = site.monitor("--promote")
    assert f"{DOMAIN}: the domain is in enforce already; commented on and closed pull request #1" in result.out, result.out
    [pull] = site.pulls()
    assert pull.state == "closed" and pull.comments == ["Closing: the domain is in enforce already.\n"]
    # The drift is the issue's business: the served policy is still the testing one.
    [issue] = [i for i in site.repo.issues.values() if i.pull is None]
    assert "`policy-differs`" in issue.body


def test_a_config_promote_cannot_edit_opens_nothing_and_says_why(site):
    """The default branch's config has no mode line to change (testing by default)."""
    site.commit("mta-sts.yml", CONFIG.replace("  mode: testing   # enforce once the reports are clean\n", "").encode())
    write_reports(site.reports, CLEAN)
    result, calls = site.monitor("--promote")
    assert f"{DOMAIN}: ready, but mta-sts.yml: {DOMAIN} is in testing by default (no mode: line); add 'mode: enforce' under policy: yourself" in result.out
    assert writes(calls) == [] and site.pulls() == []


def test_a_repository_that_forbids_actions_pull_requests_names_the_setting(site):
    write_reports(site.reports, CLEAN)
    site.github.fail("POST", r"/repos/[^/]+/[^/]+/pulls", 403, "GitHub Actions is not permitted to create or approve pull requests.")
    result = run_cli("monitor", DOMAIN, "--config", "mta-sts.yml", "--promote", "--reports", site.reports,
                     "--nameserver", site.nsd.address, "--ca-file", site.ca_pem,
                     "--connect-to", f"mta-sts.{DOMAIN}:443:example-org.github.io:{site.https.port}", cwd=site.work)
    assert result.code == 1
    assert 'tick "Allow GitHub Actions to create and approve pull requests" (Settings > Actions > General)' in result.err, result.output
    # The branch is ready; the next run, once allowed, opens the pull request without writing it again.
    _, calls = site.monitor("--promote")
    assert writes(calls) == ["POST /repos/{owner}/{repo}/pulls"] and len(site.pulls()) == 1


def test_sender_text_in_the_evidence_stays_text(site):
    evil = [dict(doc, **{"organization-name": "Evil @octocat [x](https://e.test) <img src=x> ```"}) for doc in CLEAN]
    evil[1]["report-id"] = "other-evil"
    write_reports(site.reports, [CLEAN[0], evil[1]])
    site.monitor("--promote")
    [pull] = site.pulls()
    assert "Evil @\u2060octocat \\[x\\](https:\u2060//e.test) &lt;img src=x&gt; \\`\\`\\`" in pull.body
    assert "@octocat" not in pull.body and "<img" not in pull.body
    summary = site.summary.read_text()
    chart = summary[summary.index("```mermaid"):]
    chart = chart[:chart.index("\n```\n")]
    assert "Evil" not in chart and "octocat" not in chart


def test_without_promote_the_reports_show_and_no_pull_request_is_opened(site):
    write_reports(site.reports, CLEAN)
    result, calls = site.monitor()
    assert writes(calls) == [] and LIST_PULLS not in [c.operation for c in calls]
    summary = site.summary.read_text()
    days = [f'"{day:%m-%d}"' for day in DAYS]
    assert ", ".join(days) in summary  # the window's days, each with its count, the empty ones as 0
    assert "    bar [" in summary and "0, 0, 12, 10, 0" in summary


ENFORCED = CONFIG.replace("mode: testing", "mode: enforce")


def test_failures_in_enforce_become_a_finding_in_the_issue(tmp_path, dns_server_factory, tls_server_factory, local_github, test_ca,
                                                           monkeypatch):
    site = Site(ENFORCED, tmp_path, dns_server_factory, tls_server_factory, local_github, test_ca.pem_path, monkeypatch)
    write_reports(site.reports, CLEAN)
    result, calls = site.monitor()
    assert f"{DOMAIN}: healthy" in result.out and writes(calls) == []

    write_reports(site.reports, FAILING)
    result, calls = site.monitor()
    assert f"{DOMAIN}: findings need action; opened issue #1" in result.out
    [issue] = site.repo.issues.values()
    assert "`reports-failures`" in issue.body
    assert "senders' TLS reports show 4 failed session(s) to mx1.auto.test with certificate-expired" in issue.body
    assert "the MX host's certificate has expired" in issue.body and "renew the MX certificate" in issue.body
    assert "#### TLS reports, " in issue.body and "```mermaid" in issue.body
    assert "not ready to enforce" not in issue.body  # enforce: no verdict to give

    # The next day, the same failures: the issue stays as it is.
    result, calls = site.monitor()
    assert writes(calls) == [] and issue.comments == []


IMAP_PASSWORD = "autopilot secret"


def _mail(doc: dict, attachment: bytes | None = None) -> bytes:
    message = EmailMessage()
    message["From"] = "noreply-smtp-tls-reporting@example.net"
    message["Subject"] = f"Report Domain: {DOMAIN} Submitter: {doc['organization-name']} Report-ID: <{doc['report-id']}>"
    message["Message-ID"] = f"<{doc['report-id']}@example.net>"
    message["TLS-Report-Domain"] = DOMAIN
    message.set_content("This is an aggregate TLS report.")
    message.add_attachment(gzip.compress(json.dumps(doc).encode()) if attachment is None else attachment, maintype="application",
                           subtype="tlsrpt+gzip", filename=f"{doc['organization-name']}!{DOMAIN}!1!2.json.gz")
    return bytes(message)


@pytest.mark.timeout(90)
@pytest.mark.parametrize("given", ["config", "flag"])
def test_the_config_s_mailbox_on_dovecot_opens_the_pull_request(given, tmp_path, dns_server_factory, tls_server_factory, local_github,
                                                                 test_ca, monkeypatch):
    """The mailbox from monitor.reports.imap, or from --imap on the command line."""
    require_tool("dovecot")
    server = DovecotServer(tmp_path / "dovecot", "reports@auto.test", IMAP_PASSWORD, test_ca)
    for doc in CLEAN:
        server.add(_mail(doc))
    with server:
        url = f"imaps://reports%40auto.test@127.0.0.1:{server.port}/INBOX"
        config = CONFIG + f"  promote: true\n  reports:\n    imap: {url}\n" if given == "config" else CONFIG
        flags = () if given == "config" else ("--imap", url, "--promote")
        site = Site(config, tmp_path, dns_server_factory, tls_server_factory, local_github, test_ca.pem_path, monkeypatch)
        monkeypatch.setenv("MTA_STS_PAGES_IMAP_PASSWORD", IMAP_PASSWORD)
        result, calls = site.monitor("--imap-ca-file", test_ca.pem_path, *flags, reports=False)
    assert f"{DOMAIN}: the TLS reports say ready; opened pull request #1 to enforce" in result.out
    [pull] = site.pulls()
    assert "| Google Inc., Microsoft Corporation | 2 | 22 | ready to enforce |" in pull.body
    before = site.github.files(REPOSITORY, "main")["mta-sts.yml"].decode()
    assert site.github.files(REPOSITORY, BRANCH)["mta-sts.yml"].decode() == before.replace("mode: testing", "mode: enforce")


@pytest.mark.timeout(90)
def test_the_monitor_promote_and_ready_fetch_only_the_window_s_mail(tmp_path, dns_server_factory, tls_server_factory, local_github,
                                                              test_ca, monkeypatch):
    """Both, and `reports --ready`, judge the readiness window alone, so they
    search the mailbox from the window's first day (IMAP SEARCH SINCE, a day
    early for time zones): a broken report delivered 60 days ago is not
    fetched, and cannot hold the verdict back as an unreadable input.
    `reports` reads the whole folder and shows it is there and broken."""
    require_tool("dovecot")
    server = DovecotServer(tmp_path / "dovecot", "reports@auto.test", IMAP_PASSWORD, test_ca)
    for doc in CLEAN:
        server.add(_mail(doc))
    old = report("google", TODAY - dt.timedelta(days=61), ok=3, domain=DOMAIN)
    server.add(_mail(old, attachment=b"not gzip"), received=time.time() - 60 * 86400)
    with server:
        url = f"imaps://reports%40auto.test@127.0.0.1:{server.port}/INBOX"
        site = Site(CONFIG, tmp_path, dns_server_factory, tls_server_factory, local_github, test_ca.pem_path, monkeypatch)
        monkeypatch.setenv("MTA_STS_PAGES_IMAP_PASSWORD", IMAP_PASSWORD)
        imap = ("--imap", url, "--imap-ca-file", test_ca.pem_path)
        whole = run_cli("reports", "--imap", url, "--ca-file", test_ca.pem_path, "--json")
        assert json.loads(whole.out)["reports"] == len(CLEAN) and len(json.loads(whole.out)["errors"]) == 1, whole.output
        judged = run_cli("reports", "--imap", url, "--ca-file", test_ca.pem_path, "--ready", "-c", site.work / "mta-sts.yml", "--json")
        assert judged.code == 0 and json.loads(judged.out)["errors"] == [], judged.output
        result, _ = site.monitor(*imap, "--promote", reports=False)
        assert f"{DOMAIN}: the TLS reports say ready; opened pull request #1 to enforce" in result.out, result.output
        promoted = run_cli("promote", "-c", site.work / "mta-sts.yml", "--imap", url, "--ca-file", test_ca.pem_path)
        assert promoted.code == 0 and "unreadable" not in promoted.output, promoted.output
    assert "mode: enforce" in (site.work / "mta-sts.yml").read_text()


def test_a_thousand_promoted_domains_cost_one_list_and_what_changes(tmp_path, dns_server_factory, tls_server_factory, local_github,
                                                                    test_ca, monkeypatch):
    """1,000 domains in testing with promote on: one newly ready, one whose
    open pull request is no longer ready, 998 not ready and without one. The
    open pull requests (150 others', a fork's among them) are listed once, two pages;
    then only the two domains' requests, the default branch read once: 12
    requests, where a list a domain would pass a workflow token's 1,000 an
    hour on its own."""
    from generator.autopilot import keep_pulls
    from generator.github.api import GitHub
    from generator.reports.collect import Period
    from generator.reports.command import Inputs, read_reports
    from generator.reports.evidence import gather
    from tests.support.local_github import Issue

    domains = [f"d{n}.test" for n in range(1000)]
    config = ('defaults:\n  tlsrpt: {rua: ["mailto:tls@example.net"]}\n  pages: {owner: example-org}\ndomains:\n'
              + "".join(f"  - domain: {d}\n    policy: {{mode: testing, mx: [mx1.{d}]}}\n" for d in domains))
    site = Site(CONFIG, tmp_path, dns_server_factory, tls_server_factory, local_github, test_ca.pem_path, monkeypatch)
    site.commit("mta-sts.yml", config.encode())
    ready, stale, forked = "d500.test", "d7.test", "d9.test"
    heads = [f"feature-{n}" for n in range(149)] + [f"mta-sts-pages/enforce-{stale}"]
    for number, head in enumerate(heads, start=1):
        site.repo.issues[number] = Issue(number, head, "someone's work", "octocat", [], pull={"head": head, "base": "main"})
    # A fork's branch of the monitor's name: somebody else's, neither closed nor kept.
    fork = local_github.repo("octocat/mta-sts-auto")
    site.repo.issues[151] = Issue(151, "mine", "a fork's", "octocat", [], pull={"head": f"mta-sts-pages/enforce-{forked}", "base": "main",
                                                                             "fork": fork})
    write_reports(site.reports, [report("google", DAYS[0], ok=12, domain=ready), report("microsoft", DAYS[1], ok=10, domain=ready)])
    collection = read_reports(Inputs((site.reports,)), Period(), {})
    found = gather(loads(config).domains, collection, dt.datetime.now(dt.UTC))
    before = len(local_github.calls)

    synced = keep_pulls(list(found.values()), "mta-sts.yml", GitHub(), REPOSITORY)

    assert {s.domain: s.action for s in synced if s.action != "not-ready"} == {stale: "closed", ready: "opened"}
    assert sum(s.action == "not-ready" for s in synced) == 998
    assert local_github.operations(before) == [
        LIST_PULLS, LIST_PULLS,  # the open ones, 100 a page
        "POST /repos/{owner}/{repo}/issues/{issue_number}/comments", "PATCH /repos/{owner}/{repo}/pulls/{pull_number}",  # stale
        LIST_PULLS,  # ready: was one closed by a person?
        "GET /repos/{owner}/{repo}", "GET /repos/{owner}/{repo}/git/ref/{ref}", "GET /repos/{owner}/{repo}/contents/{path}",
        "GET /repos/{owner}/{repo}/git/ref/{ref}", "POST /repos/{owner}/{repo}/git/refs", "PUT /repos/{owner}/{repo}/contents/{path}",
        "POST /repos/{owner}/{repo}/pulls",
    ]
    assert all(site.repo.issues[n].state == "open" and not site.repo.issues[n].comments for n in (*range(1, 150), 151))


def test_promote_without_reports_or_config_is_a_usage_error(tmp_path):
    config = tmp_path / "mta-sts.yml"
    config.write_text(CONFIG + "  promote: true\n")
    result = run_cli("validate", config)
    assert result.code == 2 and "monitor.promote: needs monitor.reports" in result.output, result.output
    config.write_text(CONFIG + "  reports:\n    imap: imaps://user:secret@imap.example.net/INBOX\n")
    result = run_cli("validate", config)
    assert result.code == 2 and "holds a password" in result.output and "user:***@imap" in result.output and "user:secret@" not in result.output, result.output
    policy = tmp_path / "mta-sts.txt"
    policy.write_bytes(loads(CONFIG).domains[0].policy_bytes)
    result = run_cli("monitor", DOMAIN, "--policy", policy, "--promote")
    assert result.code == 2 and "promoting needs the TLS reports" in result.output, result.output


def test_a_pull_request_whose_answer_was_lost_is_found_not_opened_twice(site):
    """GitHub opened the pull request, then the answer never came (a 502
    after the work): the run fails, and the next one finds the open pull
    request by its branch instead of opening a second."""
    write_reports(site.reports, CLEAN)
    site.github.fail("POST", r"/repos/[^/]+/[^/]+/pulls", 502, after=True)
    result = run_cli("monitor", DOMAIN, "--config", "mta-sts.yml", "--promote", "--reports", site.reports,
                     "--nameserver", site.nsd.address, "--ca-file", site.ca_pem,
                     "--connect-to", f"mta-sts.{DOMAIN}:443:example-org.github.io:{site.https.port}", cwd=site.work)
    assert result.code == 1 and "Traceback" not in result.output, result.output
    assert "HTTP 502" in result.err, result.err
    assert len(site.pulls()) == 1
    _, calls = site.monitor("--promote")
    assert writes(calls) == [] and len(site.pulls()) == 1
