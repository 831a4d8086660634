"""`pages setup` and `pages status` with the real gh and git against the
local GitHub, which holds every request to GitHub's REST API description:
from nothing to a repository with its site, custom domain and enforced
HTTPS; a second run that writes nothing; and each refusal with its message
and exit code."""

from __future__ import annotations

import datetime

import pytest

from generator import __version__
from generator.config import loads
from generator.github import api, pages
from generator.github.pages import SiteView, site_findings
from generator.release import action_ref
from generator.site import MONITOR_PATH, WORKFLOW_PATH, site_files
from tests.support.cli import run_cli
from tests.support.local_github import LocalGitHub, Site

pytestmark = pytest.mark.timeout(90)

CONFIG = """\
domain: a.test
policy:
  mode: testing
  mx: [mx.a.test]
pages:
  owner: alice
"""
REPO = "alice/mta-sts.a.test"
READ_SITE = "GET /repos/{owner}/{repo}/pages"
SET_SITE = "PUT /repos/{owner}/{repo}/pages"
HEALTH = "GET /repos/{owner}/{repo}/pages/health"


@pytest.fixture
def github(local_github: LocalGitHub, tmp_path, monkeypatch) -> LocalGitHub:
    """The local GitHub, this process's gh and git pointed at it as alice;
    polls and retries without the real pauses."""
    monkeypatch.setenv("HOME", str(tmp_path))
    local_github.environ(monkeypatch, local_github.token("alice"), tmp_path)
    monkeypatch.setattr(pages, "POLL", 0.01)
    monkeypatch.setattr(api, "RETRY_PAUSE", 0.01)
    return local_github


def setup(tmp_path, text: str = CONFIG, *args: str):
    config = tmp_path / "mta-sts.yml"
    config.write_text(text)
    return run_cli("pages", "setup", "-c", config, *args)


def test_from_nothing_to_enforced_https_then_a_second_run_writes_nothing(tmp_path, github):
    result = setup(tmp_path, CONFIG, "--wait", "5")

    assert result.code == 0, result.output
    repo = github.repos[REPO]
    assert not repo.private and repo.site.build_type == "workflow"
    assert repo.site.cname == "mta-sts.a.test" and repo.site.https_enforced
    built = site_files(loads(CONFIG).domains[0])
    pushed = github.files(REPO)
    assert pushed.pop(".mta-sts-pages-manifest.json")  # build's record of what it wrote, as in a clone built with -o
    assert pushed == built and WORKFLOW_PATH in built
    assert "created the public repository alice/mta-sts.a.test (Pages on a private repository needs a paid plan)" in result.out
    assert "set the custom domain mta-sts.a.test (before DNS points there" in result.out
    assert "enforced HTTPS" in result.out
    # The certificate went new -> approved -> issued over the polls, each with a progress line.
    assert "mta-sts.a.test: certificate new, waiting" in result.err and "mta-sts.a.test: certificate approved, waiting" in result.err
    # The custom domain came before the content, and HTTPS once issued.
    writes = [c.operation or c.path for c in github.writes()]
    assert writes == ["POST /user/repos", "POST /repos/{owner}/{repo}/pages", SET_SITE, f"/git/{REPO}.git/git-receive-pack", SET_SITE]
    assert github.calls[-1].operation == SET_SITE and github.calls[-1].body == {"https_enforced": True}

    before = len(github.calls)
    again = setup(tmp_path)

    assert again.code == 0, again.output
    assert again.out.startswith("a.test: alice/mta-sts.a.test: nothing changed (no write request, nothing pushed): repository, "
                                "content, site, custom domain and HTTPS are as they should be\n")
    assert [c for c in github.calls[before:] if c.writes] == []


