"""The `check` command's flow: pick the domains, run, print, choose the exit code."""

from __future__ import annotations

import os
from array import array
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TextIO

from generator.check.options import CheckOptions
from generator.check.targets import Targets
from generator.errors import UsageError

MAX_WORKERS = 256


@dataclass(frozen=True)
class Output:
    """What the run prints: ``format`` text (for people), json (JSON lines as
    each domain finishes) or markdown (one document at the end); and, in any
    format, ``summary``: a file the Markdown document is appended to (e.g.
    $GITHUB_STEP_SUMMARY)."""

    format: str = "text"
    summary: Path | None = None

    @property
    def markdown(self) -> bool:
        return self.format == "markdown" or self.summary is not None


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
            import tempfile  # here: most runs never spool, and `check`'s usage errors stay light

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


@dataclass
class _Kept:
    """What the run keeps of the domains for the reports it prints at the end."""

    rows: list
    details: Spool
    md_rows: list
    md_sections: Spool


def check_command(targets: Targets, options: CheckOptions, *, workers: int, output: Output = Output(), out: TextIO, err: TextIO) -> int:
    """Run the check and print it; 1 when any domain has an error, else 0.

    JSON lines are written as each domain finishes, and nothing of a domain
    is kept after. The reports for people (and the Markdown document) come
    at the end, in the order the domains were given, however many workers
    ran: details for the domains with problems (spooled to a temporary
    file), then a summary table.
    """
    if not 1 <= workers <= MAX_WORKERS:
        raise UsageError(f"--workers {workers}: give a number from 1 to {MAX_WORKERS}")
    total = targets.validate()
    if total == 0:
        err.write("no domain to check falls in this shard\n")
        return 0
    # The network stack is imported once there is something to check: a
    # usage error comes back at the speed of the rest of the CLI.
    from generator.check import report as show
    from generator.check.workers import check_all

    progress = show.Progress(total, err) if total > 1 and err.isatty() else None
    kept = _Kept([], Spool(), [], Spool())
    failed = False

    def done(position: int, result: dict) -> None:
        nonlocal failed
        failed = failed or result["result"] == "errors"
        if "json" in result:
            out.write(result["json"] + "\n")
            out.flush()
        if "row" in result:
            kept.rows.append((position, result["row"]))
            if result["detail"] is not None:
                kept.details.add(position, result["detail"])
        if "md_row" in result:
            kept.md_rows.append((position, result["md_row"]))
            if result["md_section"] is not None:
                kept.md_sections.add(position, result["md_section"])
        if progress is not None:
            progress.update(result["result"])

    try:
        try:
            check_all(targets, options, min(workers, total), partial(_render, output, total), done)
        finally:
            if progress is not None:
                progress.close()
        if output.markdown:
            _markdown(kept, output, out)
        for text in kept.details.in_order():
            out.write(text + "\n\n")
    finally:
        kept.details.close()
        kept.md_sections.close()
    if len(kept.rows) > 1:
        kept.rows.sort(key=lambda item: item[0])
        out.write(show.summary_table([row for _, row in kept.rows]) + "\n")
    return 1 if failed else 0


def _markdown(kept: _Kept, output: Output, out: TextIO) -> None:
    from generator.check.markdown import document_of
    from generator.markdown import append

    kept.md_rows.sort(key=lambda item: item[0])
    rendered = document_of([row for _, row in kept.md_rows], kept.md_sections.in_order())
    if output.summary is not None:
        append(output.summary, rendered)
    if output.format == "markdown":
        from generator.terminal import without_commands

        out.write(without_commands(rendered))


def _render(output: Output, total: int, report) -> dict:
    """What is kept of a domain, made where it was checked (in a worker
    process, hence a module-level function: a spawned worker unpickles it)."""
    from generator.check import report as show

    kept = {"result": report.result}
    shown = total == 1 or report.result != "ok"
    if output.format == "json":
        kept["json"] = show.json_line(report)
    elif output.format == "text":
        kept["row"] = show.table_row(report)
        kept["detail"] = show.human(report) if shown else None
    if output.markdown:
        from generator.check import markdown

        kept["md_row"] = markdown.summary_row(report)
        kept["md_section"] = markdown.domain_section(report) if shown else None
    return kept
