"""Write generated files into a folder that may hold the user's own files.

Rules: never overwrite or delete a file mta-sts-pages did not write (a
manifest of what it wrote, with hashes, tells which); never write through a
link that leads out of the folder; decide everything before touching
anything, so a refused build changes nothing; move each file in with an
atomic rename; one build at a time per output folder (a lock).

A build killed at any point (SIGKILL, out of memory, a closed terminal) leaves a
folder the next build accepts: before the first rename the manifest is
replaced by a journal that accepts both the old and the new hash of every
file the build touches, and only after the last rename and removal by the
final manifest. Staging folders a killed build left behind are removed by the
next build, which holds the lock, so no live build can own them.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path

from generator.errors import BuildError

MANIFEST = ".mta-sts-pages-manifest.json"
_TMP_PREFIX = ".mta-sts-pages-tmp-"
# Inside a staging folder, everything this tool stages is named by a number.
_STAGED_NAME = re.compile(r"[0-9]+\Z")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# Dependabot (the .github/dependabot.yml `build` writes) moves the commits a
# workflow pins: a workflow this tool wrote, edited since only in the refs
# of its `uses:` lines and their version comments, is still its own. For
# each workflow the manifest also keeps the hash of its text with every such
# ref blanked out.
_WORKFLOWS = ".github/workflows/"
_USES_REF = re.compile(rb"^(\s*(?:- )?uses:\s*[^@\s]+@)[^\n]*$", re.MULTILINE)
_BLANKED = "uses-refs-blanked:"


def _hashes(relative: str, data: bytes) -> frozenset[str]:
    """The hashes by which a manifest knows a file as written by this tool."""
    if not relative.startswith(_WORKFLOWS):
        return frozenset((_sha256(data),))
    return frozenset((_sha256(data), _BLANKED + _sha256(_USES_REF.sub(rb"\1", data))))


class Plan:
    """What one folder's write will do; computed before anything is written."""

    def __init__(self, folder: Path, files: dict[str, bytes], previous: dict[str, frozenset[str]], manifest: bytes | None = None):
        self.folder = folder
        self.files = files
        self.previous = previous  # path -> the hashes the manifest accepts as ours
        self.manifest = manifest  # its bytes as read, if there is one
        self.write: list[str] = []
        self.unchanged: list[str] = []
        self.remove: list[str] = []
        self.adopted: list[str] = []  # unchanged files the user wrote, taken over with --adopt


def _accepted(value: object) -> frozenset[str] | None:
    """A manifest entry's hashes: one string, or a journal's list of them."""
    hashes = [value] if isinstance(value, str) else value
    if isinstance(hashes, list) and hashes and all(isinstance(h, str) for h in hashes):
        return frozenset(hashes)
    return None


def _read_manifest(folder: Path) -> tuple[dict[str, frozenset[str]], bytes | None]:
    """The files the folder's manifest accepts as ours, and its bytes (None: no manifest)."""
    path = folder / MANIFEST
    if path.is_symlink() or not path.exists():
        return {}, None
    try:
        raw = path.read_bytes()
        data = json.loads(raw.decode("utf-8"))
        files = {name: _accepted(value) for name, value in data["files"].items()}
        if all(isinstance(name, str) and hashes for name, hashes in files.items()):
            return files, raw
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    raise BuildError(f"{path}: not a manifest written by mta-sts-pages; move it away and build again")


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def _link_problem(path: Path) -> str | None:
    """Why the link at ``path`` cannot be followed (a loop, or nothing behind it), or None."""
    if not path.is_symlink():
        return None
    try:
        path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return f"{path} is a symbolic link loop (a link that leads back to itself); remove it and build again"
        return f"{path} is a broken link (it leads nowhere); remove it and build again"
    return None


