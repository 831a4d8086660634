"""check results as GitHub-flavoured Markdown, for job summaries and issue
bodies. Every piece of server text goes through :mod:`generator.markdown`."""

from __future__ import annotations

from generator import markdown as md
from generator.check.domain import DomainReport
from generator.check.report import counts, ordered
from generator.findings import Severity

_VERDICT = {"errors": "failed", "warnings": "passed with warnings", "ok": "passed"}
_ICON = {"errors": ":x:", "warnings": ":warning:", "ok": ":white_check_mark:"}


def facts(report: DomainReport) -> list[str]:
    """What the domain publishes, one Markdown line each."""
    lines = []
    if report.policy is not None:
        lines.append(f"- Policy: mode {md.code(report.policy.mode)}, max_age {report.policy.max_age}, "
                     f"mx {', '.join(md.code(p) for p in report.policy.mx) or 'none'}")
    if report.sts_id is not None:
        lines.append(f"- `_mta-sts` id: {md.code(report.sts_id)}")
    if report.mx_hosts:
        lines.append(f"- MX hosts: {', '.join(md.code(h) for h in report.mx_hosts)}")
    return lines


def findings_table(report: DomainReport) -> list[str]:
    rows = ordered(report)
    if not rows:
        return ["No findings."]
    lines = ["| Severity | Code | Finding | Fix |", "| --- | --- | --- | --- |"]
    lines += [f"| {f.severity} | {md.code(f.code)} | {md.prose(f.message)} | {md.prose(f.fix)} |" for f in rows]
    return lines


def domain_section(report: DomainReport, level: int = 3) -> str:
    """One domain: verdict, what it publishes, every finding with its fix."""
    heading = f"{'#' * level} {_ICON[report.result]} {md.text(report.domain)}: {_VERDICT[report.result]} ({counts(report)})"
    return "\n".join([heading, "", *facts(report), "", *findings_table(report)]) + "\n"


def summary_row(report: DomainReport) -> str:
    """One domain's row of the summary table."""
    mode = md.code(report.policy.mode) if report.policy else "-"
    return (f"| {md.text(report.domain)} | {_ICON[report.result]} {report.result} | {report.count(Severity.ERROR)} | "
            f"{report.count(Severity.WARNING)} | {mode} | {md.code(report.sts_id) if report.sts_id else '-'} |")


def summary_table(rows: list[str]) -> str:
    return "\n".join(["| Domain | Result | Errors | Warnings | Mode | Id |", "| --- | --- | --- | --- | --- | --- |", *rows]) + "\n"


def document_of(rows: list[str], sections) -> str:
    """The whole report from each domain's summary row and the sections of
    those shown: a table of every domain when there are several, then a
    section for each shown (only those with findings to act on, when many)."""
    parts = ["## MTA-STS check\n"]
    if len(rows) > 1:
        parts.append(summary_table(rows))
    parts += list(sections)
    return "\n".join(parts)


def document(reports: list[DomainReport]) -> str:
    """:func:`document_of` for reports in memory."""
    shown = [r for r in reports if len(reports) == 1 or r.result != "ok"]
    return document_of([summary_row(r) for r in reports], (domain_section(r) for r in shown))
