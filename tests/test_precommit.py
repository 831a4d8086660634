"""The pre-commit hook, run by the real `pre-commit try-repo`: pre-commit
builds its own virtualenv, pip-installs this repository into it, and runs
`mta-sts-pages validate` on the configs of a project's commit."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.cli import run_cli
from tests.support.github import python_tool
from tests.support.packaging import committed_copy, git, wheelhouse
from tests.support.tools import require_tool

ROOT = Path(__file__).resolve().parent.parent
GOOGLE = ROOT / "examples" / "google-workspace.yml"
MULTI = ROOT / "examples" / "multi-domain.yml"
BAD = "domain: ex_ample.com\npolicy:\n  mode: testing\n  mx: [mx.example.com]\n  maxage: 1w\n"


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
