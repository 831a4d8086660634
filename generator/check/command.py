"""The `check` command's flow: pick the domains, run, print, choose the exit code."""

from __future__ import annotations

import os
from typing import TextIO

from generator.check.options import CheckOptions
from generator.check.targets import Targets
from generator.errors import UsageError

MAX_WORKERS = 256


def default_workers() -> int:
    """One worker process per core this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def check_command(targets: Targets, options: CheckOptions, *, workers: int, json_lines: bool, out: TextIO, err: TextIO) -> int:
    """Run the check and print it; 1 when any domain has an error, else 0.

    JSON lines are written as each domain finishes; the report for people
    comes at the end, in the order the domains were given, however many
    workers ran. Only what that report needs is kept.
    """
    if not 1 <= workers <= MAX_WORKERS:
        raise UsageError(f"--workers {workers}: give a number from 1 to {MAX_WORKERS}")
    total = targets.validate()
    if total == 0:
        err.write("no domain to check falls in this shard\n")
    # The network stack is imported once there is something to check: a
    # usage error comes back at the speed of the rest of the CLI.
    from generator.check import report as show
    from generator.check.workers import check_all

    progress = show.Progress(total, err) if total > 1 and err.isatty() else None
    kept = []
    failed = False

    def done(position, report) -> None:
        nonlocal failed
        failed = failed or report.result == "errors"
        if json_lines:
            out.write(show.json_line(report) + "\n")
            out.flush()
        else:
            kept.append((position, report))
        if progress is not None:
            progress.update(report)

    try:
        check_all(targets, options, min(workers, total), done)
    finally:
        if progress is not None:
            progress.close()
    if not json_lines:
        reports = [report for _, report in sorted(kept, key=lambda item: item[0])]
        shown = [r for r in reports if len(reports) == 1 or r.result != "ok"]
        for report in shown:
            out.write(show.human(report) + "\n\n")
        if len(reports) > 1:
            out.write(show.summary_table(reports) + "\n")
    return 1 if failed else 0
