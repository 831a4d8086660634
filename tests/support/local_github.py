"""A local GitHub for the tests: the REST API and git over HTTPS, on 127.0.0.1.

The real `gh` (Debian's) talks to it as to a GitHub Enterprise host:
``GH_HOST=localhost:PORT`` and ``GH_ENTERPRISE_TOKEN`` (see :meth:`LocalGitHub.env`),
so the API lives under ``/api/v3/``. It keeps state (users and
organisations, repositories, Pages sites with their certificates, issues,
labels, comments, pull requests) and checks every request, and every response
it sends, against GitHub's OpenAPI description (openapi_check.py): a request
outside the description is answered 400 and recorded in ``violations``,
which the ``local_github`` fixture asserts empty at teardown.

Git's smart HTTP goes through git's own ``git http-backend`` (CGI), with
basic authentication whose password is a token, so `git push` with
`gh auth git-credential` as the credential helper works as on github.com.

Tests steer it: ``token(...)`` makes tokens (a user's, or an integration's with
fine-grained permissions, refused as GitHub refuses: 403 "Resource not
accessible by integration" with ``X-Accepted-GitHub-Permissions``);
``fail(...)`` queues faults (a 5xx, a 429 with ``retry-after``, a 403 rate
limit, or a response lost after the work was done); ``certificates`` plans
the states a Pages certificate goes through, one per read of the site.
"""

from __future__ import annotations

import base64
import datetime
import http.server
import itertools
import json
import os
import re
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .certs import LocalCA
from .openapi_check import Description, Operation
from .server import HOST, Server

API = "/api/v3"
DOCS = "https://docs.github.com/rest"
_DESCRIPTION: Description | None = None


def description() -> Description:
    """The description, parsed once per test session."""
    global _DESCRIPTION
    if _DESCRIPTION is None:
        _DESCRIPTION = Description()
    return _DESCRIPTION


@dataclass
class Token:
    """A token: a user's (``permissions`` None: whatever the user may do) or
    an integration's (a workflow's GITHUB_TOKEN, a GitHub App's, a
    fine-grained token's) holding only ``permissions``, e.g.
    ``{"issues": "write", "pages": "read"}``."""

    login: str
    permissions: dict[str, str] | None = None


@dataclass
class Fault:
    """The answer for the next ``times`` requests matching ``method`` and the
    ``path`` pattern (an API path without /api/v3). ``after``: do the work
    first, then answer the fault, as when a response is lost."""

    method: str
    path: str
    status: int
    message: str
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1
    after: bool = False


@dataclass
class Call:
    """One request the server answered."""

    method: str
    path: str  # without /api/v3 for the API; the git path otherwise
    query: dict[str, list[str]]
    body: object  # the parsed JSON body, or None
    status: int
    login: str | None
    operation: str = ""  # "GET /repos/{owner}/{repo}/issues": the description's; "" for git

    @property
    def writes(self) -> bool:
        """Whether it asked for a change: any API method but GET, or a push."""
        if self.path.startswith("/git/"):
            return self.path.endswith("/git-receive-pack")
        return self.method not in ("GET", "HEAD")


@dataclass
class Site:
    """A repository's Pages site."""

    build_type: str = "workflow"
    cname: str | None = None
    https_enforced: bool = False
    certificate: list[str] = field(default_factory=list)  # states still to come; the first is the current one
    expires_at: str | None = None
    health: dict | None = None  # the DNS health check's "domain" object; None: 202 (still checking)


@dataclass
class Issue:
    number: int
    title: str
    body: str | None
    user: str
    labels: list[str]
    state: str = "open"
    comments: list[str] = field(default_factory=list)
    pull: dict | None = None  # head, base, merged, fork: a pull request shares the issues' numbers


@dataclass
class Repository:
    owner: str
    name: str
    private: bool
    default_branch: str = "main"
    site: Site | None = None
    labels: dict[str, dict] = field(default_factory=dict)  # lower-case name -> label
    issues: dict[int, Issue] = field(default_factory=dict)
    id: int = 0

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None, **extra) -> None:
        super().__init__(message)
        self.status, self.message, self.headers, self.extra = status, message, headers or {}, extra