def test_the_wait_ends_first_and_the_next_run_finishes(tmp_path, github):
    github.certificates[REPO] = ["new", "new", "issued"]

    first = setup(tmp_path)

    assert first.code == 0, first.output
    assert "left: HTTPS: the certificate for mta-sts.a.test is new; once the DNS records are published" in first.out
    assert "Publish these DNS records next" in first.out and "mta-sts.a.test. 3600 IN CNAME alice.github.io." in first.out.replace("\t", " ")
    assert not github.repos[REPO].site.https_enforced
    second = setup(tmp_path, CONFIG, "--wait", "5")
    assert second.code == 0 and "enforced HTTPS" in second.out, second.output
    assert github.repos[REPO].site.https_enforced


def test_an_existing_repository_and_site_are_reused(tmp_path, github):
    """Someone enabled Pages between our look and our POST: the 409 'already enabled' is fine."""
    github.repo(REPO, site=Site(build_type="workflow"))
    github.fail("GET", f"/repos/{REPO}/pages", 404, "Not Found")

    result = setup(tmp_path, CONFIG, "--wait", "5")

    assert result.code == 0, result.output
    assert "created the public repository" not in result.out and "created the Pages site" not in result.out
    assert [c.status for c in github.calls if c.operation == "POST /repos/{owner}/{repo}/pages"] == [409]
    assert github.repos[REPO].site.https_enforced


def test_https_refused_until_the_certificate_is_issued(tmp_path, github):
    """GitHub says issued, yet refuses https_enforced once ("The certificate
    has not finished being issued"): the poll goes on and the next try takes."""
    github.certificates[REPO] = ["issued"]
    github.fail("PUT", f"/repos/{REPO}/pages", 400, "The certificate has not finished being issued")
    github.repo(REPO, site=Site(build_type="workflow", cname="mta-sts.a.test", certificate=["issued"]))

    result = setup(tmp_path, CONFIG, "--wait", "5")

    assert result.code == 0, result.output
    statuses = [c.status for c in github.calls if c.operation == SET_SITE]
    assert statuses == [400, 204] and github.repos[REPO].site.https_enforced


@pytest.mark.parametrize(("state", "explained"), [
    ("bad_authz", "Let's Encrypt could not validate the domain: mta-sts.a.test must be a CNAME to alice.github.io"),
    ("errored", "GitHub could not issue the certificate"),
    ("dns_changed", "the DNS of mta-sts.a.test changed while the certificate was being issued"),
])
def test_a_certificate_that_waiting_does_not_mend_is_explained(tmp_path, github, state, explained):
    github.certificates[REPO] = ["new", state]

    result = setup(tmp_path, CONFIG, "--wait", "5")

    assert result.code == 1, result.output
    assert f"the certificate for mta-sts.a.test is {state}: {explained}" in result.out
    assert "Traceback" not in result.output


def test_a_workflow_token_is_refused_naming_the_permission(tmp_path, github, monkeypatch):
    github.org("example-org")
    github.environ(monkeypatch, github.token("github-actions[bot]", {"contents": "write", "pages": "write"}), tmp_path)

    result = setup(tmp_path, CONFIG.replace("owner: alice", "owner: example-org"))

    assert result.code == 1, result.output
    assert ('POST /orgs/example-org/repos: refused (HTTP 403 "Resource not accessible by integration"): the token lacks the '
            "administration: write permission; a workflow's GITHUB_TOKEN cannot get Administration") in result.out
    assert "Traceback" not in result.output
    assert "example-org/mta-sts.a.test" not in {r.lower() for r in github.repos}


def test_pages_on_a_private_repository_needs_a_paid_plan(tmp_path, github):
    github.repo(REPO, private=True)

    result = setup(tmp_path)

    assert result.code == 1, result.output
    assert "GitHub Pages on a private repository needs a paid plan" in result.out


