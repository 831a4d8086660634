"""`build` killed (SIGKILL) at every step: the next build still succeeds,
owns its files, and leaves no staging folder in the published tree."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import run_cli

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

# Runs the real CLI in a child process that kills itself with SIGKILL just
# before its Nth file-system change (mkdir, rename, replace, unlink, rmdir).
KILLER = """
import os, signal, sys
import generator.build, generator.cli, generator.records, generator.writer
limit, count = int(sys.argv[1]), 0
def counted(real):
    def call(*args, **kwargs):
        global count
        if count == limit:
            os.kill(os.getpid(), signal.SIGKILL)
        count += 1
        return real(*args, **kwargs)
    return call
for name in ("mkdir", "rename", "replace", "unlink", "rmdir"):
    setattr(os, name, counted(getattr(os, name)))
sys.argv = ["mta-sts-pages", *sys.argv[2:]]
generator.cli.main()
"""


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def staging_left(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".mta-sts-pages-tmp-*")]


def build(config: Path, out: Path) -> dict[str, bytes]:
    result = run_cli("build", "-c", config, "-o", out)
    assert result.code == 0, result.output
    return snapshot(out)


def single_domain(tmp_path: Path) -> tuple[Path, Path]:
    """Before: testing with a deploy workflow. After: enforce, branch deploy
    (every policy-derived file rewritten, the workflow removed)."""
    text = (EXAMPLES / "google-workspace.yml").read_text()
    before, after = tmp_path / "before.yml", tmp_path / "after.yml"
    before.write_text(text)
    after.write_text(text.replace("mode: testing", "mode: enforce").replace("deploy: workflow", "deploy: branch"))
    return before, after


def multi_domain(tmp_path: Path) -> tuple[Path, Path]:
    """Before: two domains. After: a third domain's folder appears whole and
    another domain's policy changes."""
    text = (EXAMPLES / "multi-domain.yml").read_text()
    before, after = tmp_path / "before.yml", tmp_path / "after.yml"
    before.write_text(text[:text.index("  - domain: bücher.example")])
    after.write_text(text.replace("max_age: 1w", "max_age: 2w"))
    return before, after


@pytest.mark.timeout(300)
@pytest.mark.parametrize("configs", [single_domain, multi_domain], ids=["single-domain", "multi-domain"])
def test_build_killed_at_every_step_recovers(tmp_path, configs):
    before, after = configs(tmp_path)
    clean_before = build(before, tmp_path / "clean-before")
    clean_after = build(after, tmp_path / "clean-after")
    top_level = {name.split("/")[0] for name in clean_before}
    pristine = tmp_path / "pristine"
    build(before, pristine)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    kills = 0
    for step in range(200):
        out = tmp_path / f"killed-{step}"
        shutil.copytree(pristine, out, symlinks=True)
        child = subprocess.run([sys.executable, "-c", KILLER, str(step), "build", "-c", after, "-o", out],
                               cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        if child.returncode == 0:
            break
        assert child.returncode == -signal.SIGKILL, child.stderr
        kills += 1
        # From the killed state, both finishing the build and going back must work.
        back = tmp_path / f"back-{step}"
        shutil.copytree(out, back, symlinks=True)
        assert build(after, out) == clean_after, f"killed before change {step}, then rebuilt"
        # A domain dropped from a multi-domain config keeps its folder (as without a kill).
        reverted = {name: data for name, data in build(before, back).items() if name.split("/")[0] in top_level}
        assert reverted == clean_before, f"killed before change {step}, then the old config rebuilt"
        assert staging_left(out) == [] and staging_left(back) == []
        shutil.rmtree(out)
        shutil.rmtree(back)
    else:
        pytest.fail("the build never finished")
    assert kills >= 8, "the build made fewer file-system changes than expected; is the child patched?"
    assert snapshot(out) == clean_after and staging_left(out) == []


def test_only_this_tools_staging_folders_are_cleaned(tmp_path):
    out = tmp_path / "site"
    build(EXAMPLES / "google-workspace.yml", out)
    stale = out / ".mta-sts-pages-tmp-abc123"
    (stale / "0" / ".well-known").mkdir(parents=True)
    (stale / "0" / ".well-known" / "mta-sts.txt").write_text("half a policy")
    (stale / "1").write_text("staged")
    user = out / ".mta-sts-pages-tmp-notes"
    user.mkdir()
    (user / "mine.txt").write_text("not staging: a name this tool never stages")
    linked = out / ".mta-sts-pages-tmp-link"
    linked.symlink_to(user)
    build(EXAMPLES / "google-workspace.yml", out)
    assert not stale.exists()
    assert (user / "mine.txt").read_text().startswith("not staging")
    assert linked.is_symlink()
