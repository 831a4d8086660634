"""Where the project lives is said once, in pyproject.toml ([project] name
and [project.urls]); everything that tells a user where to get it (README
snippets, docs, the cookiecutter default, the pre-commit example, the
changelog's links, the release workflow) is held to that here."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from generator import __version__
from generator.release import repository

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
NAME = PROJECT["name"]
URL = PROJECT["urls"]["Repository"]
HOME = URL.removeprefix("https://github.com/")
# What users read, copy or run: the README, the docs, the examples, the
# changelog and the project's own workflows.
TEXTS = [ROOT / "README.md", ROOT / "CHANGELOG.md", *(ROOT / "docs").glob("*.md"), *(ROOT / ".github").rglob("*.yml"),
         *(p for p in (ROOT / "examples").rglob("*") if p.is_file() and p.suffix in (".md", ".yml", ".yaml", ".json"))]
# Others' projects the texts link to or use.
ELSEWHERE = {"actions", "pypa", "octodns", "github"}  # other projects a document names


def test_the_home_is_a_github_repository_and_every_url_lives_under_it():
    assert re.fullmatch(r"https://github\.com/[A-Za-z0-9-]+/[A-Za-z0-9._-]+", URL), URL
    assert PROJECT["urls"]["Homepage"] == URL
    assert all(url.startswith(URL + "/") for key, url in PROJECT["urls"].items() if key not in ("Homepage", "Repository"))


def test_the_code_reads_the_same_home():
    """`build` names the home in the action reference of the workflows it
    writes (read from pyproject.toml here; a release's stamp, or an
    installed copy's metadata, elsewhere: tests/test_release.py)."""
    assert repository() == HOME


def test_every_reference_to_the_project_is_the_home():
    seen = set()
    for path in TEXTS:
        text = path.read_text()
        assert "OWNER/REPO" not in text, path
        for owner, name in re.findall(r"(?:uses:\s*|(?<![.\w])github\.com/|gh:|\"action\": \")([A-Za-z0-9-]+)/([A-Za-z0-9._-]+?)(?=[@/\s)`\"]|$)", text, re.MULTILINE):
            if owner not in ELSEWHERE and owner != "{{":
                assert f"{owner}/{name}" == HOME, f"{path.relative_to(ROOT)}: {owner}/{name} is not {HOME}"
                seen.add(path.name)
    assert {"README.md", "CHANGELOG.md", "cookiecutter.json"} <= seen, seen


def test_the_cookiecutter_default_uses_the_action_of_the_home():
    default = json.loads((ROOT / "examples" / "cookiecutter" / "cookiecutter.json").read_text())["action"]
    assert default.startswith(f"{HOME}@v"), default


def test_the_pre_commit_example_installs_from_the_home_at_a_release_tag():
    text = (ROOT / "README.md").read_text()
    [(repo, rev)] = re.findall(r"^  - repo: (\S+)\n    rev: (\S+)$", text, re.MULTILINE)
    assert (repo, rev) == (URL, f"v{__version__}")


def test_installers_and_the_release_name_the_package():
    readme = (ROOT / "README.md").read_text()
    assert f"pipx install {NAME}\n" in readme and f"uv tool install {NAME}\n" in readme
    release = (ROOT / ".github" / "workflows" / "release.yml").read_text()
    assert f"https://pypi.org/project/{NAME}/" in release