def test_a_rate_limit_and_a_server_error_are_waited_out(tmp_path, github):
    github.rate_limit("POST", "/user/repos", seconds=1)
    github.fail("GET", f"/repos/{REPO}/pages", 502, times=2)

    result = setup(tmp_path, CONFIG, "--wait", "5")

    assert result.code == 0, result.output
    assert github.repos[REPO].site.https_enforced and len(github.repos) == 1
    assert github.faults == []


def test_three_domains_get_three_sites(tmp_path, github):
    text = ("defaults:\n  policy: {mode: testing, mx: [mx.example.net]}\n  pages: {owner: alice}\n"
            "domains:\n  - domain: a.test\n  - domain: b.test\n  - domain: c.test\n    pages: {repository: alice/c-policy}\n")

    result = setup(tmp_path, text, "--wait", "5")

    assert result.code == 0, result.output
    expected = {"alice/mta-sts.a.test": "mta-sts.a.test", "alice/mta-sts.b.test": "mta-sts.b.test", "alice/c-policy": "mta-sts.c.test"}
    assert {name: repo.site.cname for name, repo in github.repos.items()} == expected
    assert all(repo.site.https_enforced for repo in github.repos.values())
    for name, host in expected.items():
        assert github.files(name)["CNAME"] == f"{host}\n".encode()


def test_named_domains_alone_are_set_up_as_check_reads_names(tmp_path, github):
    """DOMAIN... picks domains of the config, spelt as check takes them (a
    U-label, any case, a trailing dot), each once; one not in it is a usage
    error before any request."""
    text = ("defaults:\n  policy: {mode: testing, mx: [mx.example.net]}\n  pages: {owner: alice}\n"
            "domains:\n  - domain: a.test\n  - domain: bücher.test\n")

    result = setup(tmp_path, text, "BÜCHER.test.", "xn--bcher-kva.test", "--wait", "5")

    assert result.code == 0, result.output
    assert sorted(github.repos) == ["alice/mta-sts.xn--bcher-kva.test"]
    before = len(github.calls)
    refused = run_cli("pages", "status", "nosuch.test", "-c", tmp_path / "mta-sts.yml")
    assert refused.code == 2 and "nosuch.test is not in" in refused.err, refused.output
    assert len(github.calls) == before


def test_a_config_without_owner_is_a_usage_error(tmp_path, github):
    result = setup(tmp_path, CONFIG.replace("pages:\n  owner: alice\n", ""))
    assert result.code == 2
    assert "a.test: set pages.owner (or pages.repository)" in result.err
    assert github.calls == []


def test_status_shows_githubs_view(tmp_path, github):
    assert setup(tmp_path, CONFIG, "--wait", "5").code == 0
    github.repos[REPO].site.health = {"host": "mta-sts.a.test", "dns_resolves": True, "is_proxied": True,
                                     "is_cname_to_github_user_domain": True, "is_https_eligible": True}

    result = run_cli("pages", "status", "-c", tmp_path / "mta-sts.yml")

    assert result.code == 0, result.output
    assert "  build type: workflow\n  custom domain: mta-sts.a.test\n  certificate: issued, expires " in result.out
    assert "  HTTPS enforced: yes\n  health check: a proxy is in front" in result.out
    assert "warning: [github-pages-health]" in result.out


def test_status_without_a_site(tmp_path, github):
    github.repo(REPO)
    (tmp_path / "mta-sts.yml").write_text(CONFIG)
    result = run_cli("pages", "status", "-c", tmp_path / "mta-sts.yml")
    assert result.code == 1
    assert "a.test: alice/mta-sts.a.test: no Pages site (pages setup creates it)" in result.out
    assert "error: [github-pages-missing]" in result.out


def test_check_adds_githubs_view_when_a_token_can_read_it(tmp_path, github):
    """check -c with a token: the site's certificate is still pending and
    HTTPS not enforced, as GitHub says; nothing listens for DNS, so the
    rest of the report is errors that do not matter here."""
    github.repo(REPO, site=Site(build_type="workflow", cname="mta-sts.a.test", certificate=["new"]))
    (tmp_path / "mta-sts.yml").write_text(CONFIG)

    result = run_cli("check", "-c", tmp_path / "mta-sts.yml", "--nameserver", "127.0.0.1:1", "--timeout", "3", "--workers", "1")

    assert "[github-pages-cert-pending]" in result.out and "[github-pages-http]" in result.out, result.output


