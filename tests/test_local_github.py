"""The local GitHub itself: the real gh and git reach it, and it refuses what
GitHub's OpenAPI description does not allow."""

from __future__ import annotations

import json
import os
import runpy
import subprocess
from pathlib import Path

import pytest

from tests.support.local_github import LocalGitHub
from tests.support.openapi_check import DESCRIPTION, Description

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.timeout(60)


def gh(github: LocalGitHub, token: str, home: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **github.env(token, home)}
    return subprocess.run(["gh", "api", *args], env=env, input=stdin, capture_output=True, text=True, timeout=30)


def test_the_cut_records_its_source_and_holds_the_operations_the_script_lists():
    document = json.loads(DESCRIPTION.read_text())
    source = document["info"]["x-source"]
    script = runpy.run_path(str(ROOT / "scripts" / "update-github-openapi"))
    assert (source["package"], source["version"], source["cut-by"]) == (script["PACKAGE"], script["VERSION"], "scripts/update-github-openapi")
    cut = {(method, path) for path, item in document["paths"].items() for method in item if method != "parameters"}
    assert cut == set(script["OPERATIONS"])


@pytest.mark.parametrize(
    ("method", "path", "query", "body", "problem"),
    [
        pytest.param("GET", "/repos/o/r/pages/builds", {}, b"", "matches no path", id="unknown-path"),
        pytest.param("DELETE", "/repos/o/r/issues/1", {}, b"", "is not in GitHub's description", id="unknown-method"),
        pytest.param("GET", "/repos/o/r/issues", {"labels": ["x"], "colour": ["red"]}, b"", "query parameter colour is not in", id="unknown-query"),
        pytest.param("GET", "/repos/o/r/issues", {"per_page": ["lots"]}, b"", "is not an integer", id="bad-integer"),
        pytest.param("GET", "/repos/o/r/issues", {"state": ["opened"]}, b"", "'opened' is not one of", id="bad-enum"),
        pytest.param("POST", "/repos/o/r/pages", {}, b'{"build_type": "actions"}', "body build_type", id="bad-body-enum"),
        pytest.param("PUT", "/repos/o/r/pages", {}, b'{"https_enforced": "yes"}', "is not of type 'boolean'", id="bad-body-type"),
        pytest.param("POST", "/repos/o/r/issues", {}, b'{"body": "no title"}', "'title' is a required property", id="missing-field"),
        pytest.param("GET", "/repos/o/r", {}, b'{"x": 1}', "takes no body", id="body-on-get"),
    ],
)
def test_requests_outside_the_description_are_violations(method, path, query, body, problem):
    _, _, problems = Description().check_request(method, path, query, body)
    assert any(problem in p for p in problems), problems


def test_nullable_fields_take_null_and_their_type_only():
    description = Description()
    _, _, ok = description.check_request("PUT", "/repos/o/r/pages", {}, b'{"cname": null}')
    _, _, wrong = description.check_request("PUT", "/repos/o/r/pages", {}, b'{"cname": 5}')
    assert ok == [] and wrong


def test_gh_creates_a_repository_and_git_pushes_with_gh_as_credential_helper(local_github, tmp_path):
    token = local_github.token("alice")
    made = gh(local_github, token, tmp_path, "--method", "POST", "user/repos", "--input", "-", stdin='{"name": "site"}')
    assert made.returncode == 0, made.stderr
    clone = json.loads(made.stdout)["clone_url"]
    work = tmp_path / "work"
    work.mkdir()
    (work / "index.html").write_text("hello\n")
    env = {**os.environ, **local_github.env(token, tmp_path), "HOME": str(tmp_path)}
    for command in (["init", "-q", "-b", "main"], ["add", "-A"], ["-c", "user.name=a", "-c", "user.email=a@a.test", "commit", "-qm", "site"],
                    ["-c", "credential.helper=", "-c", "credential.helper=!gh auth git-credential", "push", "-q", clone, "HEAD:refs/heads/main"]):
        run = subprocess.run(["git", *command], cwd=work, env=env, capture_output=True, text=True, timeout=30)
        assert run.returncode == 0, run.stderr
    assert local_github.files("alice/site") == {"index.html": b"hello\n"}
    assert [c.path for c in local_github.writes()] == ["/user/repos", "/git/alice/site.git/git-receive-pack"]


