"""How check results are shown: a report per domain for people, JSON lines
for machines, a summary table for many domains, a progress bar on a TTY.

Findings quote what servers sent (SMTP replies, headers, TXT strings), so
the text for people passes through :func:`generator.terminal.printable`
here, at the edge, on its way to a terminal; JSON escapes control
characters itself.
"""

from __future__ import annotations

import json
import time
from typing import TextIO

from generator.check.domain import DomainReport
from generator.findings import Severity
from generator.terminal import lines_for_terminal

_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def ordered(report: DomainReport):
    """Errors first, then warnings, then notes."""
    return sorted(report.findings, key=lambda f: _ORDER[f.severity])


def to_json(report: DomainReport) -> dict:
    """One domain's result; docs/json.md documents this schema."""
    policy = report.policy
    return {
        "domain": report.domain,
        "result": report.result,
        "errors": report.count(Severity.ERROR),
        "warnings": report.count(Severity.WARNING),
        "infos": report.count(Severity.INFO),
        "sts_id": report.sts_id,
        "policy": {"mode": policy.mode, "max_age": policy.max_age, "mx": list(policy.mx)} if policy else None,
        "mx_hosts": report.mx_hosts,
        "seconds": round(report.seconds, 3),
        "findings": [f.to_json() for f in ordered(report)],
    }


def json_line(report: DomainReport) -> str:
    return json.dumps(to_json(report), ensure_ascii=False)


def counts(report: DomainReport) -> str:
    parts = [
        _plural(report.count(Severity.ERROR), "error"),
        _plural(report.count(Severity.WARNING), "warning"),
        _plural(report.count(Severity.INFO), "note"),
    ]
    return ", ".join(p for p in parts if not p.startswith("0 ")) or "no findings"


_VERDICT = {"errors": "FAILED", "warnings": "passed with warnings", "ok": "passed"}


def human(report: DomainReport) -> str:
    lines = [f"{report.domain}: {_VERDICT[report.result]} ({counts(report)})"]
    facts = []
    if report.policy is not None:
        facts.append(f"mode {report.policy.mode}, max_age {report.policy.max_age}")
    if report.sts_id is not None:
        facts.append(f"id {report.sts_id}")
    if report.mx_hosts:
        facts.append(f"MX {', '.join(report.mx_hosts)}")
    if facts:
        lines.append(f"  {'; '.join(facts)}")
    for finding in ordered(report):
        lines.append(f"  {finding.severity}: [{finding.code}] {finding.message}")
        if finding.fix:
            lines.append(f"    fix: {finding.fix}")
    return lines_for_terminal(lines)


def table_row(report: DomainReport) -> tuple[str, ...]:
    """One domain's row of the summary table: all the table keeps of it."""
    return (
        report.domain,
        report.result,
        str(report.count(Severity.ERROR)),
        str(report.count(Severity.WARNING)),
        report.policy.mode if report.policy else "-",
        report.sts_id or "-",
    )


def summary_table(rows: list[tuple[str, ...]]) -> str:
    header = ("DOMAIN", "RESULT", "ERRORS", "WARNINGS", "MODE", "ID")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in [header, *rows]]
    tally = {result: sum(1 for row in rows if row[1] == result) for result in ("ok", "warnings", "errors")}
    lines.append(f"{_plural(len(rows), 'domain')}: {tally['ok']} ok, {tally['warnings']} with warnings, {tally['errors']} with errors")
    return lines_for_terminal(lines)


class Progress:
    """A one-line bar on a terminal's stderr, redrawn at most ten times a second."""

    WIDTH = 30

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total = total
        self.stream = stream
        self.done = 0
        self.failing = 0
        self._drawn = 0.0

    def update(self, result: str) -> None:
        """One more domain done, with this result ('ok', 'warnings' or 'errors')."""
        self.done += 1
        self.failing += result == "errors"
        now = time.monotonic()
        if now - self._drawn >= 0.1 or self.done == self.total:
            self._drawn = now
            filled = self.WIDTH * self.done // self.total
            self.stream.write(f"\r[{'#' * filled}{'.' * (self.WIDTH - filled)}] {self.done}/{self.total} checked, {self.failing} with errors")
            self.stream.flush()

    def close(self) -> None:
        self.stream.write("\r\x1b[K")
        self.stream.flush()
