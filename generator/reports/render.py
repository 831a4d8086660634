"""The reports summary as text for a terminal, JSON for scripts, and
Markdown for a CI job summary. Pure: data in, a string out.

Every string in a report is the sender's, and anyone can send one: text
passes each line through :func:`generator.terminal.printable`, JSON through
:func:`generator.terminal.json_for_terminal`, and Markdown, made of
:mod:`generator.markdown`'s pieces, through
:func:`generator.terminal.without_commands`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence

from generator import markdown as md
from generator.reports.collect import Collection
from generator.reports.sources import InputError
from generator.reports.ready import Readiness
from generator.reports.summary import Count, DomainSummary
from generator.terminal import json_for_terminal, lines_for_terminal, without_commands


def _time(moment: dt.datetime) -> str:
    # isoformat, not strftime: glibc's %Y writes year 1 as "1", not "0001".
    return moment.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _count_json(count: Count, key: str) -> dict:
    return {key: count.key, "reports": count.reports, "successful_sessions": count.successful, "failed_sessions": count.failed}


def to_json(summaries: Sequence[DomainSummary], collection: Collection, verdicts: Sequence[Readiness] | None = None,
            unreported: Sequence[str] = ()) -> str:
    document: dict = {
        "domains": [
            {
                "domain": s.domain,
                "reports": s.reports,
                "period": {"start": _time(s.start), "end": _time(s.end)},
                "organisations": list(s.organisations),
                "successful_sessions": s.successful,
                "failed_sessions": s.failed,
                "modes_reported": list(s.modes),
                "days": [_count_json(c, "date") for c in s.days],
                "senders": [_count_json(c, "organisation") for c in s.senders],
                "policy_types": [_count_json(c, "policy_type") for c in s.policy_types],
                "failures": [
                    {"result_type": f.result_type, "receiving_mx_hostname": f.receiving_mx_hostname, "sessions": f.sessions,
                     "receiving_ips": list(f.receiving_ips), "sending_mta_ips": list(f.sending_mta_ips), "cause": f.advice.cause, "fix": f.advice.fix, "check_codes": list(f.advice.check_codes)}
                    for f in s.failures
                ],
            }
            for s in summaries
        ],
        "reports": len(collection.reports),
        "duplicates": collection.duplicates,
        "outside_period": collection.outside_period,
        "skipped": collection.skipped,
        "errors": [{"source": e.source, "message": e.message} for e in collection.errors],
        "unreported_domains": list(unreported),
    }
    if verdicts is not None:
        document["readiness"] = [
            {"domain": v.domain, "ready": v.ready, "window": {"start": _time(v.window.since), "end": _time(v.window.until)},
             "reports": v.reports, "organisations": list(v.organisations), "sts_sessions": v.sts_sessions,
             "reasons": [{"code": r.code, "message": r.message} for r in v.reasons]}
            for v in verdicts
        ]
    return json_for_terminal(json.dumps(document, indent=2)) + "\n"


def _totals_line(collection: Collection) -> str:
    extra = [f"{_plural(collection.duplicates, 'duplicate')} ignored"] if collection.duplicates else []
    if collection.outside_period:
        extra.append(f"{collection.outside_period} outside --since/--until")
    if collection.skipped:
        extra.append(f"{collection.skipped} messages or files without a report skipped")
    if collection.errors:
        extra.append(_plural(len(collection.errors), "unreadable input"))
    return f"{_plural(len(collection.reports), 'report')} read" + (f" ({', '.join(extra)})" if extra else "")


def _unreported_line(domain: str) -> str:
    return f"{domain}: no report read names this domain"


def to_text(summaries: Sequence[DomainSummary], collection: Collection, verdicts: Sequence[Readiness] | None = None,
            unreported: Sequence[str] = ()) -> str:
    lines = [_totals_line(collection), *map(_unreported_line, unreported)]
    # The verdicts first: with many domains reporting, they are what --ready is run for.
    for verdict in verdicts or ():
        lines += ["", *_verdict_lines(verdict)]
    for s in summaries:
        lines += ["", f"{s.domain}: {_plural(s.reports, 'report')}, {_time(s.start)} to {_time(s.end)}",
                  f"  sessions: {s.successful} successful, {s.failed} failed",
                  f"  organisations: {', '.join(s.organisations)}"]
        if s.modes:
            lines.append(f"  policy mode senders saw: {', '.join(s.modes)}")
        lines.append("  per day:")
        lines += [f"    {c.key}  {c.successful:>8} ok {c.failed:>8} failed" for c in s.days]
        lines.append("  per sender:")
        lines += [f"    {c.key}: {_plural(c.reports, 'report')}, {c.successful} ok, {c.failed} failed" for c in s.senders]
        if s.failures:
            lines.append("  failures:")
            for f in s.failures:
                codes = f" (check codes: {', '.join(f.advice.check_codes)})" if f.advice.check_codes else ""
                lines += [f"    {f.result_type} on {f.receiving_mx_hostname or '(host not named)'}: {_plural(f.sessions, 'session')}"]
                if f.receiving_ips or f.sending_mta_ips:
                    lines.append(f"      receiving IP: {_some(f.receiving_ips)}; sending MTA IP: {_some(f.sending_mta_ips)}")
                lines += [f"      cause: {f.advice.cause}", f"      fix: {f.advice.fix}{codes}"]
    lines += [_error_line(error) for error in collection.errors]
    return lines_for_terminal(lines) + "\n"


def _some(addresses: Sequence[str], shown: int = 3) -> str:
    """A few addresses and how many more: a sender may list hundreds."""
    if not addresses:
        return "(not named)"
    more = f" and {len(addresses) - shown} more" if len(addresses) > shown else ""
    return ", ".join(addresses[:shown]) + more


def _error_line(error: InputError) -> str:
    return f"error: {error.source}: {error.message}"


def error_text(error: InputError) -> str:
    """One unreadable input, for a terminal."""
    return lines_for_terminal([_error_line(error)])


def _verdict_lines(verdict: Readiness) -> list[str]:
    window = f"{verdict.window.since:%Y-%m-%d} to {verdict.window.until:%Y-%m-%d}"
    head = (f"{verdict.domain}: {'ready to enforce' if verdict.ready else 'not ready to enforce'} "
            f"({window}: {_plural(verdict.reports, 'report')} from {_plural(len(verdict.organisations), 'organisation')}, "
            f"{_plural(verdict.sts_sessions, 'session')} under the sts policy)")
    return [head, *(f"  - [{r.code}] {r.message}" for r in verdict.reasons)]


def verdict_text(verdict: Readiness) -> str:
    """One domain's readiness, for a terminal."""
    return lines_for_terminal(_verdict_lines(verdict))