@pytest.mark.parametrize(("site", "codes"), [
    ({"cname": "mta-sts.other.test", "https_enforced": True}, ["github-pages-domain"]),
    ({"cname": "mta-sts.a.test", "https_enforced": False, "https_certificate": {"state": "issued", "expires_at": "2026-01-10"}},
     ["github-pages-cert-expiring", "github-pages-http"]),
    ({"cname": "mta-sts.a.test", "https_enforced": True, "https_certificate": {"state": "bad_authz"}}, ["github-pages-cert-failed"]),
    ({"cname": "mta-sts.a.test", "https_enforced": True, "https_certificate": {"state": "issued", "expires_at": "2026-03-01"}}, []),
])
def test_githubs_view_as_findings(site, codes):
    config = loads(CONFIG).domains[0]
    found = site_findings(SiteView(REPO, site), config, today=datetime.date(2026, 1, 1))
    assert [f.code for f in found] == codes


def test_verify_adds_githubs_view_when_a_token_can_read_it(tmp_path, github):
    github.repo(REPO, site=Site(build_type="workflow", cname="mta-sts.other.test", certificate=["issued"]))
    (tmp_path / "mta-sts.yml").write_text(CONFIG)

    result = run_cli("verify", "-c", tmp_path / "mta-sts.yml", "--wait", "0", "--nameserver", "127.0.0.1:1", "--timeout", "3")

    assert result.code == 1
    assert "[github-pages-domain]" in result.out and "custom domain \"mta-sts.other.test\", not mta-sts.a.test" in result.out, result.output


def test_the_monitor_reports_githubs_view_in_the_issue(tmp_path, github, monkeypatch):
    """A token with pages: read: the monitor's issue carries what GitHub says of the site."""
    from generator.check.options import Target, make_options
    from generator.github.api import GitHub
    from generator.monitor import monitor

    github.repo(REPO, site=Site(build_type="workflow", cname="mta-sts.a.test", certificate=["bad_authz"], https_enforced=False))
    issues = github.repo("alice/policies")
    monkeypatch.setenv("GH_REPO", "alice/policies")
    options = make_options(nameservers=["127.0.0.1:1"], ca_file=None, connect_to=[], timeout=3, concurrency=1, smtp=False, github=True)
    config = loads(CONFIG).domains[0]

    [synced] = monitor([Target(config.domain, config)], options, GitHub())

    assert synced.action == "opened"
    assert "`github-pages-cert-failed`" in issues.issues[1].body and "`github-pages-http`" in issues.issues[1].body


def test_a_file_edited_in_the_repository_stops_that_domain_only(tmp_path, github):
    """Someone edited the built index.html in the repository: build never
    overwrites that, so setup says so for this domain and goes on with the next."""
    text = ("defaults:\n  policy: {mode: testing, mx: [mx.example.net]}\n  pages: {owner: alice}\n"
            "domains:\n  - domain: a.test\n  - domain: b.test\n")
    assert setup(tmp_path, text, "--wait", "5").code == 0
    import subprocess

    clone = tmp_path / "edit"
    env = {**__import__("os").environ, "GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@a.test", "GIT_COMMITTER_NAME": "a",
           "GIT_COMMITTER_EMAIL": "a@a.test"}
    helper = ["-c", "credential.helper=!gh auth git-credential"]
    subprocess.run(["git", *helper, "clone", "-q", f"https://{github.host_name}/{REPO}.git", str(clone)], check=True, env=env, timeout=30)
    (clone / "index.html").write_text("<h1>ours</h1>\n")
    subprocess.run(["git", "commit", "-qam", "ours"], cwd=clone, check=True, env=env, timeout=30)
    subprocess.run(["git", *helper, "push", "-q", "origin", "HEAD"], cwd=clone, check=True, env=env, timeout=30)
    github.repos["alice/mta-sts.b.test"].site.https_enforced = False

    result = setup(tmp_path, text.replace("mode: testing", "mode: enforce"), "--wait", "5")

    assert result.code == 1, result.output
    assert "a.test: alice/mta-sts.a.test: the files of alice/mta-sts.a.test conflict with the build" in result.out
    assert "index.html" in result.out and "/clone" not in result.out
    assert "b.test: alice/mta-sts.b.test:\n  did: pushed the site" in result.out and "enforced HTTPS" in result.out


