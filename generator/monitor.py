"""The monitor: check the live domains and keep one GitHub issue per domain
in step with what the check finds, through GitHub's REST API (generator.github,
which runs the `gh` CLI that GitHub's runners ship).

- findings that need action and no open issue: open one;
- an open issue whose findings changed: comment with the new report and
  update the issue body;
- the same findings as the issue records: nothing (no duplicate, no noise);
- healthy again: comment and close.

With TLS reports to read, each domain's issue and the job summary show
them over the readiness window (generator.reports.evidence), a domain in
enforce gets their failures as findings, and with promote a domain in
testing whose reports say ready gets one pull request to enforce
(generator.autopilot).

The issue body carries a marker, an HTML comment with the domain and a
fingerprint of the findings, which is how the next run finds the issue and
tells whether anything changed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

from generator.autopilot import PullSync, keep_pulls
from generator.check import codes
from generator.check.domain import DomainReport
from generator.check.markdown import domain_section
from generator.check.options import CheckOptions, Target
from generator.check.runner import run_checks
from generator.config import DomainConfig, Monitor
from generator.errors import UsageError
from generator.findings import Finding, Severity
from generator.github import issues
from generator.github.api import GitHub
from generator.reports import evidence
from generator.reports.collect import Collection
from generator.reports.evidence import Evidence, gather
from generator.reports.ready import Criteria

_MARKER = re.compile(r"<!-- mta-sts-pages monitor: domain=(\S+) fingerprint=([0-9a-f]+|none) -->")
LABEL_COLOR = "d93f0b"
# GitHub refuses issue bodies and comments over 65,536 characters.
MAX_TEXT = 60_000


def needs_action(finding: Finding, config: DomainConfig | None) -> bool:
    """Errors always; warnings too (an expiring certificate, drift, an MX host
    the policy does not cover...), except a missing TLS-RPT record when the
    config asks for none: that is the owner's choice, not a fault."""
    if finding.severity is Severity.ERROR:
        return True
    if finding.severity is not Severity.WARNING:
        return False
    return not (finding.code == codes.TLSRPT_RECORD_MISSING and config is not None and config.tlsrpt_rua is None)


def fingerprint(findings: list[Finding]) -> str:
    """The same problems give the same fingerprint, day after day: numbers
    (days left, seconds) are left out, so a certificate counting down does
    not comment every morning."""
    if not findings:
        return "none"
    keys = sorted({f"{f.severity} {f.code} {re.sub(r'[0-9]+', '#', f.message)}" for f in findings})
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]


def marker(domain: str, print_: str) -> str:
    return f"<!-- mta-sts-pages monitor: domain={domain} fingerprint={print_} -->"


def title(domain: str) -> str:
    return f"MTA-STS: {domain} needs attention"


def section(report: DomainReport, extra: str = "") -> str:
    """The domain's report (and ``extra``, its TLS-report section), cut
    short where GitHub would refuse it."""
    text = domain_section(report) + (f"\n{extra}" if extra else "")
    if len(text) <= MAX_TEXT:
        return text
    return text[:MAX_TEXT].rsplit("\n", 1)[0] + "\n\n(The report is cut here; the run's job summary has all of it.)\n"


def body(report: DomainReport, print_: str, extra: str = "") -> str:
    return "\n".join([
        marker(report.domain, print_),
        section(report, extra),
        "---",
        "Kept by the mta-sts-pages monitor workflow: it comments here when the findings change "
        "and closes this issue once the domain is healthy.",
        "",
    ])


@dataclass(frozen=True)
class Sync:
    """What the run did about one domain's issue."""

    report: DomainReport
    action: str  # opened, commented, closed, unchanged, healthy
    number: int | None
    duplicates: tuple[int, ...] = ()  # other open issues of the domain, closed

    def line(self) -> str:
        issue = f"issue #{self.number}" if self.number is not None else "no issue"
        closed = "".join(f"; closed duplicate #{n}" for n in self.duplicates)
        return {
            "opened": f"{self.report.domain}: findings need action; opened {issue}",
            "commented": f"{self.report.domain}: the findings changed; commented on {issue}",
            "unchanged": f"{self.report.domain}: the same findings as {issue} records",
            "closed": f"{self.report.domain}: healthy again; closed {issue}",
            "healthy": f"{self.report.domain}: healthy; {issue} to keep",
        }[self.action] + closed


