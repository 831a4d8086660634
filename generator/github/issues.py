"""Issues and labels through REST: what the monitor keeps in step.

`gh issue` and `gh label` use GraphQL; these are the REST operations of
GitHub's description, so the tests can hold every request to it. One
paginated list per label reads every open issue the monitor keeps, however
many domains are healthy.
"""

from __future__ import annotations

import os

from generator.config import check_repository
from generator.github.api import GitHub, GitHubError, quote, said


def _full_name(value: str) -> bool:
    """OWNER/NAME by the rule the config holds pages.repository to."""
    try:
        check_repository(value)
    except ValueError:
        return False
    return True


def repository(client: GitHub) -> str:
    """The repository whose issues to keep: GH_REPO (as gh reads it), else
    GITHUB_REPOSITORY (every workflow run has it), else the clone's remote
    as gh finds it."""
    for variable in ("GH_REPO", "GITHUB_REPOSITORY"):
        value = os.environ.get(variable, "").strip()
        if value:
            if not _full_name(value):
                raise GitHubError(f"{variable}={said(value)} is not OWNER/NAME")
            return value
    # gh fills {owner}/{repo} from the clone's git remote.
    lost = "cannot tell which repository holds the issues: set GH_REPO=OWNER/NAME"
    try:
        found = client.get("repos/{owner}/{repo}").body
    except GitHubError as failed:
        raise GitHubError(f"{lost} ({failed})") from None
    name = found.get("full_name") if isinstance(found, dict) else None
    if not isinstance(name, str) or not _full_name(name):
        raise GitHubError(lost)
    return name


def open_issues(client: GitHub, repo: str, label: str) -> list[tuple[int, str]]:
    """(number, body) of the open issues (not pull requests) under ``label``, oldest first."""
    found = []
    for item in client.paginate(f"repos/{repo}/issues", {"labels": label, "state": "open", "direction": "asc"}, needs="issues: read"):
        if not isinstance(item, dict) or "pull_request" in item:
            continue
        number, body = item.get("number"), item.get("body")
        if not isinstance(number, int) or isinstance(number, bool):
            raise GitHubError(f"GET /repos/{repo}/issues listed an issue without a number: {said(str(item)[:200])}")
        found.append((number, body if isinstance(body, str) else ""))
    return sorted(found)


def ensure_label(client: GitHub, repo: str, name: str, color: str, description: str) -> None:
    """Create the label when the repository lacks it; one that exists keeps
    the colour and description its owners gave it (names ignore case)."""
    if client.get(f"repos/{repo}/labels/{quote(name)}", ok=(404,), needs="issues: read").status != 404:
        return
    made = client.request("POST", f"repos/{repo}/labels", {"name": name, "color": color, "description": description},
                          repeatable=True, ok=(422,), needs="issues: write")
    if made.status == 422 and "already_exists" not in str(made.body):  # 422 already_exists: made meanwhile, fine
        raise GitHubError(f"POST /repos/{repo}/labels: HTTP 422 {said(made.message)}", 422)


def open_issue(client: GitHub, repo: str, title: str, body: str, label: str) -> int:
    """A new issue carrying ``label`` from its first moment: the next run
    finds it by that label even when this run fails right after. Never
    repeated on a lost answer, which could open it twice."""
    made = client.request("POST", f"repos/{repo}/issues", {"title": title, "body": body, "labels": [label]}, needs="issues: write")
    number = made.body.get("number") if isinstance(made.body, dict) else None
    if not isinstance(number, int):
        raise GitHubError(f"POST /repos/{repo}/issues answered without an issue number: {said(str(made.body)[:200])}")
    return number


def comment(client: GitHub, repo: str, number: int, body: str) -> None:
    client.request("POST", f"repos/{repo}/issues/{number}/comments", {"body": body}, needs="issues: write")


def edit(client: GitHub, repo: str, number: int, **fields: str) -> None:
    """Change an issue's body, title or state (``state="closed"``)."""
    client.request("PATCH", f"repos/{repo}/issues/{number}", fields, needs="issues: write")