def test_a_branch_deploy_pushes_first_then_publishes_the_branch(tmp_path, github):
    result = setup(tmp_path, CONFIG + "  deploy: branch\n", "--wait", "5")

    assert result.code == 0, result.output
    site = github.repos[REPO].site
    assert (site.build_type, site.cname, site.https_enforced) == ("legacy", "mta-sts.a.test", True)
    writes = [c.operation or c.path for c in github.writes()]
    assert writes[:3] == ["POST /user/repos", f"/git/{REPO}.git/git-receive-pack", "POST /repos/{owner}/{repo}/pages"]
    created = next(c for c in github.calls if c.operation == "POST /repos/{owner}/{repo}/pages")
    assert created.body == {"build_type": "legacy", "source": {"branch": "main", "path": "/"}}
    assert WORKFLOW_PATH not in github.files(REPO) and "CNAME" in github.files(REPO)


WAY_2 = CONFIG + "  content: config\n"


def test_way_2_pushes_the_config_and_its_workflow_then_a_second_run_writes_nothing(tmp_path, github):
    result = setup(tmp_path, WAY_2, "--wait", "5")

    assert result.code == 0, result.output
    pushed = github.files(REPO)
    assert pushed.pop(".mta-sts-pages-manifest.json")
    assert sorted(pushed) == [".github/dependabot.yml", WORKFLOW_PATH, "mta-sts.yml"]
    assert pushed["mta-sts.yml"] == WAY_2.encode()  # the file itself, comments and all
    # The workflow the cookiecutter template writes, pinned to this release.
    ref = action_ref()
    workflow = pushed[WORKFLOW_PATH].decode()
    assert workflow.count(f"uses: {ref.repository}@{ref.commit} # v{__version__}\n") == 2
    assert "config: mta-sts.yml" in workflow and "to mta-sts.a.test there" in workflow
    assert "pushed mta-sts.yml and its workflow to main" in result.out
    assert github.repos[REPO].site.https_enforced

    before = len(github.calls)
    again = setup(tmp_path, WAY_2)
    assert again.code == 0 and "nothing changed (no write request, nothing pushed)" in again.out, again.output
    assert [c for c in github.calls[before:] if c.writes] == []


def test_way_2_for_many_domains_gives_each_its_own_config(tmp_path, github):
    """The action builds one domain per config: each repository gets the
    domain's entry over the defaults, which loads to the same domain."""
    text = ("# many domains\ndefaults:\n  policy: {mode: testing, mx: [mx.example.net], max_age: 2w}\n"
            "  tlsrpt: {rua: ['mailto:tls@example.net']}\n  pages: {owner: alice, content: config}\n"
            "  monitor: {label: mail}\n"
            "domains:\n  - domain: a.test\n  - domain: bücher.test\n    policy: {mode: enforce}\n    monitor: {smtp: true}\n")

    result = setup(tmp_path, text, "--wait", "5")

    assert result.code == 0, result.output
    for domain in loads(text).domains:
        pushed = github.files(domain.repository)
        [own] = loads(pushed["mta-sts.yml"].decode()).domains
        assert own == domain
        assert MONITOR_PATH in pushed and "--config mta-sts.yml" in pushed[MONITOR_PATH].decode()
    before = len(github.calls)
    assert setup(tmp_path, text).code == 0
    assert [c for c in github.calls[before:] if c.writes] == []


