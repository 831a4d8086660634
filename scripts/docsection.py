"""The part the docs generators share: put a generated section between its
markers in a file under docs/, or, with --check, fail while it is stale.

scripts/update-cli-reference and scripts/update-config-reference import it
(a script's own folder is on sys.path when it runs).
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def with_section(text: str, name: str, section: str, file: str) -> str:
    start_marker, end_marker = markers(name)
    before, start, rest = text.partition(start_marker)
    _, end, after = rest.partition(end_marker)
    if not start or not end:
        sys.exit(f"{file} has no {start_marker} ... {end_marker} markers")
    return f"{before}{start_marker}\n{section}{end_marker}{after}"


def main(relative: str, name: str, section: str, usage: str) -> None:
    """Rewrite ROOT/relative's `name` section; `--check` exits 1 instead
    (with a diff) when the file differs from what would be written."""
    path = ROOT / relative
    current = path.read_text(encoding="utf-8")
    wanted = with_section(current, name, section, relative)
    script = Path(sys.argv[0]).name
    if sys.argv[1:] == ["--check"]:
        if wanted != current:
            sys.stdout.writelines(difflib.unified_diff(current.splitlines(True), wanted.splitlines(True), relative, "regenerated"))
            sys.exit(f"{relative} is stale; run: {sys.executable} scripts/{script}")
        return
    if sys.argv[1:]:
        sys.exit(usage)
    if wanted != current:
        path.write_text(wanted, encoding="utf-8")
