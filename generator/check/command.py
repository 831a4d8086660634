"""The `check` command's flow: pick the domains, run, print, choose the exit code."""

from __future__ import annotations

import os
import tempfile
from array import array
from functools import partial
from typing import TextIO

from generator.check.options import CheckOptions
from generator.check.targets import Targets
from generator.errors import UsageError

MAX_WORKERS = 256


def default_workers(options: CheckOptions) -> int:
    """One worker process per core this process may run on; one with --smtp,
    where a process probes each MX host once however many domains share it
    (worker processes would each probe it)."""
    if options.smtp:
        return 1
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class Spool:
    """The domains' reports for people, kept on disk until the run ends and
    then given back in the order the domains were listed: a long list of
    failing domains costs a file, not memory."""

    def __init__(self) -> None:
        self._file = None  # made with the first report
        self._index = array("q")  # position, offset, length: three per report

    def add(self, position: int, text: str) -> None:
        if self._file is None:
            self._file = tempfile.TemporaryFile()
        data = text.encode("utf-8")
        self._index.extend((position, self._file.tell(), len(data)))
        self._file.write(data)

    def in_order(self):
        entries = sorted(range(0, len(self._index), 3), key=self._index.__getitem__)
        for entry in entries:
            self._file.seek(self._index[entry + 1])
            yield self._file.read(self._index[entry + 2]).decode("utf-8")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def check_command(targets: Targets, options: CheckOptions, *, workers: int, json_lines: bool, out: TextIO, err: TextIO) -> int:
    """Run the check and print it; 1 when any domain has an error, else 0.

    JSON lines are written as each domain finishes, and nothing of a domain
    is kept after. The report for people comes at the end, in the order the
    domains were given, however many workers ran: details for the domains
    with problems (spooled to a temporary file), then a summary table.
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
    rows: list[tuple[int, tuple[str, ...]]] = []
    details = Spool()
    failed = False

    def done(position: int, result: tuple) -> None:
        nonlocal failed
        failed = failed or result[0] == "errors"
        if json_lines:
            out.write(result[1] + "\n")
            out.flush()
        else:
            rows.append((position, result[1]))
            if result[2] is not None:
                details.add(position, result[2])
        if progress is not None:
            progress.update(result[0])

    try:
        try:
            check_all(targets, options, min(workers, total), partial(_render, json_lines, total), done)
        finally:
            if progress is not None:
                progress.close()
        for text in details.in_order():
            out.write(text + "\n\n")
    finally:
        details.close()
    if len(rows) > 1:
        rows.sort(key=lambda item: item[0])
        out.write(show.summary_table([row for _, row in rows]) + "\n")
    return 1 if failed else 0


def _render(json_lines: bool, total: int, report) -> tuple:
    """What is kept of a domain, made where it was checked (in a worker
    process, hence a module-level function: a spawned worker unpickles it)."""
    from generator.check import report as show

    if json_lines:
        return report.result, show.json_line(report)
    shown = total == 1 or report.result != "ok"
    return report.result, show.table_row(report), show.human(report) if shown else None