def open_issues(client: GitHub, repo: str, label: str) -> dict[str, list[tuple[int, str]]]:
    """The open issues the monitor keeps under ``label``: domain -> [(number,
    fingerprint)], oldest first. The oldest is the domain's issue; any other
    is a duplicate (two runs racing, an issue copied by hand)."""
    found: dict[str, list[tuple[int, str]]] = {}
    for number, text in issues.open_issues(client, repo, label):
        match = _MARKER.search(text)
        if match:
            found.setdefault(match.group(1), []).append((number, match.group(2)))
    return found


def close_duplicates(client: GitHub, repo: str, kept: Sync, duplicates: list[tuple[int, str]]) -> list[int]:
    """Close the domain's other open issues, each pointing to the one kept."""
    where = f"#{kept.number}" if kept.number is not None and kept.action != "closed" else "the next issue the monitor opens"
    for number, _ in duplicates:
        issues.comment(client, repo, number, f"A duplicate: the monitor keeps {kept.report.domain}'s findings in {where}.")
        issues.edit(client, repo, number, state="closed")
    return [number for number, _ in duplicates]


def sync(report: DomainReport, config: DomainConfig | None, existing: tuple[int, str] | None, client: GitHub, repo: str,
         label: str, labels: set[str] | None = None, extra: str = "") -> Sync:
    """Bring the domain's issue in step with ``report``. ``labels``: the
    labels known to exist, shared across domains so each is checked once;
    ``extra``: Markdown shown after the findings (the TLS reports)."""
    acting = [f for f in report.findings if needs_action(f, config)]
    print_ = fingerprint(acting)
    if not acting:
        if existing is None:
            return Sync(report, "healthy", None)
        number = existing[0]
        issues.comment(client, repo, number, f"Healthy again.\n\n{section(report, extra)}")
        issues.edit(client, repo, number, state="closed")
        return Sync(report, "closed", number)
    text = body(report, print_, extra)
    if existing is None:
        if labels is None or label not in labels:
            issues.ensure_label(client, repo, label, LABEL_COLOR, "MTA-STS findings of the mta-sts-pages monitor")
            if labels is not None:
                labels.add(label)
        return Sync(report, "opened", issues.open_issue(client, repo, title(report.domain), text, label))
    number, recorded = existing
    if recorded == print_:
        return Sync(report, "unchanged", number)
    issues.comment(client, repo, number, f"The findings changed.\n\n{section(report, extra)}")
    issues.edit(client, repo, number, body=text)
    return Sync(report, "commented", number)


@dataclass(frozen=True)
class Reading:
    """The TLS reports the monitor read, and how `reports --ready` judges them."""

    collection: Collection
    until: dt.datetime
    criteria: Criteria = Criteria()


