"""Packaging the project as users get it: the tree as it would be committed,
and wheels of its dependencies for an index or pip that must work offline."""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import shutil
import subprocess
import tomllib
import zipfile
from pathlib import Path

from packaging.requirements import Requirement
from packaging.tags import sys_tags
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


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