def _check_parents(folder: Path, relative: str) -> str | None:
    """A reason the folders above ``relative`` cannot hold it, or None."""
    current = folder
    for part in Path(relative).parts[:-1]:
        current = current / part
        if current.is_symlink():
            problem = _link_problem(current)
            if problem:
                return problem
            if not _inside(current, folder):
                return f"{current} is a link that leads outside {folder}; mta-sts-pages does not write through it"
        if current.exists() and not current.is_dir():
            return f"{current} is a file where a folder is needed"
    return None


def plan_folder(folder: Path, files: dict[str, bytes], adopt: bool = False, hints: dict[str, str] | None = None) -> tuple[Plan, list[str]]:
    """Decide what to write, keep and remove in ``folder``; list every conflict.

    ``adopt``: a file this tool did not write that already holds exactly
    what it would write becomes its own (the manifest lists it, so later
    builds update it); one that differs stays a conflict, shown as a diff.
    ``hints``: more advice for a conflict at a path, e.g. a config key that
    leaves the file to the user.
    """
    problem = _link_problem(folder)
    if problem:
        return Plan(folder, files, {}), [problem]
    if folder.exists() and not folder.is_dir():
        return Plan(folder, files, {}), [f"{folder} is a file, not a folder"]
    if not folder.exists():
        plan = Plan(folder, files, {})
        plan.write = sorted(files)
        return plan, []
    plan = Plan(folder, files, *_read_manifest(folder))
    previous = plan.previous
    conflicts: list[str] = []
    # A rebuild looks at every file of every site: one lstat per file, the
    # folders above checked once each, and a hash only for a changed file.
    parent_reasons: dict[str, str | None] = {}
    for relative in sorted(files):
        data = files[relative]
        target = folder / relative
        parent = os.path.dirname(relative)
        if parent not in parent_reasons:
            parent_reasons[parent] = _check_parents(folder, relative)
        reason = parent_reasons[parent]
        if reason:
            conflicts.append(reason)
            continue
        try:
            mode = os.lstat(target).st_mode
        except FileNotFoundError:
            plan.write.append(relative)
            continue
        if stat.S_ISLNK(mode):
            conflicts.append(_link_problem(target) or f"{target} is a link; mta-sts-pages will not replace it (remove it and build again)")
        elif not stat.S_ISREG(mode):
            conflicts.append(f"{target} exists and is not a file")
        else:
            content = target.read_bytes()
            if content == data:
                plan.unchanged.append(relative)
                if adopt and relative not in previous:
                    plan.adopted.append(relative)
            elif _hashes(relative, content) & previous.get(relative, frozenset()):
                plan.write.append(relative)
            else:
                hint = f"; {hints[relative]}" if hints and relative in hints else ""
                if adopt:
                    conflicts.append(f"{target} differs from what the build writes, so --adopt leaves it; "
                                     f"move it away (or make it this), then build again{hint}:\n" + _diff(content, data, relative))
                else:
                    conflicts.append(f"{target} exists and was not written by mta-sts-pages (or was edited since); "
                                     f"move it away or undo the edit, then build again (--adopt shows how it differs){hint}")
    for relative in sorted(set(previous) - set(files)):
        target = folder / relative
        if _check_parents(folder, relative) is None and target.is_file() and not target.is_symlink() \
                and _hashes(relative, target.read_bytes()) & previous[relative]:
            plan.remove.append(relative)
    return plan, conflicts


# A diff longer than this is cut: a conflict message is read, not applied.
_DIFF_LINES = 40


def _diff(current: bytes, built: bytes, relative: str) -> str:
    """The unified diff from the folder's file to the built one, indented,
    with line ends and other control characters shown (a CRLF policy and an
    LF one differ in nothing else)."""
    import difflib

    from generator.terminal import printable

    def lines(data: bytes) -> list[str]:
        # Split at LF only, so a CR stays visible (as \x0d) at the end of its line.
        return [printable(line) for line in data.decode("utf-8", errors="replace").split("\n")]

    diff = list(difflib.unified_diff(lines(current), lines(built), f"{relative} (in the folder)", f"{relative} (built)", lineterm=""))
    if len(diff) > _DIFF_LINES:
        diff = diff[:_DIFF_LINES] + [f"... {len(diff) - _DIFF_LINES} more lines"]
    return "\n".join(f"    {line}" for line in diff)