def to_markdown(summaries: Sequence[DomainSummary], collection: Collection, verdicts: Sequence[Readiness] | None = None,
                unreported: Sequence[str] = ()) -> str:
    lines = ["## TLS reports", "", _totals_line(collection) + "."]
    lines += ["", *(f"- {md.text(_unreported_line(domain))}" for domain in unreported)] if unreported else []
    for verdict in verdicts or ():
        lines += ["", *verdict_markdown(verdict)]
    for s in summaries:
        lines += ["", f"### {md.text(s.domain)}", "",
                  f"{_plural(s.reports, 'report')} from {_time(s.start)} to {_time(s.end)}; "
                  f"{s.successful} successful and {s.failed} failed sessions.", "", f"Organisations: {md.text(', '.join(s.organisations))}",
                  "", "| Day | Successful | Failed |", "|---|---:|---:|"]
        lines += [f"| {c.key} | {c.successful} | {c.failed} |" for c in s.days]
        lines += ["", "| Sender | Reports | Successful | Failed |", "|---|---:|---:|---:|"]
        lines += [f"| {md.text(c.key)} | {c.reports} | {c.successful} | {c.failed} |" for c in s.senders]
        if s.failures:
            lines += ["", *failures_markdown(s)]
    if collection.errors:
        lines += ["", "### Unreadable inputs", ""]
        lines += [f"- {md.text(e.source)}: {md.text(e.message)}" for e in collection.errors]
    return without_commands("\n".join(lines)) + "\n"


def verdict_markdown(verdict: Readiness) -> list[str]:
    """One domain's readiness and its reasons, as Markdown lines."""
    head = f"**{md.text(verdict.domain)}: {'ready to enforce' if verdict.ready else 'not ready to enforce'}**"
    return [head, *(f"- `{r.code}`: {md.prose(r.message)}" for r in verdict.reasons)]


def failures_markdown(summary: DomainSummary) -> list[str]:
    """The failures by result type and MX host, with cause and fix, as a Markdown table."""
    lines = ["| Result type | MX host | Receiving IP | Sending MTA IP | Sessions | Likely cause | Fix |", "|---|---|---|---|---:|---|---|"]
    return lines + [f"| {md.code(f.result_type)} | {md.text(f.receiving_mx_hostname or '(not named)')} | {md.text(_some(f.receiving_ips))} "
                    f"| {md.text(_some(f.sending_mta_ips))} | {f.sessions} | {md.prose(f.advice.cause)} | {md.prose(f.advice.fix)} |"
                    for f in summary.failures]
