"""Branches, file contents and pull requests through REST: what the monitor
needs to keep one pull request open that changes one file.

Every call is an operation of GitHub's OpenAPI description (the tests hold
them to it); the git data is never cloned: the file is read and written
through the contents API, which makes the commit on the branch.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from generator.github.api import GitHub, GitHubError, PermissionRefused, quote, said


@dataclass(frozen=True)
class File:
    text: str
    sha: str  # the blob's, which a PUT that replaces it must name


@dataclass(frozen=True)
class Pull:
    number: int
    body: str
    merged: bool
    open: bool = True


def default_branch(client: GitHub, repo: str) -> str:
    found = client.get(f"repos/{repo}", needs="metadata: read").body
    name = found.get("default_branch") if isinstance(found, dict) else None
    if not isinstance(name, str) or not name:
        raise GitHubError(f"GET /repos/{repo} answered without a default branch: {said(str(found)[:200])}")
    return name


def _ref_path(branch: str) -> str:
    # The ref keeps its slashes (heads/mta-sts-pages/enforce-a.test); each segment is quoted.
    return "/".join(quote(part) for part in f"heads/{branch}".split("/"))


def branch_sha(client: GitHub, repo: str, branch: str) -> str | None:
    """The commit ``branch`` points at; None when there is no such branch."""
    answer = client.get(f"repos/{repo}/git/ref/{_ref_path(branch)}", ok=(404,), needs="contents: read")
    if answer.status == 404:
        return None
    sha = answer.body.get("object", {}).get("sha") if isinstance(answer.body, dict) else None
    if not isinstance(sha, str):
        raise GitHubError(f"GET /repos/{repo}/git/ref/heads/{said(branch)} answered without a commit: {said(str(answer.body)[:200])}")
    return sha


def set_branch(client: GitHub, repo: str, branch: str, sha: str, *, exists: bool) -> None:
    """Make ``branch`` point at ``sha``: created, or moved there (forced: the
    branch is the monitor's own, rebuilt on the default branch each time)."""
    if exists:
        client.request("PATCH", f"repos/{repo}/git/refs/{_ref_path(branch)}", {"sha": sha, "force": True}, needs="contents: write")
    else:
        client.request("POST", f"repos/{repo}/git/refs", {"ref": f"refs/heads/{branch}", "sha": sha}, repeatable=True, needs="contents: write")


def read_file(client: GitHub, repo: str, path: str, ref: str) -> File | None:
    """The text of ``path`` at ``ref`` (UTF-8); None when it is not there."""
    answer = client.get(f"repos/{repo}/contents/{'/'.join(quote(p) for p in path.split('/'))}", query={"ref": ref}, ok=(404,),
                        needs="contents: read")
    if answer.status == 404:
        return None
    body = answer.body if isinstance(answer.body, dict) else {}
    if body.get("type") != "file" or body.get("encoding") != "base64" or not isinstance(body.get("sha"), str):
        raise GitHubError(f"GET /repos/{repo}/contents/{said(path)}: not a file GitHub gave in base64")
    try:
        text = base64.b64decode(body.get("content", "")).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise GitHubError(f"{path} on {said(ref)} is not UTF-8 text") from None
    return File(text, body["sha"])


def write_file(client: GitHub, repo: str, path: str, branch: str, text: str, replaces: str, message: str) -> None:
    """Commit ``text`` as ``path`` on ``branch``, replacing the blob ``replaces``."""
    content = base64.b64encode(text.encode("utf-8")).decode()
    client.request("PUT", f"repos/{repo}/contents/{'/'.join(quote(p) for p in path.split('/'))}",
                   {"message": message, "content": content, "sha": replaces, "branch": branch}, needs="contents: write")


def _pull(item: object) -> Pull | None:
    """A pull request of GitHub's list, None for an item without a number."""
    if not isinstance(item, dict) or not isinstance(item.get("number"), int) or isinstance(item["number"], bool):
        return None
    return Pull(item["number"], item.get("body") or "", item.get("merged_at") is not None, item.get("state") == "open")


def open_pulls(client: GitHub, repo: str, prefix: str) -> dict[str, list[Pull]]:
    """The open pull requests from ``repo``'s own branches named ``prefix``...,
    by branch, oldest first: one paginated list for every branch, where
    :func:`pulls_from` is a list a branch."""
    found: dict[str, list[Pull]] = {}
    for item in client.paginate(f"repos/{repo}/pulls", {"state": "open", "direction": "asc"}, needs="pull-requests: read"):
        pull = _pull(item)
        if pull is None:
            continue
        head, base = item.get("head"), item.get("base")
        ref = head.get("ref") if isinstance(head, dict) else None
        # A fork's branch of the same name is somebody else's pull request.
        # Told by the repositories' ids, which a rename leaves alone.
        source = head.get("repo") if isinstance(head, dict) else None
        target = base.get("repo") if isinstance(base, dict) else None
        if (isinstance(ref, str) and ref.startswith(prefix) and isinstance(source, dict) and isinstance(target, dict)
                and source.get("id") is not None and source.get("id") == target.get("id")):
            found.setdefault(ref, []).append(pull)
    return {ref: sorted(pulls, key=lambda p: p.number) for ref, pulls in found.items()}


def pulls_from(client: GitHub, repo: str, branch: str) -> list[Pull]:
    """Every pull request, open or closed, from ``branch`` of ``repo`` itself, oldest first."""
    owner = repo.split("/")[0]
    found = [pull for item in client.paginate(f"repos/{repo}/pulls", {"state": "all", "head": f"{owner}:{branch}", "direction": "asc"},
                                              needs="pull-requests: read") if (pull := _pull(item)) is not None]
    return sorted(found, key=lambda p: p.number)


def create_pull(client: GitHub, repo: str, branch: str, base: str, title: str, body: str) -> int:
    """Never repeated on a lost answer: the next run finds it by its branch."""
    try:
        made = client.request("POST", f"repos/{repo}/pulls", {"title": title, "head": branch, "base": base, "body": body,
                                                              "maintainer_can_modify": True}, needs="pull-requests: write")
    except PermissionRefused as exc:
        if "not permitted to create" in str(exc):
            raise PermissionRefused(f"POST /repos/{repo}/pulls: GitHub does not let this workflow's GITHUB_TOKEN open pull requests: "
                                    'tick "Allow GitHub Actions to create and approve pull requests" (Settings > Actions > General), '
                                    "or give a GitHub App's token as GH_TOKEN (docs/github.md)", 403) from None
        raise
    number = made.body.get("number") if isinstance(made.body, dict) else None
    if not isinstance(number, int):
        raise GitHubError(f"POST /repos/{repo}/pulls answered without a number: {said(str(made.body)[:200])}")
    return number


def edit_pull(client: GitHub, repo: str, number: int, **fields: str) -> None:
    """Change a pull request's body, title or state (``state="closed"``)."""
    client.request("PATCH", f"repos/{repo}/pulls/{number}", fields, needs="pull-requests: write")
