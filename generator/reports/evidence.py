"""What the monitor takes from the TLS reports for each domain: the summary
over the readiness window, the `reports --ready` verdict, a Markdown section
with a chart of the sessions per day, and, for a domain in enforce, the
failures as findings.

Every string of a report is the sender's: the Markdown goes through
:mod:`generator.markdown`, and the chart (Mermaid, which reads its own
syntax, not Markdown) holds only dates and numbers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from generator import markdown as md
from generator.check import codes
from generator.config import DomainConfig
from generator.findings import Finding, error
from generator.reports.collect import Collection
from generator.reports.command import verdicts
from generator.reports.parse import DANE_FAILURES, STS_FAILURES
from generator.reports.ready import Criteria, Readiness
from generator.reports.render import failures_markdown, verdict_markdown
from generator.reports.summary import DomainSummary, summarize


@dataclass(frozen=True)
class Evidence:
    """One domain's TLS reports over the readiness window."""

    domain: str
    mode: str
    verdict: Readiness
    summary: DomainSummary | None  # None: no report in the window
    unreadable: tuple[str, ...]  # the inputs that could not be read, as printable text

    @property
    def start(self) -> dt.datetime:
        return self.verdict.window.since

    @property
    def end(self) -> dt.datetime:
        return self.verdict.window.until

    def fingerprint(self) -> str:
        """What a pull request's evidence rests on: the organisations, reports
        and sessions, not the window's dates, which move every day."""
        v = self.verdict
        text = f"{v.ready} {v.reports} {v.sts_sessions} {' '.join(v.organisations)}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def gather(domains: Sequence[DomainConfig], collection: Collection, until: dt.datetime,
           criteria: Criteria = Criteria()) -> dict[str, Evidence]:
    """Each domain's evidence, judged exactly as `reports --ready` judges it."""
    judged = verdicts(domains, collection, until, criteria)
    window = judged[0].window if judged else None
    inside = [r for r in collection.reports if window is not None and window.overlaps(r)]
    summaries = {s.domain: s for s in summarize(inside)}
    unreadable = tuple(f"{e.source}: {e.message}" for e in collection.errors)
    return {d.domain: Evidence(d.domain, d.policy.mode, v, summaries.get(d.domain), unreadable) for d, v in zip(domains, judged)}


def _days(evidence: Evidence) -> list[tuple[str, int, int]]:
    """(date, all sessions, failed sessions) for every day of the window, none left out."""
    counted = {c.key: c for c in evidence.summary.days} if evidence.summary else {}
    first, last = evidence.start.date(), (evidence.end - dt.timedelta(microseconds=1)).date()
    days = []
    day = first
    while day <= last:
        count = counted.get(day.isoformat())
        days.append((day.isoformat(), count.successful + count.failed if count else 0, count.failed if count else 0))
        day += dt.timedelta(days=1)
    return days


def chart(evidence: Evidence) -> str:
    """A Mermaid ``xychart-beta`` of the window: bars of all sessions, a line
    of the failed ones. Labels are ISO dates, values are counts; nothing a
    sender wrote reaches it."""
    days = _days(evidence)
    labels = ", ".join(f'"{date[5:]}"' for date, _, _ in days)
    return "\n".join([
        "```mermaid",
        "xychart-beta",
        '    title "Sessions per day (bars: all, line: failed)"',
        f"    x-axis [{labels}]",
        '    y-axis "Sessions"',
        f"    bar [{', '.join(str(total) for _, total, _ in days)}]",
        f"    line [{', '.join(str(failed) for _, _, failed in days)}]",
        "```",
    ])


def markdown(evidence: Evidence, level: int = 4) -> str:
    """The domain's TLS-report section for an issue or a job summary."""
    window = f"{evidence.start:%Y-%m-%d} to {evidence.end:%Y-%m-%d}"
    lines = [f"{'#' * level} TLS reports, {window}", ""]
    s = evidence.summary
    if s is None:
        lines.append("No TLS report for the domain in the window.")
    else:
        lines += [f"{s.reports} report(s) from {md.text(', '.join(s.organisations))}; "
                  f"{s.successful} successful and {s.failed} failed session(s).", "", chart(evidence)]
        if s.failures:
            lines += ["", *failures_markdown(s)]
    if evidence.unreadable:
        lines += ["", "Inputs that could not be read:", *(f"- {md.text(item)}" for item in evidence.unreadable)]
    if evidence.mode == "testing":
        lines += ["", *verdict_markdown(evidence.verdict)]
    return "\n".join(lines) + "\n"


def findings(evidence: Evidence) -> list[Finding]:
    """For a domain in enforce: each failure of its MX hosts or of the policy
    fetch in the window, with the cause and fix the reports' advice gives.
    DANE failures are left out, as `--ready` leaves them out: enforce does
    not change how DANE senders deliver."""
    if evidence.mode != "enforce" or evidence.summary is None:
        return []
    found = []
    for row in evidence.summary.failures:
        if row.result_type in DANE_FAILURES:
            continue
        where = f"to {row.receiving_mx_hostname}" if row.receiving_mx_hostname else "to an MX host the sender did not name"
        if row.result_type in STS_FAILURES:
            where = "fetching the policy"
        found.append(error(codes.REPORTS_FAILURES,
                           f"senders' TLS reports show {row.sessions} failed session(s) {where} with {row.result_type} "
                           f"in the {(evidence.end - evidence.start).days} days to {evidence.end:%Y-%m-%d}: {row.advice.cause}",
                           row.advice.fix))
    return found
