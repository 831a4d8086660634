"""The pre-commit hook, run by the real `pre-commit try-repo`: pre-commit
builds its own virtualenv, pip-installs this repository into it, and runs
`mta-sts-pages validate` on the configs of a project's commit."""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import os
import shutil
import subprocess
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.tags import sys_tags
from packaging.utils import canonicalize_name

from tests.support.cli import run_cli
from tests.support.github import python_tool
from tests.support.tools import require_tool

ROOT = Path(__file__).resolve().parent.parent
GOOGLE = ROOT / "examples" / "google-workspace.yml"
MULTI = ROOT / "examples" / "multi-domain.yml"
BAD = "domain: ex_ample.com\npolicy:\n  mode: testing\n  mx: [mx.example.com]\n  maxage: 1w\n"


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid", "-c", "commit.gpgsign=false", *args],
                   cwd=cwd, check=True, capture_output=True, timeout=60)


def committed_copy(source: Path, target: Path) -> Path:
    """The working tree as it would be committed (tracked and new files,
    .gitignore respected), as a fresh one-commit repository: pre-commit
    installs from a commit, and this tests the code on disk."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=source, check=True, capture_output=True, timeout=60).stdout
    for name in filter(None, listed.decode().split("\0")):
        if (source / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / name, target / name)
    git("init", "-q", cwd=target)
    git("add", "-A", cwd=target)
    git("commit", "-q", "-m", "snapshot", cwd=target)
    return target


def wheelhouse(target: Path) -> Path:
    """Wheels of the project's dependencies and build backend, zipped back
    from this interpreter's installed copies, so pip installs offline."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pending = [*project["project"]["dependencies"], *project["build-system"]["requires"]]
    seen: set[str] = set()
    target.mkdir()
    while pending:
        requirement = Requirement(pending.pop())
        name = canonicalize_name(requirement.name)
        if name in seen or (requirement.marker and not requirement.marker.evaluate({"extra": ""})):
            continue
        seen.add(name)
        dist = importlib.metadata.distribution(name)
        pending += dist.requires or []
        repack(dist, target)
    return target


def repack(dist: importlib.metadata.Distribution, target: Path) -> None:
    tags = [line.removeprefix("Tag: ") for line in dist.read_text("WHEEL").splitlines() if line.startswith("Tag: ")]
    supported = {str(tag) for tag in sys_tags()}
    tag = next(t for t in tags if t in supported)
    # pip recreates console scripts (outside site-packages) and bytecode on install; RECORD is rewritten below.
    files = [f for f in dist.files if not str(f).startswith("..") and "__pycache__" not in f.parts
             and f.name not in ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json")]
    info = next(f.parts[0] for f in files if f.parts[0].endswith(".dist-info"))
    record = []
    wheel = target / f"{dist.metadata['Name'].replace('-', '_')}-{dist.version}-{tag}.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in files:
            data = file.locate().read_bytes()
            archive.writestr(str(file), data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{file},sha256={digest},{len(data)}")
        record.append(f"{info}/RECORD,,")
        archive.writestr(f"{info}/RECORD", "\n".join(record) + "\n")


def test_validate_checks_every_file_it_is_given(tmp_path):
    """pre-commit passes the changed configs as arguments: each is checked,
    and every error of every file is reported before the exit code 2."""
    first, second = tmp_path / "a.mta-sts.yml", tmp_path / "b.mta-sts.yml"
    first.write_text(BAD)
    second.write_text(BAD.replace("maxage", "max_age").replace("ex_ample", "exa mple"))
    result = run_cli("validate", first, GOOGLE, second)
    assert result.code == 2, result.output
    assert f"{GOOGLE}: valid (1 domain, 0 warnings)" in result.out
    assert [line.rsplit("(", 1)[1] for line in result.err.splitlines()] == [f"{first}:1)", f"{first}:5)", f"{second}:1)"]


@pytest.mark.timeout(300)
def test_hook_passes_good_configs_and_fails_a_bad_one_with_file_and_line(tmp_path):
    require_tool("git")
    pre_commit = python_tool("pre-commit")
    hooks = committed_copy(ROOT, tmp_path / "hooks")
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(wheelhouse(tmp_path / "wheels")),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "VIRTUALENV_NO_PERIODIC_UPDATE": "1",
    }
    project = tmp_path / "project"
    (project / "regional").mkdir(parents=True)
    (project / "broken").mkdir()
    shutil.copy(GOOGLE, project / "mta-sts.yml")
    shutil.copy(MULTI, project / "regional" / "eu.mta-sts.yaml")
    (project / "notes.yml").write_text(BAD)  # not a config by name: the hook must leave it alone
    (project / "broken" / "mta-sts.yml").write_text(BAD)
    git("init", "-q", cwd=project)
    git("add", "-A", cwd=project)

    def try_repo(*files: str) -> subprocess.CompletedProcess:
        return subprocess.run([pre_commit, "try-repo", str(hooks), "mta-sts-validate", "--verbose", "--color=never", "--files", *files],
                              cwd=project, env=env, capture_output=True, text=True, timeout=240)

    good = try_repo("mta-sts.yml", "regional/eu.mta-sts.yaml", "notes.yml")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "mta-sts.yml: valid (1 domain" in good.stdout
    assert "regional/eu.mta-sts.yaml: valid (3 domains" in good.stdout
    assert "notes.yml" not in good.stdout

    bad = try_repo("broken/mta-sts.yml")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "error: domain: 'ex_ample.com' contains an underscore, which a host name cannot hold (broken/mta-sts.yml:1)" in bad.stdout
    assert "error: policy.maxage: unknown key; expected one of: mode, mx, max_age, id (broken/mta-sts.yml:5)" in bad.stdout


def test_the_hooks_file_names_readme_sections_that_exist():
    """The hooks' comment points a reader at the README by section titles: they must be there."""
    import re

    comment = (ROOT / ".pre-commit-hooks.yaml").read_text().splitlines()[0]
    headings = {line.lstrip("#").strip() for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("#")}
    named = re.findall(r'"([^"]+)"', comment)
    assert named and set(named) <= headings, (named, sorted(headings))
