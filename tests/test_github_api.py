"""The REST client (generator/github/api.py) with the real gh against the
local GitHub: retries, rate limits, refusals, pagination, and GitHub's
words kept as data."""

from __future__ import annotations

import pytest

from generator.github import api
from generator.github.api import GitHub, GitHubError, PermissionRefused, parse, said

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def user(local_github, tmp_path, monkeypatch):
    """This process's gh reaches the local GitHub as alice, who owns alice/site."""
    local_github.environ(monkeypatch, local_github.token("alice"), tmp_path)
    monkeypatch.setattr(api, "RETRY_PAUSE", 0.01)
    return local_github.repo("alice/site")


def test_a_get_is_retried_through_server_errors(local_github, user):
    local_github.fail("GET", "/repos/alice/site", 502, times=api.RETRIES)
    assert GitHub().get("repos/alice/site").body["full_name"] == "alice/site"
    assert [call.status for call in local_github.calls] == [502] * api.RETRIES + [200]


def test_a_get_gives_up_after_its_retries(local_github, user):
    local_github.fail("GET", "/repos/alice/site", 503, times=api.RETRIES + 1)
    with pytest.raises(GitHubError, match=r'GET /repos/alice/site: HTTP 503 "Service Unavailable"') as raised:
        GitHub().get("repos/alice/site")
    assert raised.value.status == 503 and len(local_github.calls) == api.RETRIES + 1


def test_a_post_is_not_repeated_after_a_server_error(local_github, user):
    local_github.fail("POST", "/repos/alice/site/labels", 500)
    with pytest.raises(GitHubError, match="HTTP 500"):
        GitHub().request("POST", "repos/alice/site/labels", {"name": "ops"})
    assert len(local_github.calls) == 1


def test_a_post_said_to_be_repeatable_is_retried(local_github, user):
    local_github.fail("POST", "/repos/alice/site/labels", 500)
    assert GitHub().request("POST", "repos/alice/site/labels", {"name": "ops"}, repeatable=True).status == 201


@pytest.mark.parametrize("status", [429, 403])
def test_rate_limits_are_waited_out(local_github, user, status):
    local_github.rate_limit("GET", "/repos/alice/site", status=status, seconds=1)
    waited = []
    assert GitHub(sleep=waited.append).get("repos/alice/site").status == 200
    assert len(waited) == 1 and 0 <= waited[0] <= 3


def test_a_refusal_names_the_missing_permission(local_github, tmp_path, monkeypatch):
    local_github.repo("org/site")
    local_github.environ(monkeypatch, local_github.token("github-actions[bot]", {"contents": "write"}), tmp_path)
    with pytest.raises(PermissionRefused, match="the token lacks the pages: write permission") as raised:
        GitHub().request("POST", "repos/org/site/pages", {"build_type": "workflow"})
    assert raised.value.status == 403 and raised.value.exit_code == 1


def test_a_hidden_repository_is_a_refusal_that_says_what_it_needs(local_github, tmp_path, monkeypatch):
    local_github.repo("org/private", private=True)
    local_github.environ(monkeypatch, local_github.token("mallory"), tmp_path)
    with pytest.raises(PermissionRefused, match=r"not found \(HTTP 404\): it does not exist, or the token cannot see it \(it needs metadata: read\)"):
        GitHub().get("repos/org/private", needs="metadata: read")


def test_what_github_says_stays_one_quoted_line(local_github, user):
    """A message with a newline, a workflow command and an escape sequence
    reaches the user on one line, the controls escaped."""
    local_github.fail("GET", "/repos/alice/site", 418, "nope\n::error::forged\x1b[31m red")
    with pytest.raises(GitHubError) as raised:
        GitHub().get("repos/alice/site")
    message = str(raised.value)
    assert "\n" not in message and "\x1b" not in message
    # gh itself writes ESC as ^[ in what it prints; said() escapes whatever gets past.
    assert 'HTTP 418 "nope ::error::forged^[[31m red"' in message
    assert said("a\x1b[31m\x9b\u202e\r\n::warning::b") == '"a\\x1b[31m\\x9b\\u202e ::warning::b"'



def test_pagination_follows_the_link_header(local_github, user):
    from tests.support.local_github import Issue

    for number in range(1, 251):
        user.issues[number] = Issue(number, f"t{number}", None, "alice", [])
    listed = list(GitHub().paginate("repos/alice/site/issues", {"state": "all"}))
    assert len(listed) == 250 and len({item["number"] for item in listed}) == 250
    assert [call.query.get("page") for call in local_github.calls] == [None, ["2"], ["3"]]


def test_gh_without_a_token_for_github_com_is_a_clear_error(tmp_path):
    script = tmp_path / "gh"
    script.write_text("#!/bin/sh\necho 'To get started with GitHub CLI, please run:  gh auth login' >&2\nexit 4\n")
    script.chmod(0o755)
    with pytest.raises(GitHubError, match="gh has no token: set GH_TOKEN"):
        GitHub(str(script)).get("user")


def test_a_failed_connection_is_retried_then_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(api, "RETRY_PAUSE", 0.01)
    script = tmp_path / "gh"
    script.write_text("#!/bin/sh\necho 'dial tcp 127.0.0.1:1: connect: connection refused' >&2\nexit 1\n")
    script.chmod(0o755)
    client = GitHub(str(script))
    with pytest.raises(GitHubError, match='no answer from GitHub \\("dial tcp 127.0.0.1:1: connect: connection refused"\\)'):
        client.get("user")
    assert client.requests == api.RETRIES + 1


def test_gh_include_output_is_parsed_with_either_line_end():
    for sep in (b"\r\n", b"\n"):
        answer = parse(b"HTTP/2.0 404 Not Found" + sep + b"X-Accepted-GitHub-Permissions: pages=read" + sep + sep + b'{"message": "Not Found"}')
        assert (answer.status, answer.headers["x-accepted-github-permissions"], answer.message) == (404, "pages=read", "Not Found")
    assert parse(b"") is None and parse(b"not http") is None


def test_the_monitor_finds_its_repository(local_github, user, tmp_path, monkeypatch):
    """GH_REPO first, then GITHUB_REPOSITORY, then the clone's remote as gh reads it; else a clear error."""
    from generator.github.issues import repository

    monkeypatch.setenv("GITHUB_REPOSITORY", "example-org/from-actions")
    assert repository(GitHub()) == "example-org/from-actions"
    monkeypatch.setenv("GH_REPO", "example-org/from-gh")
    assert repository(GitHub()) == "example-org/from-gh"
    monkeypatch.setenv("GH_REPO", "not a repository")
    with pytest.raises(GitHubError, match='GH_REPO="not a repository" is not OWNER/NAME'):
        repository(GitHub())
    monkeypatch.setenv("GH_REPO", "example-org/..")  # the rule pages.repository follows
    with pytest.raises(GitHubError, match='is not OWNER/NAME'):
        repository(GitHub())
    # Outside a clone gh cannot fill in {owner}/{repo}. (Inside one it reads
    # the remote, which gh matches to GH_HOST without its port: not testable here.)
    monkeypatch.delenv("GH_REPO")
    monkeypatch.delenv("GITHUB_REPOSITORY")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(GitHubError, match="cannot tell which repository holds the issues: set GH_REPO=OWNER/NAME"):
        repository(GitHub())