class LocalGitHub(Server):
    """The server and its state; ``with LocalGitHub(ca, folder):`` runs it."""

    def __init__(self, ca: LocalCA, directory: Path) -> None:
        self.ca = ca
        self.directory = directory
        self.git_root = directory / "git"
        self.git_root.mkdir(parents=True, exist_ok=True)
        self.hooks = directory / "hooks"
        self.hooks.mkdir(exist_ok=True)
        (self.hooks / "pre-receive").write_text(_WORKFLOW_GUARD)
        (self.hooks / "pre-receive").chmod(0o755)
        self.description = description()
        self.users: set[str] = set()
        self.orgs: dict[str, set[str]] = {}  # organisation -> members who may create its repositories
        self.tokens: dict[str, Token] = {}
        self.repos: dict[str, Repository] = {}  # lower-case full name -> repository
        self.calls: list[Call] = []
        self.violations: list[str] = []
        self.faults: list[Fault] = []
        # full name -> the states a new custom domain's certificate goes through, one per read of the site
        self.certificates: dict[str, list[str]] = {}
        self.lock = threading.RLock()
        self._ids = itertools.count(1000)
        self._httpd: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- the test's controls ---------------------------------------------------------------

    def token(self, login: str, permissions: dict[str, str] | None = None) -> str:
        """A new token for ``login`` (a user, made if new)."""
        with self.lock:
            self.users.add(login)
            value = f"ghx_{next(self._ids)}_{login}"
            self.tokens[value] = Token(login, permissions)
            return value

    def org(self, name: str, *members: str) -> None:
        with self.lock:
            self.orgs[name.lower()] = set(members)
            self.users.update(members)

    def repo(self, full_name: str, *, private: bool = False, site: Site | None = None) -> Repository:
        """A repository that exists already (an empty bare one in git)."""
        owner, name = full_name.split("/")
        with self.lock:
            made = self._create(owner, name, private)
            made.site = site
            return made

    def fail(self, method: str, path: str, status: int, message: str = "", *, headers: dict[str, str] | None = None,
             times: int = 1, after: bool = False) -> None:
        """Queue a fault for requests matching ``method`` and the regex ``path``."""
        default = {502: "Server Error", 503: "Service Unavailable", 500: "Server Error"}.get(status, "fault")
        with self.lock:
            self.faults.append(Fault(method.upper(), path, status, message or default, dict(headers or {}), times, after))

    def rate_limit(self, method: str, path: str, *, status: int = 429, seconds: int = 1, times: int = 1) -> None:
        """GitHub's secondary (429, ``retry-after``) or primary (403,
        ``x-ratelimit-remaining: 0`` and ``x-ratelimit-reset``) rate limit."""
        if status == 429:
            headers = {"Retry-After": str(seconds)}
            message = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
        else:
            headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(time.time()) + seconds)}
            message = "API rate limit exceeded for installation."
        self.fail(method, path, status, message, headers=headers, times=times)

    def writes(self) -> list[Call]:
        return [call for call in self.calls if call.writes]

    def operations(self, since: int = 0) -> list[str]:
        """The API operations asked since call number ``since``, e.g. ``POST /repos/{owner}/{repo}/issues``."""
        return [call.operation for call in self.calls[since:] if call.operation]

    def environ(self, monkeypatch, token: str, home: Path) -> None:
        """Point this process's gh (and git) at this server with ``token``."""
        for name, value in self.env(token, home).items():
            monkeypatch.setenv(name, value)
        for name in ("GH_TOKEN", "GITHUB_TOKEN", "GH_REPO", "GITHUB_REPOSITORY"):
            monkeypatch.delenv(name, raising=False)

    def env(self, token: str, home: Path) -> dict[str, str]:
        """What `gh` and git need to use this server with ``token``; ``home``
        holds gh's config (none: nothing from the machine's own login)."""
        config = home / "gh-config"
        config.mkdir(parents=True, exist_ok=True)
        return {
            "GH_HOST": self.host_name,
            "GH_ENTERPRISE_TOKEN": token,
            "GH_CONFIG_DIR": str(config),
            "GH_NO_UPDATE_NOTIFIER": "1",
            "GH_PROMPT_DISABLED": "1",
            "SSL_CERT_FILE": str(self.ca.pem_path),
            "GIT_SSL_CAINFO": str(self.ca.pem_path),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
        }

    @property
    def host_name(self) -> str:
        return f"localhost:{self.port}"

    def head(self, full_name: str, branch: str | None = None) -> str | None:
        """The commit a branch of a repository points at, None when it has none."""
        repo = self.repos[full_name.lower()]
        run = self._git(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch or repo.default_branch}^{{commit}}", check=False)
        return run.stdout.strip() or None

    def files(self, full_name: str, branch: str | None = None) -> dict[str, bytes]:
        """Every file of a branch: path -> content."""
        repo = self.repos[full_name.lower()]
        ref = f"refs/heads/{branch or repo.default_branch}"
        names = self._git(repo, "ls-tree", "-r", "-z", "--name-only", ref).stdout.split("\0")
        return {name: self._git(repo, "show", f"{ref}:{name}", text=False).stdout for name in names if name}

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> LocalGitHub:
        context = self.ca.server_context("localhost")
        handler = type("Handler", (_Handler,), {"github": self})
        self._httpd = http.server.ThreadingHTTPServer((HOST, 0), handler)
        self._httpd.daemon_threads = True
        # The handshake runs in each request's thread, not in accept().
        self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True, do_handshake_on_connect=False)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    # -- the model ---------------------------------------------------------------------------

    def _create(self, owner: str, name: str, private: bool) -> Repository:
        key = f"{owner}/{name}".lower()
        if key in self.repos:
            raise ApiError(422, "Repository creation failed.",
                           errors=[{"resource": "Repository", "code": "custom", "field": "name", "message": "name already exists on this account"}])
        repo = Repository(owner, name, private, id=next(self._ids))
        subprocess.run(["git", "init", "--quiet", "--bare", "--initial-branch", repo.default_branch, str(self._git_dir(repo))],
                       check=True, timeout=30)
        self._git(repo, "config", "http.receivepack", "true")
        self.repos[key] = repo
        return repo

    def _git_dir(self, repo: Repository) -> Path:
        return self.git_root / repo.owner.lower() / f"{repo.name.lower()}.git"

    def _git(self, repo: Repository, *args: str, text: bool = True, check: bool = True, stdin: bytes | None = None):
        return subprocess.run(["git", "--git-dir", str(self._git_dir(repo)), *args], capture_output=True, text=text and stdin is None,
                              check=check, timeout=30, input=stdin)

    def _url(self, path: str) -> str:
        return f"https://{self.host_name}{API}{path}"

    def _user(self, login: str) -> dict:
        kind = "Organization" if login.lower() in self.orgs else "User"
        return {"login": login, "id": abs(hash(login)) % 10**6, "node_id": f"U_{login}", "type": kind, "site_admin": False,
                "url": self._url(f"/users/{login}"), "html_url": f"https://{self.host_name}/{login}"}

    def _repo_json(self, repo: Repository) -> dict:
        html = f"https://{self.host_name}/{repo.full_name}"
        return {
            "id": repo.id, "node_id": f"R_{repo.id}", "name": repo.name, "full_name": repo.full_name, "private": repo.private,
            "visibility": "private" if repo.private else "public", "owner": self._user(repo.owner), "html_url": html,
            "url": self._url(f"/repos/{repo.full_name}"), "clone_url": f"{html}.git", "default_branch": repo.default_branch,
            "has_pages": repo.site is not None, "fork": False, "archived": False, "disabled": False,
        }

    def _site_json(self, repo: Repository) -> dict:
        site = repo.site
        assert site is not None
        page = {
            "url": self._url(f"/repos/{repo.full_name}/pages"), "status": "built" if site.build_type else None,
            "cname": site.cname, "protected_domain_state": None, "pending_domain_unverified_at": None, "custom_404": False,
            "html_url": f"https://{site.cname}/" if site.cname else f"https://{repo.owner.lower()}.github.io/{repo.name}/",
            "build_type": site.build_type, "public": True, "https_enforced": site.https_enforced,
        }
        if site.build_type == "legacy":
            page["source"] = {"branch": repo.default_branch, "path": "/"}
        if site.cname and site.certificate:
            state = site.certificate[0]
            page["https_certificate"] = {"state": state, "description": _CERTIFICATE_TEXT.get(state, state), "domains": [site.cname]}
            if state in ("issued", "approved", "uploaded") and site.expires_at:
                page["https_certificate"]["expires_at"] = site.expires_at
        return page

    def _issue_json(self, repo: Repository, issue: Issue) -> dict:
        base = f"/repos/{repo.full_name}/issues/{issue.number}"
        value = {
            "id": issue.number + repo.id * 1000, "node_id": f"I_{repo.id}_{issue.number}", "number": issue.number,
            "title": issue.title, "body": issue.body, "state": issue.state, "user": self._user(issue.user),
            "labels": [repo.labels[name.lower()] for name in issue.labels], "url": self._url(base),
            "html_url": f"https://{self.host_name}/{repo.full_name}/{'pull' if issue.pull else 'issues'}/{issue.number}",
            "comments": len(issue.comments), "locked": False, "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z", "closed_at": None,
        }
        if issue.pull is not None:
            value["pull_request"] = {"url": self._url(f"/repos/{repo.full_name}/pulls/{issue.number}"), "html_url": value["html_url"],
                                     "diff_url": None, "patch_url": None}
        return value

    def _label(self, repo: Repository, name: str, color: str = "ededed", description: str | None = None) -> dict:
        label = {"id": next(self._ids), "node_id": f"L_{name}", "name": name, "color": color, "description": description,
                 "default": False, "url": self._url(f"/repos/{repo.full_name}/labels/{urllib.parse.quote(name)}")}
        repo.labels[name.lower()] = label
        return label