def _manifest(entries: dict[str, str | list[str]]) -> bytes:
    """``json.dumps({"generator": ..., "files": entries}, indent=2,
    sort_keys=True)`` and a newline, written out here: with ``indent`` the
    json module encodes in Python, not C, and two manifests a domain took a
    third of `build`'s time (tests/test_build.py holds the bytes equal)."""
    if not entries:
        return b'{\n  "files": {},\n  "generator": "mta-sts-pages"\n}\n'
    quote = json.encoder.encode_basestring_ascii
    lines = []
    for relative in sorted(entries):
        value = entries[relative]
        if isinstance(value, str):
            text = quote(value)
        elif value:
            text = "[\n      " + ",\n      ".join(map(quote, value)) + "\n    ]"
        else:
            text = "[]"
        lines.append(f"    {quote(relative)}: {text}")
    return ('{\n  "files": {\n' + ",\n".join(lines) + '\n  },\n  "generator": "mta-sts-pages"\n}\n').encode()


def _manifests(plan: Plan) -> tuple[bytes, bytes]:
    """The final manifest, and the journal that stands in for it while files move.

    The journal accepts, for every file the build writes or removes, the hash
    it had before and the one it will have, so a build killed between two
    renames leaves files the next build still knows as its own.
    """
    # Only files this tool wrote, or wrote before and still owns; a user's
    # identical file is left out so a later build never deletes it.
    hashes = {
        rel: _hashes(rel, plan.files[rel])
        for rel in plan.files
        if rel in plan.write or rel in plan.previous or rel in plan.adopted
    }
    owned: dict[str, str | list[str]] = {rel: sorted(h) if len(h) > 1 else next(iter(h)) for rel, h in hashes.items()}
    journal: dict[str, str | list[str]] = {
        rel: sorted(plan.previous.get(rel, frozenset()) | h) for rel, h in hashes.items()
    }
    journal.update((rel, sorted(plan.previous[rel])) for rel in plan.remove)
    return _manifest(owned), _manifest(journal)


