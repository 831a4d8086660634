"""The generated site survives actions/upload-pages-artifact: archived with
its tar command and the inputs the generated workflow passes, the archive
holds the policy byte for byte (SPEC §5: v4 silently dropped .well-known)."""

from __future__ import annotations

import tarfile

import pytest
import yaml

from generator.build import build
from generator.config import load
from generator.site import POLICY_PATH, WORKFLOW_PATH
from tests.support.github import ROOT, as_input, pages_artifact, steps_using

pytestmark = pytest.mark.timeout(60)


def _members(archive) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(archive) as tar:
        return {member.name: member for member in tar.getmembers()}


@pytest.fixture
def repository(tmp_path):
    """A checkout of a repository that holds the built site (deploy: workflow)."""
    config = load(str(ROOT / "examples" / "google-workspace.yml"))
    repo = tmp_path / "repo"
    build(config, repo)
    (repo / ".git").mkdir()
    (repo / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (repo / "README.md").write_text("the owner's own file\n")
    return config.domains[0], repo


def test_archive_holds_the_policy_and_no_repository_internals(repository, tmp_path):
    domain, repo = repository
    workflow = yaml.safe_load((repo / WORKFLOW_PATH).read_text())
    [upload] = steps_using(workflow, "actions/upload-pages-artifact")
    inputs = {name: as_input(value) for name, value in upload["with"].items()}

    archive = pages_artifact(repo, inputs, tmp_path / "runner-temp")

    members = _members(archive)
    assert f"./{POLICY_PATH}" in members
    with tarfile.open(archive) as tar:
        assert tar.extractfile(f"./{POLICY_PATH}").read() == domain.policy_bytes
    for name in ("./index.html", "./CNAME", "./.nojekyll", "./README.md"):
        assert name in members
    assert not [name for name in members if name.startswith(("./.git/", "./.github/")) or name in ("./.git", "./.github")]


def test_without_include_hidden_files_the_policy_is_lost(repository, tmp_path):
    """Why the workflow passes include-hidden-files: the same archive with the
    input's default has no .well-known at all."""
    _, repo = repository
    archive = pages_artifact(repo, {"path": "."}, tmp_path / "runner-temp")
    members = _members(archive)
    assert "./index.html" in members
    assert not [name for name in members if ".well-known" in name]
