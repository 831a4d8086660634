"""Which copy of mta-sts-pages this is: where the project lives and the commit
it was released from, so the workflows `build` writes can use the project's
own action pinned to exactly that commit.

Why the action and not `pip install mta-sts-pages==VERSION`: the jobs that
run mta-sts-pages hold a token, and pip would install whatever PyPI serves
that day for the dependencies, and for the package itself a file whose hash
no lock can hold (a wheel cannot carry its own sha256). The action, pinned
by commit, installs the package from its own checkout and every dependency
from the hash-pinned locks beside it (requirements/action.lock), and
Dependabot keeps the pin current like any other action's.

The commit is known only once the tag exists, so no source file can hold it:
the release workflow writes it, with the repository, into ``release.json``
beside this module just before it builds the sdist and wheel
(``scripts/release stamp``). A copy run
from a git checkout uses the checkout's commit. Any other copy (an sdist
built by hand, the action's own checkout) knows only its version, and writes
the version's tag, which it says in a comment."""

from __future__ import annotations

import json
import re
import subprocess
from functools import cache
from pathlib import Path
from typing import NamedTuple

from generator import __version__

DISTRIBUTION = "mta-sts-pages"
STAMP = Path(__file__).with_name("release.json")
_ROOT = Path(__file__).resolve().parent.parent
_SHA = re.compile(r"[0-9a-f]{40}")


# A NamedTuple, as the project's other records: no dataclass methods to
# compile from source when `build` imports this.
class ActionRef(NamedTuple):
    repository: str  # owner/name on GitHub
    version: str
    commit: str | None  # None: no commit known, the workflow names the tag

    @property
    def tag(self) -> str:
        return f"v{self.version}"


def repository() -> str:
    """owner/name, from the Repository URL of [project.urls] in
    pyproject.toml, the one place it is set: read from the source checkout
    this copy runs from, else from the installed package's metadata."""
    pyproject = _ROOT / "pyproject.toml"
    project = _project_table(pyproject.read_text("utf-8")) if pyproject.is_file() else {}
    if project.get("name") == DISTRIBUTION:
        urls = project.get("urls", {})
    else:
        # Imported here: importlib.metadata alone takes longer to import than
        # the rest of `build`, and a release's stamp names the repository.
        from importlib import metadata

        entries = metadata.metadata(DISTRIBUTION).get_all("Project-URL") or []
        urls = dict((label.strip(), url.strip()) for label, _, url in (e.partition(",") for e in entries))
    if "Repository" not in urls:
        raise RuntimeError(f"this copy of {DISTRIBUTION} has no Repository URL in its metadata; reinstall it")
    return urls["Repository"].removeprefix("https://github.com/").rstrip("/")


_TABLE = re.compile(r"\[([A-Za-z0-9_.-]+)\]\s*(?:#.*)?")
_PLAIN_STRING = re.compile(r'([A-Za-z0-9_-]+)\s*=\s*"([^"\\]*)"\s*(?:#.*)?')


def _project_table(text: str) -> dict:
    """pyproject.toml's [project] name and [project.urls], read line by
    line as this project writes them; tomllib when a line is written
    otherwise. (tomllib compiles its regular expressions on import, which
    made up a tenth of `build`'s start.)"""
    project: dict = {}
    table = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        header = _TABLE.fullmatch(line)
        if header:
            table = header.group(1)
            continue
        if table not in ("project", "project.urls"):
            continue
        pair = _PLAIN_STRING.fullmatch(line)
        if pair and table == "project.urls":
            project.setdefault("urls", {})[pair.group(1)] = pair.group(2)
        elif pair and pair.group(1) == "name":
            project["name"] = pair.group(2)
        elif table == "project.urls" or line.startswith(("name", "urls")):
            import tomllib

            return tomllib.loads(text).get("project", {})
    return project


@cache
def action_ref() -> ActionRef:
    stamp = _stamp()
    commit = stamp.get("commit") if _SHA.fullmatch(str(stamp.get("commit", ""))) else None
    return ActionRef(stamp.get("repository") or repository(), __version__, commit or _checkout_commit())


def _stamp() -> dict:
    """What the release wrote into this copy: version, repository, commit."""
    try:
        stamp = json.loads(STAMP.read_text("utf-8"))
    except FileNotFoundError:
        return {}
    # A stamp of another version is a leftover of an earlier release build.
    return stamp if isinstance(stamp, dict) and stamp.get("version") == __version__ else {}


def _checkout_commit() -> str | None:
    if not (_ROOT / ".git").exists() or not (_ROOT / "pyproject.toml").is_file():
        return None
    read = _head_from_files(_ROOT / ".git")
    if read is not None:
        return read
    try:
        run = subprocess.run(["git", "rev-parse", "HEAD"], cwd=_ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    commit = run.stdout.strip()
    return commit if run.returncode == 0 and _SHA.fullmatch(commit) else None


def _head_from_files(dot_git: Path) -> str | None:
    """The checkout's commit read from git's files (HEAD, the branch's ref
    file or packed-refs), in a clone or a linked worktree: starting git took
    a twentieth of `build`'s start. None for anything else (a reftable
    repository, a broken link), which `git rev-parse` then answers."""
    try:
        if dot_git.is_file():  # a linked worktree: "gitdir: <its folder in the main repository>"
            link = dot_git.read_text("utf-8").strip()
            if not link.startswith("gitdir: "):
                return None
            git_dir = dot_git.parent / link.removeprefix("gitdir: ")
        else:
            git_dir = dot_git
        common = git_dir / (git_dir / "commondir").read_text("utf-8").strip() if (git_dir / "commondir").is_file() else git_dir
        head = (git_dir / "HEAD").read_text("utf-8").strip()
        if _SHA.fullmatch(head):
            return head  # detached
        if not head.startswith("ref: refs/"):
            return None
        ref = head.removeprefix("ref: ")
        for folder in (git_dir, common):
            if (folder / ref).is_file():
                commit = (folder / ref).read_text("utf-8").strip()
                return commit if _SHA.fullmatch(commit) else None
        packed = common / "packed-refs"
        for line in packed.read_text("utf-8").splitlines() if packed.is_file() else ():
            commit, _, name = line.partition(" ")
            if name == ref and _SHA.fullmatch(commit):
                return commit
    except (OSError, UnicodeDecodeError):
        pass
    return None