_CERTIFICATE_TEXT = {
    "new": "Certificate request is pending",
    "approved": "The certificate request has been approved",
    "issued": "The certificate has been issued",
    "bad_authz": "The certificate could not be issued because the domain authorization failed",
    "errored": "The certificate could not be issued",
    "dns_changed": "The DNS records of the domain changed",
}
# The fine-grained permission each operation needs (GitHub's "Permissions
# required for fine-grained personal access tokens"); "metadata" is always held.
PERMISSIONS = {
    ("GET", "/user"): None,  # an integration cannot read it at all
    ("POST", "/user/repos"): ("administration", "write"),
    ("POST", "/orgs/{org}/repos"): ("administration", "write"),
    ("GET", "/repos/{owner}/{repo}"): ("metadata", "read"),
    ("GET", "/repos/{owner}/{repo}/pages"): ("pages", "read"),
    ("POST", "/repos/{owner}/{repo}/pages"): ("pages", "write"),
    ("PUT", "/repos/{owner}/{repo}/pages"): ("pages", "write"),
    ("GET", "/repos/{owner}/{repo}/pages/health"): ("administration", "write"),
    ("GET", "/repos/{owner}/{repo}/issues"): ("issues", "read"),
    ("POST", "/repos/{owner}/{repo}/issues"): ("issues", "write"),
    ("PATCH", "/repos/{owner}/{repo}/issues/{issue_number}"): ("issues", "write"),
    ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments"): ("issues", "write"),
    ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/labels"): ("issues", "write"),
    ("GET", "/repos/{owner}/{repo}/labels/{name}"): ("issues", "read"),
    ("POST", "/repos/{owner}/{repo}/labels"): ("issues", "write"),
    ("GET", "/repos/{owner}/{repo}/pulls"): ("pull_requests", "read"),
    ("POST", "/repos/{owner}/{repo}/pulls"): ("pull_requests", "write"),
    ("PATCH", "/repos/{owner}/{repo}/pulls/{pull_number}"): ("pull_requests", "write"),
    ("GET", "/repos/{owner}/{repo}/git/ref/{ref}"): ("contents", "read"),
    ("POST", "/repos/{owner}/{repo}/git/refs"): ("contents", "write"),
    ("PATCH", "/repos/{owner}/{repo}/git/refs/{ref}"): ("contents", "write"),
    ("GET", "/repos/{owner}/{repo}/contents/{path}"): ("contents", "read"),
    ("PUT", "/repos/{owner}/{repo}/contents/{path}"): ("contents", "write"),
    ("GET", "/rate_limit"): ("metadata", "read"),
}
_LEVEL = {"read": 1, "write": 2}


