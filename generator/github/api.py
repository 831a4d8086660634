"""Requests to GitHub's REST API, each through one `gh api` run.

`gh` brings the authentication (``GH_TOKEN``/``GH_ENTERPRISE_TOKEN``,
``GH_HOST``, or `gh auth login`) and the host; this module brings what `gh
api` leaves to its caller:

- the status and headers of every answer (``--include``), so a refusal is
  told from a rate limit and from a missing repository;
- rate limits (429, or 403 with ``retry-after``, ``x-ratelimit-remaining: 0``
  or a "secondary rate limit" message) waited out while the deadline allows,
  then an error that says when to run again;
- 5xx answers and failed connections retried with a growing pause, for
  requests that may be repeated: a POST whose answer was lost may have been
  done, and repeating it could open a second issue;
- pagination by ``page``, following the ``Link`` header's ``rel="next"``;
- refusals turned into messages that name the missing permission.

What GitHub says (messages, bodies) is data: it reaches the user's terminal
or a workflow log only on one line, with controls escaped.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from generator.errors import MtaStsPagesError
from generator.terminal import printable

# Pauses between retries of a 5xx answer: 1, 2, 4, 8 seconds, then give up.
RETRY_PAUSE = 1.0
RETRIES = 4
PER_PAGE = 100
MAX_PAGES = 100  # 10,000 items: far more than any list the project reads
GH_TIMEOUT = 120
_RATE_LIMITED = re.compile(r"rate limit", re.IGNORECASE)
_CONNECTION = re.compile(r"connect|reset by peer|EOF|timeout|handshake|no such host", re.IGNORECASE)
_NEXT = re.compile(r'<([^>]*)>\s*;\s*rel="next"')


class GitHubError(MtaStsPagesError):
    """A request to GitHub failed; ``status`` is its HTTP status (None when
    no answer came)."""

    exit_code = 1

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class PermissionRefused(GitHubError):
    """The token may not do this: GitHub answered 403 (or 404 for what it hides)."""


def said(text: str, limit: int = 300) -> str:
    """What GitHub said, as one quoted line a terminal or a runner will not act on."""
    line = " ".join(str(text).split())
    line = line if len(line) <= limit else line[:limit] + "..."
    return f'"{printable(line)}"'


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-case names
    body: object  # parsed JSON; None for an empty body

    @property
    def message(self) -> str:
        return str(self.body.get("message", "")) if isinstance(self.body, dict) else ""


def parse(output: bytes) -> Response | None:
    """`gh api --include`'s output: a status line, headers, a blank line, the body."""
    ends = [(output.find(sep), sep) for sep in (b"\r\n\r\n", b"\n\n") if sep in output]
    if ends:
        at, sep = min(ends)
        head, body = output[:at], output[at + len(sep):]
    else:
        head, body = output, b""
    lines = head.decode("latin-1").splitlines()
    match = re.match(r"HTTP/[0-9.]+ ([0-9]{3})", lines[0]) if lines else None
    if match is None:
        return None
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    try:
        value = json.loads(body) if body.strip() else None
    except ValueError:
        value = body.decode("utf-8", "replace")
    return Response(int(match.group(1)), headers, value)