def _write_tree(root: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` below ``root``, creating each folder once.

    Plain strings and file descriptors: a build writes tens of thousands of
    small files, and pathlib objects and buffered files cost more than the
    file system does for each (benchmarks/bench_build.py).
    """
    base = os.fspath(root)
    made = {base}
    for relative, data in files.items():
        path = os.path.join(base, relative)
        parent = os.path.dirname(path)
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)


def _pending(plan: Plan) -> tuple[bytes, bytes] | None:
    """The manifest and journal a conflict-free plan writes, or None when its
    folder already is as planned (nothing to write, remove or record)."""
    manifest, journal = _manifests(plan)
    if not plan.write and not plan.remove and plan.manifest == manifest:
        return None
    return manifest, journal


def apply(plan: Plan, manifests: tuple[bytes, bytes], area: Path) -> None:
    """Carry a conflict-free plan out, staging in ``area`` (a new path on the same file system).

    A folder that did not exist is staged whole and renamed into place in one
    step. In an existing folder every file is staged first; then the journal
    replaces the manifest, each file is renamed over its target, stale files
    go, and the final manifest replaces the journal.
    """
    manifest, journal = manifests
    manifest_path = plan.folder / MANIFEST
    # mkdir, not mkdtemp: a fresh site folder is renamed into place and must
    # get the usual permissions, not mkdtemp's owner-only ones.
    area.mkdir()
    if not plan.folder.exists():
        _write_tree(area, {**{relative: plan.files[relative] for relative in plan.write}, MANIFEST: manifest})
        plan.folder.parent.mkdir(parents=True, exist_ok=True)
        os.rename(area, plan.folder)
        return
    staged: list[tuple[Path, Path]] = []
    for index, relative in enumerate(plan.write):
        temp = area / str(index)
        temp.write_bytes(plan.files[relative])
        staged.append((temp, plan.folder / relative))
    if plan.write or plan.remove:
        temp = area / "journal"
        temp.write_bytes(journal)
        os.replace(temp, manifest_path)
    made: set[Path] = set()
    for temp, target in staged:
        if target.parent not in made:
            target.parent.mkdir(parents=True, exist_ok=True)
            made.add(target.parent)
        os.replace(temp, target)
    for relative in plan.remove:
        (plan.folder / relative).unlink(missing_ok=True)
        parent = (plan.folder / relative).parent
        while parent != plan.folder and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent
    temp = area / "manifest"
    temp.write_bytes(manifest)
    os.replace(temp, manifest_path)


@contextmanager
def locked(folder: Path):
    """Hold an exclusive lock on ``folder`` so concurrent builds take turns."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _stale_staging(out: Path) -> list[Path]:
    """Staging folders a killed build left in ``out``.

    Only folders this tool names (the prefix) and lays out (numbered entries
    only), owned by this user; called under the lock, so none is a live
    build's. Anything else with a like name is the user's and stays.
    """
    stale = []
    for path in out.iterdir():
        if not path.name.startswith(_TMP_PREFIX) or path.is_symlink() or not path.is_dir():
            continue
        if path.stat().st_uid == os.geteuid() and all(_STAGED_NAME.match(p.name) for p in path.iterdir()):
            stale.append(path)
    return stale


def write_sites(out: Path, sites: dict[Path, dict[str, bytes]], adopt: bool = False, hints: dict[str, str] | None = None) -> list[Plan]:
    """Write several sites (folder -> files) under ``out``, all or nothing.

    Conflicts anywhere stop the whole build before any file is written.
    ``adopt``, ``hints``: see :func:`plan_folder`.
    """
    problem = _link_problem(out)
    if problem:
        raise BuildError(problem)
    if out.exists() and not out.is_dir():
        raise BuildError(f"{out} is a file, not a folder")
    for folder in sites:
        # A folder named right below ``out`` is inside it unless it is a
        # link; only the others need resolving (a stat or two per folder of
        # a 10,000-domain build). A link problem at a site folder is
        # reported with the other conflicts.
        lexically_inside = folder.parent == out and folder.name not in ("", ".", "..") and not folder.is_symlink()
        if folder != out and not lexically_inside and _link_problem(folder) is None and not _inside(folder, out):
            raise BuildError(f"{folder} would be outside {out}")
    try:
        return _write_locked(out, sites, adopt, hints)
    except OSError as exc:
        raise BuildError(f"cannot write to {exc.filename or out}: {exc.strerror}") from None


def _write_locked(out: Path, sites: dict[Path, dict[str, bytes]], adopt: bool, hints: dict[str, str] | None) -> list[Plan]:
    with locked(out):
        plans: list[Plan] = []
        conflicts: list[str] = []
        for folder, files in sites.items():
            plan, found = plan_folder(folder, files, adopt, hints)
            plans.append(plan)
            conflicts += found
        if conflicts:
            raise BuildError("nothing was written:\n" + "\n".join(f"  {c}" for c in conflicts))
        for path in _stale_staging(out):
            shutil.rmtree(path)
        pending = [(plan, manifests) for plan in plans if (manifests := _pending(plan)) is not None]
        if not pending:
            # A rebuild with nothing to change touches nothing, not even a
            # staging folder: creating and removing one took about 4 ms on
            # the development machine's ext4, more than the rest of a
            # one-domain build.
            return plans
        staging = Path(tempfile.mkdtemp(prefix=_TMP_PREFIX, dir=out))
        try:
            for index, (plan, manifests) in enumerate(pending):
                apply(plan, manifests, staging / str(index))
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return plans