def monitor(targets: list[Target], options: CheckOptions, client: GitHub, *, label: str | None = None, smtp: bool = False,
            checked: Callable[[list[DomainReport], dict[str, str]], None] | None = None, reports: Reading | None = None,
            promote: bool = False, config_path: str | None = None) -> list[Sync | PullSync]:
    """Check every target, then keep each domain's issue in step.

    Each domain's ``monitor:`` section gives its label, whether to probe
    STARTTLS and whether to promote; ``label``, ``smtp`` and ``promote``
    (the command line) override them. With ``reports``, each domain's issue
    and summary gain its TLS-report section, a domain in enforce gains the
    failures as findings, and a domain to promote gets its enforce pull
    request kept in step (``config_path``: the config in the repository).
    ``checked`` gets the reports and each domain's TLS-report section, in
    the targets' order, before GitHub is asked: a job summary then holds
    them even when GitHub fails.
    """
    settings = _settings(targets)
    promoted = [t.domain for t in targets if promote or settings[t.domain].promote]
    if promoted and (reports is None or config_path is None):
        raise UsageError("promoting needs the TLS reports (--reports, --imap or monitor.reports) and the config (--config), "
                         "whose mode line the pull request changes")
    checks = _check(targets, options, smtp, settings)
    found: dict[str, Evidence] = {}
    if reports is not None:
        configs = [t.config for t in targets if t.config is not None]
        found = gather(configs, reports.collection, reports.until, reports.criteria)
        for domain, item in found.items():
            checks[domain].findings.extend(evidence.findings(item))
    sections = {domain: evidence.markdown(item) for domain, item in found.items()}
    if checked is not None:
        checked([checks[t.domain] for t in targets], sections)
    labelled = [(checks[t.domain], t.config, label or settings[t.domain].label) for t in targets]
    repo = issues.repository(client)
    synced: list[Sync | PullSync] = list(keep_issues(labelled, client, repo, sections))
    synced += keep_pulls([found[domain] for domain in promoted], config_path, client, repo)
    return synced


def keep_issues(labelled: list[tuple[DomainReport, DomainConfig | None, str]], client: GitHub, repo: str,
                sections: dict[str, str] | None = None) -> list[Sync]:
    """Each (report, config, label)'s issue in step: one paginated list per
    label, then a request only for a domain whose issue changes. ``sections``:
    each domain's Markdown to show after its findings."""
    listed: dict[str, dict[str, list[tuple[int, str]]]] = {}
    labels: set[str] = set()  # labels that exist: one has open issues, or was made sure of
    synced = []
    for report, config, name in labelled:
        if name not in listed:
            listed[name] = open_issues(client, repo, name)
            if listed[name]:
                labels.add(name)
        kept, *duplicates = listed[name].get(report.domain) or [None]
        done = sync(report, config, kept, client, repo, name, labels, (sections or {}).get(report.domain, ""))
        if duplicates:
            done = dataclasses.replace(done, duplicates=tuple(close_duplicates(client, repo, done, duplicates)))
        synced.append(done)
    return synced


def _settings(targets: list[Target]) -> dict[str, Monitor]:
    return {t.domain: (t.config.monitor if t.config is not None and t.config.monitor else Monitor()) for t in targets}


def _check(targets: list[Target], options: CheckOptions, smtp: bool, settings: dict[str, Monitor]) -> dict[str, DomainReport]:
    """Every target's report, STARTTLS probed where ``smtp`` or its monitor: section asks."""
    reports: dict[str, DomainReport] = {}
    for probe in (False, True):
        group = [t for t in targets if (smtp or settings[t.domain].smtp) is probe]
        if group:
            run_checks(group, dataclasses.replace(options, smtp=probe), lambda r: reports.__setitem__(r.domain, r))
    return reports


def dry_run(targets: list[Target], options: CheckOptions, *, label: str | None = None, smtp: bool = False) -> list[tuple[DomainReport, str]]:
    """Check every target as :func:`monitor` does, and say what it would do
    about each domain's issue, without `gh`: which issues are open is not
    known, so both cases are named."""
    settings = _settings(targets)
    reports = _check(targets, options, smtp, settings)
    planned = []
    for target in targets:
        report, name = reports[target.domain], label or settings[target.domain].label
        acting = [f for f in report.findings if needs_action(f, target.config)]
        if acting:
            plan = (f"{report.domain}: {len(acting)} {'finding needs' if len(acting) == 1 else 'findings need'} action; would open an issue "
                    f"labelled {name!r} titled {title(report.domain)!r}, or comment on the open one if its findings differ")
        else:
            plan = f"{report.domain}: healthy; would close its open issue labelled {name!r}, if there is one"
        planned.append((report, plan))
    return planned
