"""The release (SPEC §13): the steps of .github/workflows/release.yml that
need no network run here as the workflow runs them (scripts/release), and
the workflow's shape is held to what trusted publishing needs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from generator import __version__
from tests.support.github import ROOT, is_full_sha, steps_using

pytestmark = pytest.mark.timeout(60)

SCRIPT = ROOT / "scripts" / "release"
WORKFLOW = ROOT / ".github" / "workflows" / "release.yml"
CHANGELOG = """\
# Changelog

## [Unreleased]

## [2.3.0] - 2027-01-02

### Added

- a thing

## [2.2.9] - 2026-12-01

- an older thing

[Unreleased]: https://example.invalid/compare/v2.3.0...HEAD
[2.3.0]: https://example.invalid/releases/tag/v2.3.0
"""


def release(*args: str, root: Path = ROOT) -> subprocess.CompletedProcess:
    script = root / "scripts" / "release"
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, timeout=30)


def project(tmp_path: Path, version: str = "2.3.0", changelog: str = CHANGELOG) -> Path:
    """A project tree holding the real script, a version and a changelog."""
    (tmp_path / "scripts").mkdir()
    (tmp_path / "generator").mkdir()
    shutil.copy(SCRIPT, tmp_path / "scripts" / "release")
    (tmp_path / "generator" / "__init__.py").write_text(f'"""x"""\n\n__version__ = "{version}"\n')
    (tmp_path / "CHANGELOG.md").write_text(changelog)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n[project.urls]\nRepository = "https://github.com/example/project"\n')
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "surface.json").write_text(json.dumps({"release": version, "surface": {}, "since_release": {}}))
    return tmp_path


def test_the_tag_of_the_package_version_passes_and_names_the_major_tag(tmp_path):
    run = release("check", "v2.3.0", root=project(tmp_path))
    assert run.returncode == 0, run.stderr
    assert run.stdout == "version=2.3.0\nmajor=v2\n"  # GITHUB_OUTPUT lines


def test_the_real_tag_passes():
    run = release("check", f"v{__version__}")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"version={__version__}\n")


@pytest.mark.parametrize("tag", ["v2.3.1", "2.3.0", "v2.3.0-rc1", "v2.3", "release-2.3.0", "v2.3.0\n"])
def test_a_tag_that_is_not_the_package_version_is_refused(tmp_path, tag):
    run = release("check", tag, root=project(tmp_path))
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr == (f"scripts/release: tag {tag!r} does not match the package version 2.3.0 "
                          "(generator/__init__.py): the tag must be v2.3.0\n")


@pytest.mark.parametrize(("version", "says"), [
    ("2.4.0", "CHANGELOG.md has no '## [2.4.0] - YYYY-MM-DD' heading"),
    ("2.3.0rc1", "version 2.3.0rc1 is not X.Y.Z; only final releases are published"),
])
def test_a_version_without_its_changelog_entry_or_not_final_is_refused(tmp_path, version, says):
    run = release("check", f"v{version}", root=project(tmp_path, version))
    assert (run.returncode, run.stderr) == (1, f"scripts/release: {says}\n")


def test_a_surface_snapshot_of_another_release_is_refused(tmp_path):
    root = project(tmp_path)
    (root / "tests" / "surface.json").write_text(json.dumps({"release": "2.2.9", "surface": {}, "since_release": {}}))
    run = release("check", "v2.3.0", root=root)
    assert (run.returncode, run.stderr) == (1, "scripts/release: tests/surface.json is the surface of 2.2.9, not 2.3.0: "
                                               "run scripts/update-surface --release\n")


def test_an_empty_entry_is_refused(tmp_path):
    root = project(tmp_path, changelog=CHANGELOG.replace("### Added\n\n- a thing\n", ""))
    run = release("check", "v2.3.0", root=root)
    assert (run.returncode, run.stderr) == (1, "scripts/release: CHANGELOG.md: the entry of 2.3.0 is empty\n")


def test_notes_are_the_entry_alone(tmp_path):
    root = project(tmp_path)
    assert release("notes", "2.3.0", root=root).stdout == "### Added\n\n- a thing\n"
    assert release("notes", "2.2.9", root=root).stdout == "- an older thing\n"  # the link definitions stay out
    missing = release("notes", "9.0.0", root=root)
    assert missing.returncode == 1 and "no '## [9.0.0] - YYYY-MM-DD' heading" in missing.stderr


def test_stamp_records_the_commit_for_the_package(tmp_path):
    root = project(tmp_path)
    commit = "0123456789abcdef0123456789abcdef01234567"
    run = release("stamp", commit, root=root)
    assert run.returncode == 0, run.stderr
    assert json.loads((root / "generator" / "release.json").read_text()) == {"version": "2.3.0", "repository": "example/project", "commit": commit}
    short = release("stamp", commit[:12], "--package", str(root / "generator"), root=root)
    assert short.returncode == 1 and "is not a full commit SHA" in short.stderr


def test_the_changelog_names_the_current_version_as_its_newest_release():
    text = (ROOT / "CHANGELOG.md").read_text()
    releases = re.findall(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", text, re.MULTILINE)
    assert releases and releases[0] == __version__, releases
    assert text.index("## [Unreleased]") < text.index(f"## [{__version__}]")


def _jobs() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())["jobs"]


def test_only_version_tags_trigger_it_and_the_tag_is_checked_first():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert workflow[True] == {"push": {"tags": ["v[0-9]+.[0-9]+.[0-9]+"]}}  # YAML 1.1 reads `on` as true
    assert workflow["permissions"] == {}
    steps = _jobs()["build"]["steps"]
    runs = [step.get("run", "") for step in steps]
    check = next(i for i, run in enumerate(runs) if run.startswith("scripts/release check"))
    tests = runs.index("scripts/test")
    build = next(i for i, run in enumerate(runs) if "python -m build" in run)
    assert check < tests < build
    assert steps[check]["env"] == {"TAG": "${{ github.ref_name }}"}  # never ${{ }} inside run:
    assert 'scripts/release stamp "$COMMIT"' in runs[build] and "twine check --strict" in runs[build]
    assert "check-wheel-contents" in runs[build]
    assert "git status --porcelain --untracked-files=all" in runs[build]  # nothing the tests left goes into the sdist


def test_publishing_is_trusted_publishing_from_one_job_with_an_environment():
    jobs = _jobs()
    holders = [name for name, job in jobs.items() if "id-token" in job.get("permissions", {})]
    assert holders == ["publish"]
    publish = jobs["publish"]
    assert publish["permissions"] == {"id-token": "write"}
    assert publish["environment"]["name"] == "pypi"
    [step] = steps_using({"jobs": {"publish": publish}}, "pypa/gh-action-pypi-publish")
    assert is_full_sha(step["uses"].split("@")[1])
    assert step["with"] == {"packages-dir": "dist/", "attestations": True}  # no user, no password
    assert "password" not in WORKFLOW.read_text() and "secrets." not in WORKFLOW.read_text()
    # The files published are the ones built and tested, built once.
    assert [s.get("uses", "").split("@")[0] for s in publish["steps"]] == ["actions/download-artifact", "pypa/gh-action-pypi-publish"]
    assert sum("python -m build" in s.get("run", "") for job in jobs.values() for s in job["steps"]) == 1


def test_the_release_comes_from_the_changelog_and_moves_the_major_tag():
    jobs = _jobs()
    release_job = jobs["release"]
    assert release_job["needs"] == ["build", "publish"]
    assert release_job["permissions"] == {"contents": "write"}
    runs = "\n".join(step.get("run", "") for step in release_job["steps"])
    assert 'scripts/release notes "$VERSION"' in runs and "--notes-file" in runs and "--verify-tag" in runs
    assert "refs/tags/$MAJOR" in runs
    assert jobs["build"]["outputs"]["major"] == "${{ steps.tag.outputs.major }}"


def test_a_stamp_names_the_commit_only_for_its_own_version(tmp_path, monkeypatch):
    """The package reads the stamp the release wrote; a leftover stamp of
    another version, or a commit that is no full SHA, is not believed (the
    checkout's own commit is used)."""
    from generator import release as identity

    stamp = tmp_path / "release.json"
    monkeypatch.setattr(identity, "STAMP", stamp)
    monkeypatch.setattr(identity, "_checkout_commit", lambda: None)

    def ref(content: dict | None) -> identity.ActionRef:
        identity.action_ref.cache_clear()
        if content is None:
            stamp.unlink(missing_ok=True)
        else:
            stamp.write_text(json.dumps(content))
        return identity.action_ref()

    commit = "89abcdef0123456789abcdef0123456789abcdef"
    try:
        assert ref({"version": __version__, "repository": "someone/fork", "commit": commit}) == ("someone/fork", __version__, commit)
        home = identity.repository()
        assert ref({"version": "0.0.1", "repository": "someone/fork", "commit": commit}) == (home, __version__, None)
        assert ref({"version": __version__, "commit": "main"}) == (home, __version__, None)
        assert ref(None) == (home, __version__, None)
    finally:
        identity.action_ref.cache_clear()


def test_an_installed_copy_reads_the_home_from_its_metadata(tmp_path, monkeypatch):
    """Away from the checkout (no pyproject.toml of this project beside the
    package) the home comes from the installed metadata, which says the same."""
    from generator import release as identity

    in_checkout = identity.repository()
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "something-else"\n')
    monkeypatch.setattr(identity, "_ROOT", tmp_path)
    assert identity.repository() == in_checkout


@pytest.mark.parametrize("text", [
    (ROOT / "pyproject.toml").read_text("utf-8"),
    '[project]\nname = "mta-sts-pages"\nurls = {Repository = "https://github.com/a/b"}\n',
    '[project]\nname = "mta-sts-pages"\n\n[project.urls]\n"Repository" = "https://github.com/a/b"\n',
    "[project]\nname = 'mta-sts-pages'\n[tool.x]\nname = \"other\"\n",
])
def test_the_project_table_is_read_as_tomllib_reads_it(text):
    """release._project_table reads pyproject.toml without tomllib when its
    lines are plain, and falls back to tomllib otherwise: the same result."""
    import tomllib

    from generator.release import _project_table

    wanted = tomllib.loads(text)["project"]
    assert {key: wanted[key] for key in ("name", "urls") if key in wanted} == _project_table(text)


def test_the_checkouts_commit_is_read_from_gits_files_as_git_reads_it(tmp_path):
    """release._head_from_files, against `git rev-parse HEAD`: a branch's
    loose ref, the same packed, a detached HEAD and a linked worktree."""
    from generator.release import _head_from_files

    def git(*args: str, cwd: Path = tmp_path / "repo") -> str:
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, check=True,
                              capture_output=True, text=True).stdout.strip()

    (tmp_path / "repo").mkdir()
    git("init", "-q", "-b", "main")
    for n in range(2):
        (tmp_path / "repo" / "f").write_text(str(n))
        git("add", "f")
        git("commit", "-qm", str(n))
    seen = [_head_from_files(tmp_path / "repo" / ".git") == git("rev-parse", "HEAD")]
    git("pack-refs", "--all")
    seen.append(_head_from_files(tmp_path / "repo" / ".git") == git("rev-parse", "HEAD"))
    git("worktree", "add", "-q", "-b", "side", str(tmp_path / "linked"), "HEAD~1")
    seen.append(_head_from_files(tmp_path / "linked" / ".git") == git("rev-parse", "HEAD", cwd=tmp_path / "linked"))
    git("checkout", "-q", "--detach", "HEAD~1")
    seen.append(_head_from_files(tmp_path / "repo" / ".git") == git("rev-parse", "HEAD"))
    assert seen == [True] * 4
    assert _head_from_files(tmp_path / "nothing") is None