def test_an_integration_token_is_refused_naming_the_permission(local_github, tmp_path):
    local_github.repo("org/site")
    token = local_github.token("github-actions[bot]", {"issues": "write", "pages": "read"})
    refused = gh(local_github, token, tmp_path, "--include", "--method", "POST", "repos/org/site/pages", "--input", "-",
                 stdin='{"build_type": "workflow"}')
    assert refused.returncode == 1
    assert "HTTP/1.1 403" in refused.stdout and "X-Accepted-Github-Permissions: pages=write" in refused.stdout
    assert "Resource not accessible by integration" in refused.stdout


def test_a_branch_site_needs_its_branch_first(local_github, tmp_path):
    """As GitHub: 422 "The main branch must exist before GitHub Pages can be
    built" for a branch site on an empty repository; a workflow site may."""
    local_github.repo("alice/empty")
    token = local_github.token("alice")
    refused = gh(local_github, token, tmp_path, "--method", "POST", "repos/alice/empty/pages", "--input", "-",
                 stdin='{"build_type": "legacy", "source": {"branch": "main", "path": "/"}}')
    assert refused.returncode == 1 and "The main branch must exist before GitHub Pages can be built" in refused.stderr
    made = gh(local_github, token, tmp_path, "--method", "POST", "repos/alice/empty/pages", "--input", "-", stdin='{"build_type": "workflow"}')
    assert made.returncode == 0, made.stderr


def test_faults_rate_limits_and_pagination(local_github, tmp_path):
    repo = local_github.repo("org/site")
    token = local_github.token("alice")
    local_github.org("org", "alice")
    for number in range(1, 6):
        assert gh(local_github, token, tmp_path, "--method", "POST", "repos/org/site/issues", "-f", f"title=t{number}").returncode == 0
    local_github.rate_limit("GET", "/repos/org/site/issues", seconds=2)
    limited = gh(local_github, token, tmp_path, "--include", "repos/org/site/issues?per_page=2")
    assert limited.returncode == 1 and "Retry-After: 2" in limited.stdout
    page = gh(local_github, token, tmp_path, "--include", "repos/org/site/issues?per_page=2")
    assert 'rel="next"' in page.stdout and 'rel="last"' in page.stdout
    everything = gh(local_github, token, tmp_path, "--paginate", "repos/org/site/issues?per_page=2")
    assert everything.returncode == 0
    local_github.fail("POST", "/repos/org/site/issues", 502, after=True)
    lost = gh(local_github, token, tmp_path, "--method", "POST", "repos/org/site/issues", "-f", "title=lost")
    assert lost.returncode == 1 and "HTTP 502" in lost.stderr
    assert [issue.title for issue in repo.issues.values()][-1] == "lost"  # done, though the answer was lost


def test_a_certificate_moves_on_and_https_waits_for_it(local_github, tmp_path):
    local_github.repo("alice/site")
    local_github.certificates["alice/site"] = ["new", "approved", "issued"]
    token = local_github.token("alice")
    assert gh(local_github, token, tmp_path, "--method", "POST", "repos/alice/site/pages", "-f", "build_type=workflow").returncode == 0
    assert gh(local_github, token, tmp_path, "--method", "PUT", "repos/alice/site/pages", "-f", "cname=mta-sts.a.test").returncode == 0
    early = gh(local_github, token, tmp_path, "--method", "PUT", "repos/alice/site/pages", "-F", "https_enforced=true")
    assert early.returncode == 1 and "The certificate has not finished being issued" in early.stderr
    states = [json.loads(gh(local_github, token, tmp_path, "repos/alice/site/pages").stdout)["https_certificate"]["state"] for _ in range(4)]
    assert states == ["new", "approved", "issued", "issued"]
    assert gh(local_github, token, tmp_path, "--method", "PUT", "repos/alice/site/pages", "-F", "https_enforced=true").returncode == 0


