"""The public surface (docs/compatibility.md) is held by a snapshot,
tests/surface.json, generated from the code by scripts/update-surface: it
fails when the surface changes without the snapshot, and when the snapshot
records a change since the last release that CHANGELOG.md does not name."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from generator import __version__

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("surface", ROOT / "scripts" / "surface.py")
surface = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(surface)

SNAPSHOT = json.loads(surface.SNAPSHOT.read_text())
AFTER = f"describe the change in CHANGELOG.md under [Unreleased], then run `{surface.REGENERATE}`"


def test_the_snapshot_is_the_surface_of_the_code():
    differences = surface.changes(SNAPSHOT["surface"], surface.surface())
    assert not differences, (
        "the public surface differs from tests/surface.json:\n"
        + "\n".join(f"  {change}: {kind} {key!r}" for kind, key, change in differences)
        + f"\n{AFTER}"
    )


def test_every_change_since_the_release_is_in_the_changelog():
    text = surface.unreleased_text(SNAPSHOT["release"])
    unnamed = [f"{kind} {key!r} (write `{surface.needle(kind, key)}`)"
               for kind, keys in SNAPSHOT["since_release"].items() for key in keys if not surface.named_in(text, kind, key)]
    assert not unnamed, "CHANGELOG.md's [Unreleased] section does not name these changes of the public surface:\n  " + "\n  ".join(unnamed)


def test_the_snapshot_is_of_this_version_or_the_one_before():
    """--release moves it when a version is prepared; scripts/release check
    refuses a tag until then."""
    assert SNAPSHOT["release"] == __version__ or f"## [{SNAPSHOT['release']}] - " in surface.CHANGELOG.read_text()


def test_the_surface_covers_every_kind_the_promise_names():
    current = surface.surface()
    assert {"build", "check", "dns apply", "validate"} <= set(current["commands"])
    assert {"check --format", "build --config", "--version"} <= set(current["options"])
    assert {"policy.mode", "domains[].policy.mx", "tlsrpt.rua"} <= set(current["config keys"])
    assert set(current["exit codes"]) == {"0", "1", "2"}
    assert {"policy-not-found", "sts-record-missing"} <= set(current["finding codes"])
    assert {"check --json: findings[].code", "reports --json: domains[].failed_sessions"} <= set(current["json fields"])
    assert "command" in current["action inputs"] and "policy-id" in current["action outputs"]
    assert current["pre-commit hooks"] == {"mta-sts-validate": "mta-sts-pages validate"}
    promise = (ROOT / "docs" / "compatibility.md").read_text()
    for kind in current:
        assert f"**{kind}**" in promise, f"docs/compatibility.md does not name the kind {kind!r}"


@pytest.mark.parametrize(("kind", "key", "text", "named"), [
    ("options", "check --shard", "- `check --shard K/N` splits the list", True),
    ("options", "check --shard", "- check --shard splits the list", False),  # not in a code span
    ("options", "check --shard", "- `check --shards`", False),
    ("config keys", "pages.repository", "- `pages.repository` names it", True),
    ("config keys", "pages.repository", "- `domains[].pages.repository`", False),
    ("finding codes", "dns-timeout", "- `dns-timeout-long` is new", False),
    ("exit codes", "3", "- exit 3 when the lock is held", True),
    ("exit codes", "3", "- exit 30", False),
    ("json fields", "check --json: findings[].code", "- `findings[].code`", True),
])
def test_a_change_is_named_only_by_its_exact_key(kind, key, text, named):
    assert surface.named_in(text, kind, key) is named


def _copy(tmp_path: Path) -> Path:
    """The scripts, code and docs the snapshot is made from, in a tree of their own."""
    for name in ("scripts", "generator", "templates", "docs", "tests/surface.json", "CHANGELOG.md", "action.yml", ".pre-commit-hooks.yaml"):
        source, target = ROOT / name, tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            import shutil
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.write_bytes(source.read_bytes())
    return tmp_path


@pytest.mark.timeout(60)
def test_regeneration_records_a_change_and_asks_for_its_changelog_line(tmp_path):
    """A new option, as another branch adds one: the snapshot test fails
    naming it and the command; the regenerated snapshot records it, and
    names what the changelog lacks until the changelog has it."""
    tree = _copy(tmp_path)
    cli = tree / "generator" / "cli.py"
    text = cli.read_text()
    anchor = ") -> None:\n    \"\"\"Write the GitHub Pages site"
    assert anchor in text
    cli.write_text(text.replace(anchor, '    brand_new: Annotated[bool, typer.Option("--brand-new", help="x")] = False,\n' + anchor, 1))

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(tree / "scripts" / "update-surface"), *args], cwd=tree,
                              env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=60)

    first = run()
    assert first.returncode == 1, first.stderr
    assert "CHANGELOG.md does not name the change of options 'build --brand-new': write `--brand-new` under [Unreleased]" in first.stderr
    snapshot = json.loads((tree / "tests" / "surface.json").read_text())
    assert snapshot["since_release"]["options"] == {"build --brand-new": {"released": None, "now": "flag"}}
    changelog = tree / "CHANGELOG.md"
    changelog.write_text(changelog.read_text().replace("## [Unreleased]\n", "## [Unreleased]\n\n### Added\n\n- `build --brand-new`\n", 1))
    assert run().returncode == 0
    # Undone: the option goes, and so does the recorded change.
    cli.write_text(text)
    assert run().returncode == 0
    assert json.loads((tree / "tests" / "surface.json").read_text())["since_release"] == {}