# GitHub refuses a push that adds or changes a file under .github/workflows/
# to a token without workflows: write (a fine-grained token or app without
# it, and every workflow's GITHUB_TOKEN), naming the first such file; git
# shows the hook's line as "remote: ...".
_WORKFLOW_GUARD = r"""#!/bin/sh
[ "$MAY_PUSH_WORKFLOWS" = 1 ] && exit 0
zero=0000000000000000000000000000000000000000
while read -r old new ref; do
  [ "$new" = "$zero" ] && continue
  if [ "$old" = "$zero" ]; then
    changed=$(git ls-tree -r --name-only "$new")
  else
    changed=$(git diff --name-only "$old" "$new")
  fi
  workflow=$(printf '%s
' "$changed" | grep -m 1 '^\.github/workflows/')
  if [ -n "$workflow" ]; then
    echo "refusing to allow a GitHub App to create or update workflow \`$workflow\` without \`workflows\` permission" >&2
    exit 1
  fi
done
exit 0
"""


def _holds(token: Token, needed: tuple[str, str]) -> bool:
    if token.permissions is None or needed[0] == "metadata":
        return True
    return _LEVEL.get(token.permissions.get(needed[0], ""), 0) >= _LEVEL[needed[1]]


class _Handler(http.server.BaseHTTPRequestHandler):
    github: LocalGitHub
    protocol_version = "HTTP/1.1"
    server_version = "LocalGitHub"

    def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's name
        pass

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    # -- plumbing ----------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _send(self, status: int, body: bytes, headers: Iterable[tuple[str, str]] = ()) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _token(self) -> Token | None:
        value = self.headers.get("Authorization", "")
        scheme, _, credential = value.partition(" ")
        if scheme.lower() == "basic":
            credential = base64.b64decode(credential).decode().partition(":")[2]
        elif scheme.lower() not in ("token", "bearer"):
            return None
        return self.github.tokens.get(credential.strip())

    def _dispatch(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        body = self._read_body()
        if url.path.startswith(API + "/") or url.path == API:
            self._api(url.path.removeprefix(API), urllib.parse.parse_qs(url.query, keep_blank_values=True), body)
        else:
            self._git(url.path, url.query, body)

    # -- the REST API ------------------------------------------------------------------------

    def _api(self, path: str, query: dict[str, list[str]], raw: bytes) -> None:
        github = self.github
        token = self._token()
        operation, params, problems = github.description.check_request(self.command, path, query, raw)
        # Path parameters arrive percent-encoded (a label's name, a ref).
        params = {name: urllib.parse.unquote(value) for name, value in params.items()}
        try:
            parsed = json.loads(raw) if raw.strip() else None
        except ValueError:
            parsed = None
        headers = [("Content-Type", "application/json; charset=utf-8"), ("X-GitHub-Media-Type", "github.v3"),
                   ("X-RateLimit-Limit", "5000"), ("X-RateLimit-Remaining", "4999"), ("X-RateLimit-Reset", str(int(time.time()) + 3600))]
        fault = None
        with github.lock:
            if problems:
                github.violations += problems
                status, value = 400, {"message": "; ".join(problems), "documentation_url": DOCS}
            elif token is None:
                status, value = 401, {"message": "Bad credentials", "documentation_url": DOCS}
            else:
                fault = self._take_fault(path)
                if fault is not None and not fault.after:
                    status, value = fault.status, {"message": fault.message, "documentation_url": DOCS}
                else:
                    try:
                        status, value, extra = self._serve(operation, params, query, parsed, token)
                        headers += extra
                    except ApiError as refused:
                        status = refused.status
                        value = {"message": refused.message, "documentation_url": DOCS, **refused.extra}
                        headers += list(refused.headers.items())
                    if fault is not None:  # the work is done; the answer is lost
                        status, value = fault.status, {"message": fault.message, "documentation_url": DOCS}
            if fault is not None:
                headers = [h for h in headers if h[0].lower() not in {k.lower() for k in fault.headers}] + list(fault.headers.items())
            body = b"" if value is None else json.dumps(value).encode()
            if operation is not None and fault is None and not problems:
                github.violations += github.description.check_response(operation, status, body)
            github.calls.append(Call(self.command, path, query, parsed, status, token.login if token else None,
                                     f"{operation.method} {operation.template}" if operation else ""))
        self._send(status, body, headers if body else [h for h in headers if h[0] != "Content-Type"])

    def _take_fault(self, path: str) -> Fault | None:
        for fault in self.github.faults:
            if fault.method == self.command and re.fullmatch(fault.path, path):
                fault.times -= 1
                if fault.times <= 0:
                    self.github.faults.remove(fault)
                return fault
        return None

    def _repository(self, params: dict[str, str], token: Token) -> Repository:
        repo = self.github.repos.get(f"{params['owner']}/{params['repo']}".lower())
        if repo is None or (repo.private and not self._may_see(repo, token)):
            raise ApiError(404, "Not Found")
        return repo

    def _may_see(self, repo: Repository, token: Token) -> bool:
        owner = repo.owner.lower()
        return token.login.lower() == owner or token.login in self.github.orgs.get(owner, set())

    def _serve(self, operation: Operation, params: dict[str, str], query: dict[str, list[str]], body, token: Token):
        """(status, JSON value or None, extra headers) of a request the description allows."""
        github = self.github
        key = (operation.method, operation.template)
        needed = PERMISSIONS[key]
        if token.permissions is not None and (needed is None or not _holds(token, needed)):
            accepted = [("X-Accepted-GitHub-Permissions", f"{needed[0]}={needed[1]}")] if needed else []
            raise ApiError(403, "Resource not accessible by integration", dict(accepted))
        match key:
            case ("GET", "/user"):
                return 200, github._user(token.login), []
            case ("GET", "/rate_limit"):
                core = {"limit": 5000, "remaining": 4999, "reset": int(time.time()) + 3600, "used": 1}
                return 200, {"resources": {"core": core, "search": core}, "rate": core}, []
            case ("POST", "/user/repos") | ("POST", "/orgs/{org}/repos"):
                owner = params.get("org", token.login)
                if "org" in params:
                    if owner.lower() not in github.orgs:
                        raise ApiError(404, "Not Found")
                    if token.login not in github.orgs[owner.lower()]:
                        raise ApiError(403, "You need admin access to the organization before adding a repository to it.")
                repo = github._create(owner, body["name"], bool(body.get("private", False)))
                return 201, github._repo_json(repo), [("Location", github._url(f"/repos/{repo.full_name}"))]
        repo = self._repository(params, token)
        if operation.method != "GET" and token.permissions is None and not self._may_see(repo, token):
            raise ApiError(403, "Must have admin rights to Repository.")
        match key:
            case ("GET", "/repos/{owner}/{repo}"):
                return 200, github._repo_json(repo), []
            case ("GET", "/repos/{owner}/{repo}/pages"):
                if repo.site is None:
                    raise ApiError(404, "Not Found")
                value = github._site_json(repo)
                if len(repo.site.certificate) > 1:  # the certificate moves on between reads
                    repo.site.certificate.pop(0)
                return 200, value, []
            case ("POST", "/repos/{owner}/{repo}/pages"):
                if repo.private:
                    raise ApiError(422, "Your current plan does not support GitHub Pages for this repository.")
                if repo.site is not None:
                    raise ApiError(409, "GitHub Pages is already enabled.")
                self._branch_exists(repo, body)
                repo.site = Site(build_type=body.get("build_type", "legacy"))
                return 201, github._site_json(repo), []
            case ("PUT", "/repos/{owner}/{repo}/pages"):
                return self._update_site(repo, body)
            case ("GET", "/repos/{owner}/{repo}/pages/health"):
                if repo.site is None or repo.site.cname is None:
                    raise ApiError(404, "Not Found")
                if repo.site.health is None:
                    return 202, {}, []
                return 200, {"domain": repo.site.health, "alt_domain": None}, []
            case ("GET", "/repos/{owner}/{repo}/issues"):
                return self._list_issues(repo, query)
            case ("POST", "/repos/{owner}/{repo}/issues"):
                number = len(repo.issues) + 1
                names = [self._known_label(repo, name) for name in body.get("labels", [])]
                repo.issues[number] = Issue(number, body["title"], body.get("body"), token.login, names)
                return 201, github._issue_json(repo, repo.issues[number]), []
            case ("PATCH", "/repos/{owner}/{repo}/issues/{issue_number}"):
                issue = self._issue(repo, params)
                if "body" in body:
                    issue.body = body["body"]
                if "title" in body:
                    issue.title = body["title"]
                if "state" in body:
                    issue.state = body["state"]
                if "labels" in body:
                    issue.labels = [self._known_label(repo, name) for name in body["labels"]]
                return 200, github._issue_json(repo, issue), []
            case ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments"):
                issue = self._issue(repo, params)
                issue.comments.append(body["body"])
                comment = {"id": next(github._ids), "node_id": "C", "body": body["body"], "user": github._user(token.login),
                           "url": github._url(f"/repos/{repo.full_name}/issues/comments/1"),
                           "html_url": f"https://{github.host_name}/{repo.full_name}/issues/{issue.number}",
                           "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"}
                return 201, comment, []
            case ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/labels"):
                issue = self._issue(repo, params)
                for name in body.get("labels", []) if isinstance(body, dict) else []:
                    name = self._known_label(repo, name)
                    if name.lower() not in {n.lower() for n in issue.labels}:
                        issue.labels.append(name)
                return 200, [repo.labels[n.lower()] for n in issue.labels], []
            case ("GET", "/repos/{owner}/{repo}/labels/{name}"):
                label = repo.labels.get(params["name"].lower())
                if label is None:
                    raise ApiError(404, "Not Found")
                return 200, label, []
            case ("POST", "/repos/{owner}/{repo}/labels"):
                if body["name"].lower() in repo.labels:
                    raise ApiError(422, "Validation Failed", errors=[{"resource": "Label", "code": "already_exists", "field": "name"}])
                return 201, github._label(repo, body["name"], body.get("color", "ededed"), body.get("description")), []
            case ("GET", "/repos/{owner}/{repo}/pulls"):
                return self._list_pulls(repo, query)
            case ("POST", "/repos/{owner}/{repo}/pulls"):
                return self._open_pull(repo, body, token)
            case ("PATCH", "/repos/{owner}/{repo}/pulls/{pull_number}"):
                issue = repo.issues.get(int(params["pull_number"]))
                if issue is None or issue.pull is None:
                    raise ApiError(404, "Not Found")
                for name in ("title", "body", "state"):
                    if name in body:
                        setattr(issue, name, body[name])
                return 200, self._pull_json(repo, issue), []
            case ("GET", "/repos/{owner}/{repo}/git/ref/{ref}"):
                return 200, self._ref_json(repo, params["ref"]), []
            case ("POST", "/repos/{owner}/{repo}/git/refs"):
                ref = body["ref"]
                if not ref.startswith("refs/") or self._sha(repo, ref.removeprefix("refs/")):
                    raise ApiError(422, "Reference already exists")
                self._update_ref(repo, ref, body["sha"])
                return 201, self._ref_json(repo, ref.removeprefix("refs/")), []
            case ("PATCH", "/repos/{owner}/{repo}/git/refs/{ref}"):
                old = self._sha(repo, params["ref"])
                if old is None:
                    raise ApiError(422, "Reference does not exist")
                fast_forward = github._git(repo, "merge-base", "--is-ancestor", old, body["sha"], check=False).returncode == 0
                if not fast_forward and not body.get("force"):
                    raise ApiError(422, "Update is not a fast forward")
                self._update_ref(repo, f"refs/{params['ref']}", body["sha"])
                return 200, self._ref_json(repo, params["ref"]), []
            case ("GET", "/repos/{owner}/{repo}/contents/{path}"):
                return self._get_content(repo, params["path"], (query.get("ref") or [repo.default_branch])[0])
            case ("PUT", "/repos/{owner}/{repo}/contents/{path}"):
                return self._put_content(repo, params["path"], body, token)
        raise AssertionError(f"the local GitHub has no handler for {key}")

    def _branch_exists(self, repo: Repository, body: dict) -> None:
        """A site built from a branch (legacy) needs the branch, as GitHub refuses it otherwise."""
        if body.get("build_type") == "workflow":
            return
        branch = (body.get("source") or {}).get("branch") or repo.default_branch
        if self.github._git(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", check=False).returncode != 0:
            raise ApiError(422, f"The {branch} branch must exist before GitHub Pages can be built.")

    def _update_site(self, repo: Repository, body: dict):
        site = repo.site
        if site is None:
            raise ApiError(404, "Not Found")
        if "build_type" in body:
            self._branch_exists(repo, body)
            site.build_type = body["build_type"]
        if "cname" in body and body["cname"] != site.cname:
            site.cname = body["cname"]
            site.https_enforced = False
            site.certificate = list(self.github.certificates.get(repo.full_name, ["new", "approved", "issued"])) if site.cname else []
            site.expires_at = (datetime.date.today() + datetime.timedelta(days=90)).isoformat()
        if body.get("https_enforced") is True and not site.https_enforced:
            if not site.cname or not site.certificate or site.certificate[0] != "issued":
                raise ApiError(400, "The certificate has not finished being issued.")
            site.https_enforced = True
        elif body.get("https_enforced") is False:
            site.https_enforced = False
        return 204, None, []

    def _list_issues(self, repo: Repository, query: dict[str, list[str]]):
        state = (query.get("state") or ["open"])[0]
        wanted = [name.strip().lower() for name in (query.get("labels") or [""])[0].split(",") if name.strip()]
        found = [issue for issue in sorted(repo.issues.values(), key=lambda i: -i.number)
                 if state in ("all", issue.state) and all(w in {n.lower() for n in issue.labels} for w in wanted)]
        if (query.get("direction") or ["desc"])[0] == "asc":
            found.reverse()
        return self._page(f"/repos/{repo.full_name}/issues", query, [self.github._issue_json(repo, i) for i in found])

    def _page(self, path: str, query: dict[str, list[str]], items: list) -> tuple[int, list, list]:
        per_page = min(int((query.get("per_page") or ["30"])[0]), 100)
        page = max(int((query.get("page") or ["1"])[0]), 1)
        last = max(1, -(-len(items) // per_page))
        links = []
        for rel, number in (("prev", page - 1), ("next", page + 1), ("first", 1), ("last", last)):
            if 1 <= number <= last and number != page:
                flat = {name: values[0] for name, values in query.items()} | {"page": str(number)}
                links.append(f'<{self.github._url(path)}?{urllib.parse.urlencode(flat)}>; rel="{rel}"')
        return 200, items[(page - 1) * per_page: page * per_page], [("Link", ", ".join(links))] if links else []

    def _known_label(self, repo: Repository, name: str) -> str:
        """GitHub makes a label an issue names when the repository lacks it."""
        label = repo.labels.get(name.lower()) or self.github._label(repo, name)
        return label["name"]

    def _issue(self, repo: Repository, params: dict[str, str]) -> Issue:
        issue = repo.issues.get(int(params["issue_number"]))
        if issue is None:
            raise ApiError(404, "Not Found")
        return issue

    # -- pull requests and git data ------------------------------------------------------------------

    def _sha(self, repo: Repository, ref: str) -> str | None:
        run = self.github._git(repo, "rev-parse", "--verify", "--quiet", f"refs/{ref}", check=False)
        return run.stdout.strip() or None

    def _update_ref(self, repo: Repository, ref: str, sha: str) -> None:
        if self.github._git(repo, "cat-file", "-e", f"{sha}^{{commit}}", check=False).returncode != 0:
            raise ApiError(422, "Object does not exist")
        self.github._git(repo, "update-ref", ref, sha)

    def _ref_json(self, repo: Repository, ref: str) -> dict:
        sha = self._sha(repo, ref)
        if sha is None:
            raise ApiError(404, "Not Found")
        return {"ref": f"refs/{ref}", "node_id": f"REF_{ref}", "url": self.github._url(f"/repos/{repo.full_name}/git/refs/{ref}"),
                "object": {"type": "commit", "sha": sha, "url": self.github._url(f"/repos/{repo.full_name}/git/commits/{sha}")}}

    def _pull_json(self, repo: Repository, issue: Issue) -> dict:
        value = self.github._issue_json(repo, issue)
        del value["pull_request"]
        pull = issue.pull or {}
        sides = {"head": pull.get("fork") or repo, "base": repo}  # "fork": the Repository a fork's pull request comes from
        side = {name: {"ref": pull[name], "label": f"{of.owner}:{pull[name]}", "sha": self._sha(of, f"heads/{pull[name]}") or "",
                       "user": self.github._user(of.owner), "repo": self.github._repo_json(of)} for name, of in sides.items()}
        return value | side | {"merged": False, "draft": False, "html_url": value["html_url"]}

    def _list_pulls(self, repo: Repository, query: dict[str, list[str]]):
        state = (query.get("state") or ["open"])[0]
        head = (query.get("head") or [None])[0]
        found = [self._pull_json(repo, issue) for issue in sorted(repo.issues.values(), key=lambda i: -i.number)
                 if issue.pull is not None and state in ("all", issue.state)
                 and (head is None or head.lower() == f"{(issue.pull.get('fork') or repo).owner}:{issue.pull['head']}".lower()
                      or (head.lower() == issue.pull["head"].lower() and not issue.pull.get("fork")))]
        return self._page(f"/repos/{repo.full_name}/pulls", query, found)

    def _open_pull(self, repo: Repository, body: dict, token: Token):
        head, base = body["head"].split(":")[-1], body["base"]
        for branch in (head, base):
            if self._sha(repo, f"heads/{branch}") is None:
                raise ApiError(422, "Validation Failed", errors=[{"resource": "PullRequest", "code": "invalid", "field": "head" if branch == head else "base"}])
        if any(i.pull and i.state == "open" and i.pull["head"] == head for i in repo.issues.values()):
            raise ApiError(422, "Validation Failed", errors=[{"resource": "PullRequest", "code": "custom", "message": f"A pull request already exists for {repo.owner}:{head}."}])
        number = len(repo.issues) + 1
        repo.issues[number] = Issue(number, body.get("title", head), body.get("body"), token.login, [], pull={"head": head, "base": base})
        return 201, self._pull_json(repo, repo.issues[number]), []

    def _get_content(self, repo: Repository, path: str, ref: str):
        git = self.github._git
        run = git(repo, "rev-parse", "--verify", "--quiet", f"{ref}:{path}", check=False)
        blob = run.stdout.strip()
        if not blob or git(repo, "cat-file", "-t", blob).stdout.strip() != "blob":
            raise ApiError(404, "Not Found")
        content = git(repo, "cat-file", "blob", blob, text=False).stdout
        api = self.github._url(f"/repos/{repo.full_name}/contents/{path}")
        html = f"https://{self.github.host_name}/{repo.full_name}/blob/{ref.removeprefix('refs/heads/')}/{path}"
        git_url = self.github._url(f"/repos/{repo.full_name}/git/blobs/{blob}")
        raw = f"https://{self.github.host_name}/{repo.full_name}/raw/{ref.removeprefix('refs/heads/')}/{path}"
        return 200, {"type": "file", "encoding": "base64", "size": len(content), "name": path.rsplit("/", 1)[-1], "path": path,
                     "content": base64.encodebytes(content).decode(), "sha": blob, "url": api, "git_url": git_url, "html_url": html,
                     "download_url": raw, "_links": {"self": api, "git": git_url, "html": html}}, []

    def _put_content(self, repo: Repository, path: str, body: dict, token: Token):
        """A commit on a branch that sets one file, as the contents API makes it."""
        git = self.github._git
        branch = body.get("branch") or repo.default_branch
        parent = self._sha(repo, f"heads/{branch}")
        current = git(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}:{path}", check=False).stdout.strip() if parent else ""
        if current and body.get("sha") != current:
            raise ApiError(409, f"{path} does not match {body.get('sha')}")
        if not current and body.get("sha"):
            raise ApiError(422, "Invalid request.\n\n\"sha\" wasn't supplied.")
        blob = git(repo, "hash-object", "-w", "--stdin", stdin=base64.b64decode(body["content"])).stdout.decode().strip()
        index = self.github.directory / f"index-{next(self.github._ids)}"
        env_git = ["git", "--git-dir", str(self.github._git_dir(repo))]
        env = {**os.environ, "GIT_INDEX_FILE": str(index), "GIT_AUTHOR_NAME": token.login, "GIT_AUTHOR_EMAIL": f"{token.login}@users.noreply",
               "GIT_COMMITTER_NAME": "GitHub", "GIT_COMMITTER_EMAIL": "noreply@github.com"}
        try:
            if parent:
                subprocess.run([*env_git, "read-tree", parent], env=env, check=True, timeout=30)
            subprocess.run([*env_git, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}"], env=env, check=True, timeout=30)
            tree = subprocess.run([*env_git, "write-tree"], env=env, check=True, capture_output=True, text=True, timeout=30).stdout.strip()
            commit = subprocess.run([*env_git, "commit-tree", tree, *(["-p", parent] if parent else []), "-m", body["message"]],
                                    env=env, check=True, capture_output=True, text=True, timeout=30).stdout.strip()
        finally:
            index.unlink(missing_ok=True)
        git(repo, "update-ref", f"refs/heads/{branch}", commit)
        _, content, _ = self._get_content(repo, path, f"refs/heads/{branch}")
        # A PUT's answer names every URL of the file (the description allows no null there).
        html = f"https://{self.github.host_name}/{repo.full_name}/blob/{branch}/{path}"
        git_url = self.github._url(f"/repos/{repo.full_name}/git/blobs/{blob}")
        content |= {"html_url": html, "git_url": git_url, "download_url": html + "?raw=true"}
        content["_links"] |= {"git": git_url, "html": html}
        return (200 if current else 201), {"content": content, "commit": {"sha": commit, "message": body["message"]}}, []

    # -- git smart HTTP ------------------------------------------------------------------------

    def _git(self, path: str, query: str, body: bytes) -> None:
        """``/OWNER/NAME.git/...`` through ``git http-backend``; a token is the password."""
        github = self.github
        match = re.fullmatch(r"/([^/]+)/([^/]+?)(?:\.git)?(/(?:info/refs|git-upload-pack|git-receive-pack))", path)
        token = self._token()
        repo = github.repos.get(f"{match.group(1)}/{match.group(2)}".lower()) if match else None
        pushing = path.endswith("/git-receive-pack") or "service=git-receive-pack" in query
        call = Call(self.command, f"/git{path}", urllib.parse.parse_qs(query), None, 0, token.login if token else None)
        if match is None:  # GraphQL (/api/graphql) among others: never allowed
            with github.lock:
                github.violations.append(f"{self.command} {path} is neither GitHub's REST API (/api/v3/) nor git smart HTTP")
            status, out, headers = 404, b"Not Found\n", [("Content-Type", "text/plain")]
        elif token is None:
            status, out, headers = 401, b"", [("WWW-Authenticate", 'Basic realm="GitHub"')]
        elif repo is None or (repo.private and not self._may_see(repo, token)):
            status, out, headers = 404, b"Repository not found.\n", [("Content-Type", "text/plain")]
        elif pushing and not (_holds(token, ("contents", "write")) and (token.permissions is not None or self._may_see(repo, token))):
            status, out, headers = 403, f"Permission to {repo.full_name}.git denied to {token.login}.\n".encode(), [("Content-Type", "text/plain")]
        else:
            status, out, headers = self._cgi(repo, match.group(3), query, body, token)
        call.status = status
        with github.lock:
            github.calls.append(call)
        self._send(status, out, headers)

    def _cgi(self, repo: Repository, tail: str, query: str, body: bytes, token: Token):
        env = {
            "PATH": os.environ.get("PATH", os.defpath), "GIT_PROJECT_ROOT": str(self.github.git_root), "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": f"/{repo.owner.lower()}/{repo.name.lower()}.git{tail}", "REQUEST_METHOD": self.command,
            "QUERY_STRING": query, "CONTENT_TYPE": self.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": token.login, "REMOTE_ADDR": HOST, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(self.github.directory),
            # GitHub's own check on a push: see _WORKFLOW_GUARD.
            "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "core.hooksPath", "GIT_CONFIG_VALUE_0": str(self.github.hooks),
            "MAY_PUSH_WORKFLOWS": "1" if _holds(token, ("workflows", "write")) else "0",
        }
        for header, name in (("Content-Encoding", "HTTP_CONTENT_ENCODING"), ("Git-Protocol", "GIT_PROTOCOL")):
            if self.headers.get(header):
                env[name] = self.headers[header]
        run = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, timeout=60)
        head, _, out = run.stdout.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name.strip(), value.strip()))
        return status, out, headers