def test_contents_refs_and_pull_requests(local_github, tmp_path):
    """What a pull request that changes one file takes: read a file, branch
    off, commit the new content on the branch, open the pull request, find
    it again, update it."""
    local_github.repo("alice/site")
    token = local_github.token("alice")
    put = gh(local_github, token, tmp_path, "--method", "PUT", "repos/alice/site/contents/mta-sts.yml", "--input", "-",
             stdin=json.dumps({"message": "config", "content": "bW9kZTogdGVzdGluZwo="}))  # "mode: testing\n"
    assert put.returncode == 0, put.stderr
    main = json.loads(gh(local_github, token, tmp_path, "repos/alice/site/git/ref/heads/main").stdout)["object"]["sha"]
    assert main == local_github.head("alice/site")
    branch = gh(local_github, token, tmp_path, "--method", "POST", "repos/alice/site/git/refs", "-f", "ref=refs/heads/enforce", "-f", f"sha={main}")
    assert branch.returncode == 0, branch.stderr
    current = json.loads(gh(local_github, token, tmp_path, "repos/alice/site/contents/mta-sts.yml?ref=enforce").stdout)
    changed = gh(local_github, token, tmp_path, "--method", "PUT", "repos/alice/site/contents/mta-sts.yml", "--input", "-",
                 stdin=json.dumps({"message": "enforce", "content": "bW9kZTogZW5mb3JjZQo=", "sha": current["sha"], "branch": "enforce"}))
    assert changed.returncode == 0, changed.stderr
    assert local_github.files("alice/site", "enforce") == {"mta-sts.yml": b"mode: enforce\n"}
    assert local_github.files("alice/site") == {"mta-sts.yml": b"mode: testing\n"}
    opened = gh(local_github, token, tmp_path, "--method", "POST", "repos/alice/site/pulls", "-f", "title=Enforce", "-f", "head=enforce", "-f", "base=main")
    assert opened.returncode == 0, opened.stderr
    number = json.loads(opened.stdout)["number"]
    again = gh(local_github, token, tmp_path, "--method", "POST", "repos/alice/site/pulls", "-f", "title=Enforce", "-f", "head=enforce", "-f", "base=main")
    assert again.returncode == 1 and "A pull request already exists" in again.stdout + again.stderr
    listed = json.loads(gh(local_github, token, tmp_path, "repos/alice/site/pulls?state=open&head=alice:enforce").stdout)
    assert [pull["number"] for pull in listed] == [number]
    closed = gh(local_github, token, tmp_path, "--method", "PATCH", f"repos/alice/site/pulls/{number}", "-f", "state=closed")
    assert closed.returncode == 0 and json.loads(closed.stdout)["state"] == "closed"
    moved = gh(local_github, token, tmp_path, "--method", "PATCH", "repos/alice/site/git/refs/heads/enforce", "-f", f"sha={main}", "-F", "force=true")
    assert moved.returncode == 0, moved.stderr
    assert local_github.head("alice/site", "enforce") == main


def test_graphql_is_a_violation(local_github, tmp_path):
    """`gh issue list` asks GraphQL; the local GitHub refuses and records it."""
    local_github.repo("alice/site")
    env = {**os.environ, **local_github.env(local_github.token("alice"), tmp_path), "GH_REPO": f"{local_github.host_name}/alice/site"}
    failures = []
    # Once in a CI run, gh exited without its GraphQL request reaching the
    # server (not reproduced in 100 runs since): such an exit is retried, and
    # the test fails if none of three gets there.
    for _ in range(3):
        run = subprocess.run(["gh", "issue", "list"], env=env, capture_output=True, text=True, timeout=30)
        assert run.returncode != 0
        if local_github.violations:
            break
        failures.append(run.stderr)
    assert any("/api/graphql is neither GitHub's REST API" in v for v in local_github.violations), (local_github.violations, failures)
    local_github.violations.clear()  # seen: the fixture's teardown would fail on it
