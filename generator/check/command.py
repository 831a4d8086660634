"""The `check` command's flow: pick the domains, run, print, choose the exit code."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from generator.check.options import CheckOptions, read_domains_file, select_targets

if TYPE_CHECKING:
    from generator.config import Config


def check_command(
    domains: list[str],
    domains_file: Path | None,
    config: Config | None,
    options: CheckOptions,
    *,
    json_lines: bool,
    out: TextIO,
    err: TextIO,
) -> int:
    """Run the check and print it; 1 when any domain has an error, else 0."""
    names = [(f"DOMAIN {name!r}", name) for name in domains]
    if domains_file is not None:
        names += read_domains_file(domains_file)
    targets = select_targets(names, config)
    # The network stack is imported once there is something to check: a
    # usage error comes back at the speed of the rest of the CLI.
    from generator.check import report as show
    from generator.check.runner import run_checks

    progress = show.Progress(len(targets), err) if len(targets) > 1 and err.isatty() else None

    def done(report) -> None:
        if json_lines:
            out.write(show.json_line(report) + "\n")
            out.flush()
        if progress is not None:
            progress.update(report)

    try:
        reports = run_checks(targets, options, done)
    finally:
        if progress is not None:
            progress.close()
    if not json_lines:
        shown = [r for r in reports if len(reports) == 1 or r.result != "ok"]
        for report in shown:
            out.write(show.human(report) + "\n\n")
        if len(reports) > 1:
            out.write(show.summary_table(reports) + "\n")
    return 1 if any(r.result == "errors" for r in reports) else 0