def test_way_2_needs_a_workflow_deploy(tmp_path, github):
    result = setup(tmp_path, WAY_2.replace("  owner: alice\n", "  owner: alice\n  deploy: branch\n"))
    assert result.code == 2, result.output
    assert "pages.content: config needs deploy: workflow" in result.err and "mta-sts.yml:" in result.err
    assert github.calls == []


@pytest.mark.parametrize("config", [CONFIG, WAY_2], ids=["way-1", "way-2"])
def test_a_token_without_workflows_permission_is_told_so(tmp_path, github, monkeypatch, config):
    """GitHub refuses a push that adds a workflow to a token without
    workflows: write (a fine-grained token without it, a workflow's
    GITHUB_TOKEN); both ways push one."""
    github.repo(REPO)
    github.environ(monkeypatch, github.token("alice", {"contents": "write", "pages": "write"}), tmp_path)

    result = setup(tmp_path, config)

    assert result.code == 1, result.output
    assert "refusing to allow a GitHub App to create or update workflow `.github/workflows/" in result.out
    assert "the token needs workflows: write" in result.out
    assert "Traceback" not in result.output
    pushed = github._git(github.repos[REPO], "rev-parse", "--verify", "--quiet", "refs/heads/main", check=False)
    assert pushed.returncode != 0  # nothing reached the branch


def test_status_asks_one_request_a_site(tmp_path, github, monkeypatch):
    """`pages status` of 20 domains, each its own repository (one Pages site
    a repository), with a token that may read the sites but not GitHub's
    health check, as a workflow's: one GET .../pages a domain, and the
    health check asked once, since its refusal holds for them all."""
    domains = [f"d{n}.test" for n in range(20)]
    for domain in domains:
        github.repo(f"alice/mta-sts.{domain}", site=Site(cname=f"mta-sts.{domain}", certificate=["issued"], https_enforced=True,
                                                        health={"dns_resolves": True}))
    github.environ(monkeypatch, github.token("alice", {"pages": "read"}), tmp_path)
    config = tmp_path / "mta-sts.yml"
    config.write_text("defaults:\n  policy: {mode: testing, mx: [mx.example]}\n  pages: {owner: alice}\ndomains:\n"
                      + "".join(f"  - domain: {domain}\n" for domain in domains))
    before = len(github.calls)

    result = run_cli("pages", "status", "-c", config)

    assert result.code == 0, result.output
    assert github.operations(before) == [READ_SITE, HEALTH] + [READ_SITE] * 19
    assert result.out.count("health check: not readable with this token (it needs Administration: write)") == 20


def test_status_with_an_admin_token_asks_each_sites_health_check(tmp_path, github):
    assert setup(tmp_path, CONFIG, "--wait", "5").code == 0
    before = len(github.calls)
    assert run_cli("pages", "status", "-c", tmp_path / "mta-sts.yml").code == 0
    assert github.operations(before) == [READ_SITE, HEALTH]


def test_status_of_a_repository_the_token_cannot_see_is_not_a_missing_site(tmp_path, github, monkeypatch):
    github.repo(REPO, private=True, site=Site(cname="mta-sts.a.test"))
    github.environ(monkeypatch, github.token("mallory"), tmp_path)
    (tmp_path / "mta-sts.yml").write_text(CONFIG)
    result = run_cli("pages", "status", "-c", tmp_path / "mta-sts.yml")
    assert result.code == 1
    assert "no Pages site" not in result.out and f"a.test: {REPO}: " in result.out, result.out
    assert "not found (HTTP 404): it does not exist, or the token cannot see it" in result.out, result.out
