"""The action's locks (requirements/*.lock) against pyproject.toml: every
package the dependencies need at the version the lock pins, nothing else,
each with its hashes. scripts/update-action-lock regenerates them."""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
RERUN = "run scripts/update-action-lock (it needs PyPI) and commit requirements/"
_ENTRY = re.compile(r"^([A-Za-z0-9._-]+)==([^ ;\\]+)(?: ; ([^\\]+?))?((?:\s*\\\s*--hash=sha256:[0-9a-f]{64})+)", re.MULTILINE)


def read_lock(name: str) -> dict[str, tuple[str, str | None, int]]:
    """package -> (version, marker, number of hashes)."""
    text = (ROOT / "requirements" / name).read_text("utf-8")
    entries = {canonicalize_name(m[1]): (m[2], m[3], m[4].count("--hash=")) for m in _ENTRY.finditer(text)}
    pinned = re.findall(r"^[A-Za-z0-9._-]+==", text, re.MULTILINE)
    assert len(pinned) == len(entries), f"requirements/{name}: an entry without hashes; {RERUN}"
    return entries


def closure(requirements: list[str]) -> dict[str, list[Requirement]]:
    """Every distribution ``requirements`` need here (markers evaluated, no
    extras), from the installed metadata, with the requirements naming it."""
    needed: dict[str, list[Requirement]] = {}
    todo = [Requirement(r) for r in requirements]
    while todo:
        requirement = todo.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        name = canonicalize_name(requirement.name)
        first = name not in needed
        needed.setdefault(name, []).append(requirement)
        if first:
            try:
                todo += [Requirement(r) for r in importlib.metadata.requires(name) or []]
            except importlib.metadata.PackageNotFoundError:
                pytest.fail(f"{name} is not installed in the test environment; run scripts/test to reinstall")
    return needed


@pytest.mark.parametrize(("lock", "requirements"), [
    pytest.param("action.lock", PYPROJECT["project"]["dependencies"], id="runtime"),
    pytest.param("action-build.lock", PYPROJECT["build-system"]["requires"], id="build-backend"),
    pytest.param("action-dns.lock", PYPROJECT["project"]["optional-dependencies"]["dns"], id="dns-extra"),
])
def test_lock_holds_exactly_the_dependency_closure(lock, requirements):
    entries = read_lock(lock)
    here = {name for name, (_, marker, _) in entries.items() if marker is None or Marker(marker).evaluate()}
    needed = closure(requirements)
    missing, extra = sorted(set(needed) - here), sorted(here - set(needed))
    assert not missing and not extra, f"requirements/{lock} is out of step with pyproject.toml (missing: {missing}, not needed: {extra}); {RERUN}"
    for name, wanted in needed.items():
        version = entries[name][0]
        for requirement in wanted:
            assert requirement.specifier.contains(version, prereleases=True), \
                f"requirements/{lock} pins {name}=={version}, which does not satisfy {requirement}; {RERUN}"
        assert entries[name][2] >= 1


@pytest.mark.parametrize("lock", ["action-build.lock", "action-dns.lock"])
def test_lock_agrees_with_the_runtime_lock(lock):
    """The action installs these locks into the interpreter that holds the
    runtime lock's packages (the build lock in the same pip run): a package
    in both must have one version."""
    runtime, other = read_lock("action.lock"), read_lock(lock)
    clashes = {name: (runtime[name][0], other[name][0]) for name in set(runtime) & set(other) if runtime[name][0] != other[name][0]}
    assert not clashes, f"{clashes}; {RERUN}"


def test_locks_say_how_to_regenerate_them():
    for lock in ("action.lock", "action-build.lock", "action-dns.lock"):
        assert "scripts/update-action-lock" in (ROOT / "requirements" / lock).read_text("utf-8").splitlines()[1]