class GitHub:
    """The REST client. ``wait``: seconds it may spend waiting out rate limits
    and retrying (from its creation); ``program``: the gh to run."""

    def __init__(self, program: str = "gh", wait: float = 300.0, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.program = program
        self.sleep = sleep
        self.clock = clock
        self.deadline = clock() + wait
        self.requests = 0
        self._last_failure = ""

    def request(self, method: str, path: str, body: object = None, *, query: dict[str, str] | None = None,
                repeatable: bool | None = None, ok: tuple[int, ...] = (), needs: str | None = None) -> Response:
        """One operation: ``method`` on ``path`` (e.g. ``repos/o/r/pages``),
        ``body`` sent as JSON. Statuses under 300 and those in ``ok`` are
        returned; any other raises. ``repeatable``: whether a 5xx or a lost
        answer may be retried (default: every method but POST). ``needs``:
        the permission a refusal lacks, e.g. ``pages: write``."""
        if repeatable is None:
            repeatable = method != "POST"
        target = path.lstrip("/") + (f"?{urllib.parse.urlencode(query)}" if query else "")
        pause = RETRY_PAUSE
        for attempt in range(RETRIES + 1):
            answer = self._run(method, target, body)
            if answer is not None and (answer.status < 300 or answer.status in ok):
                return answer
            wait = self._rate_limit_wait(answer)
            if wait is not None:
                self._wait_out(wait, method, target, answer)
                continue
            retry = answer is None or answer.status >= 500
            if not (retry and repeatable and attempt < RETRIES and self.clock() + pause <= self.deadline):
                break
            self.sleep(pause)
            pause *= 2
        raise self._error(method, target, answer, needs)

    def get(self, path: str, **options) -> Response:
        return self.request("GET", path, **options)

    def paginate(self, path: str, query: dict[str, str] | None = None, *, needs: str | None = None) -> Iterator[object]:
        """Every item of a list operation, page after page while ``Link`` has a next one."""
        query = {**(query or {}), "per_page": str(PER_PAGE)}
        page = 1
        for _ in range(MAX_PAGES):
            answer = self.get(path, query=query | ({"page": str(page)} if page > 1 else {}), needs=needs)
            if not isinstance(answer.body, list):
                raise GitHubError(f"GET {path} answered what is not a list: {said(str(answer.body))}", answer.status)
            yield from answer.body
            following = _NEXT.search(answer.headers.get("link", ""))
            if following is None:
                return
            numbers = urllib.parse.parse_qs(urllib.parse.urlsplit(following.group(1)).query).get("page", [])
            if not numbers or not numbers[0].isdigit() or int(numbers[0]) <= page:
                return
            page = int(numbers[0])
        raise GitHubError(f"GET {path} has more than {MAX_PAGES} pages of {PER_PAGE}")

    def _run(self, method: str, target: str, body: object) -> Response | None:
        """One `gh api` run; None when no HTTP answer came (a failed connection)."""
        args = [self.program, "api", "--include", "--method", method, target]
        if body is not None:
            args += ["--input", "-"]
        self.requests += 1
        try:
            run = subprocess.run(args, input=json.dumps(body).encode() if body is not None else None, capture_output=True,
                                 timeout=GH_TIMEOUT)
        except FileNotFoundError:
            raise GitHubError(f"{self.program} not found: install the GitHub CLI (https://cli.github.com; "
                              "GitHub's hosted runners have it)") from None
        except subprocess.TimeoutExpired:
            return None
        answer = parse(run.stdout)
        if answer is None and run.returncode != 0:
            self._no_answer(run.returncode, run.stderr.decode("utf-8", "replace"))
        return answer

    def _no_answer(self, code: int, stderr: str) -> None:
        """gh printed no HTTP answer: a failed connection is retried; anything
        else (no token: exit 4; no repository to fill in) is an error now."""
        if code == 4 or "gh auth login" in stderr or "GH_TOKEN" in stderr:
            raise GitHubError("gh has no token: set GH_TOKEN (in a workflow: GH_TOKEN: ${{ github.token }} or a "
                              "token of your own), or run gh auth login; see docs/github.md")
        if not _CONNECTION.search(stderr):
            raise GitHubError(f"gh api failed (exit {code}): {said(stderr)}")
        self._last_failure = stderr

    def _rate_limit_wait(self, answer: Response | None) -> float | None:
        if answer is None or answer.status not in (403, 429):
            return None
        headers = answer.headers
        if "retry-after" in headers and headers["retry-after"].isdigit():
            return float(headers["retry-after"])
        if headers.get("x-ratelimit-remaining") == "0" and headers.get("x-ratelimit-reset", "").isdigit():
            return max(0.0, float(headers["x-ratelimit-reset"]) - time.time()) + 1
        if answer.status == 429 or _RATE_LIMITED.search(answer.message):
            return 60.0  # GitHub's advice for a secondary limit without a retry-after
        return None

    def _wait_out(self, seconds: float, method: str, target: str, answer: Response) -> None:
        if self.clock() + seconds > self.deadline:
            raise GitHubError(f"{method} /{_path(target)}: GitHub's rate limit holds for {seconds:.0f} s more, past the time "
                              f"allowed: run again later (or with a longer --wait); GitHub said {said(answer.message)}", answer.status)
        self.sleep(seconds)

    def _error(self, method: str, target: str, answer: Response | None, needs: str | None) -> GitHubError:
        where = f"{method} /{_path(target)}"
        if answer is None:
            return GitHubError(f"{where}: no answer from GitHub ({said(self._last_failure or 'gh timed out')})")
        text = said(answer.message or str(answer.body or ""))
        if answer.status == 401:
            return PermissionRefused(f"{where}: GitHub rejected the token (HTTP 401 {text}): check GH_TOKEN or gh auth login", 401)
        if answer.status == 403:
            accepted = answer.headers.get("x-accepted-github-permissions", "")
            permission = accepted.replace("=", ": ").replace(",", ", ") or needs
            lacking = f"the token lacks the {permission} permission" if permission else "the token may not do this"
            hint = ("a workflow's GITHUB_TOKEN cannot get Administration; use a fine-grained token or a GitHub App "
                    "(docs/github.md)") if "administration" in (permission or "") else "docs/github.md lists what each command needs"
            return PermissionRefused(f"{where}: refused (HTTP 403 {text}): {lacking}; {hint}", 403)
        if answer.status == 404 and needs:
            return PermissionRefused(f"{where}: not found (HTTP 404): it does not exist, or the token cannot see it "
                                     f"(it needs {needs})", 404)
        return GitHubError(f"{where}: HTTP {answer.status} {text}", answer.status)


def _path(target: str) -> str:
    return printable(target.split("?", 1)[0])


def quote(segment: str) -> str:
    """A name (a label, a branch) as one segment of an API path."""
    return urllib.parse.quote(segment, safe="")
