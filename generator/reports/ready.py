"""The enforce-readiness verdict of each policy domain.

The window is the ``days`` before ``until`` (default: 14 days up to now).
Over the reports whose date range overlaps it, a domain is ready to move
from testing to enforce only when all of these hold:

1. at least ``min_organisations`` organisations sent reports (default 2):
   one sender's view can miss a broken path another takes;
2. at least ``min_sessions`` sessions were evaluated against the domain's
   ``sts`` policy (default 20): enough mail to have exercised every MX;
3. no session failed TLS negotiation (RFC 8460 §4.3.1: STARTTLS missing, a
   certificate problem, validation failure) on an MX host the policy lists;
   under enforce each such session is mail that is not delivered;
4. no session failed on an MX host the policy does not list, or on one the
   sender did not name: under enforce senders refuse those hosts outright;
5. no sender failed to fetch or validate the policy itself (``sts-policy-*``):
   enforce then protects nothing, and usually the Pages site is broken;
6. every failed session is explained: a failure total above what the
   ``failure-details`` account for, or a result type RFC 8460 does not
   define, may hide any of the above, so it is not taken as harmless;
7. every input was read: a report that could not be (a sender's new
   format, a cut download, a mailbox that refused the login) may be the
   one with the failures.

DANE failures (``tlsa`` policies) are counted in the summary but do not
decide this verdict: enforce does not change how DANE senders deliver.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from generator.errors import UsageError
from generator.names import mx_matches
from generator.reports.advice import advice
from generator.reports.collect import Period
from generator.reports.parse import DANE_FAILURES, NEGOTIATION_FAILURES, STS_FAILURES, PolicyResult, Report

DEFAULT_DAYS = 14
DEFAULT_MIN_ORGANISATIONS = 2
DEFAULT_MIN_SESSIONS = 20
# Policy types whose failures say what enforce would do: the sts policy
# itself, and senders that found no policy (e.g. before it was served).
_DECIDING_TYPES = ("sts", "no-policy-found")


@dataclass(frozen=True)
class Criteria:
    days: int = DEFAULT_DAYS
    min_organisations: int = DEFAULT_MIN_ORGANISATIONS
    min_sessions: int = DEFAULT_MIN_SESSIONS


@dataclass(frozen=True)
class Reason:
    code: str
    message: str


@dataclass(frozen=True)
class Readiness:
    domain: str
    ready: bool
    window: Period
    reports: int
    organisations: tuple[str, ...]
    sts_sessions: int
    reasons: tuple[Reason, ...]


def window(until: dt.datetime, days: int) -> Period:
    try:
        return Period(until - dt.timedelta(days=days), until)
    except OverflowError:
        raise UsageError(f"--window-days {days} before {until:%Y-%m-%d} reaches before year 1") from None


def readiness(domains: Mapping[str, Sequence[str]], reports: Iterable[Report], until: dt.datetime,
              criteria: Criteria = Criteria(), unreadable: int = 0) -> list[Readiness]:
    """Decide for each of ``domains`` (each with the MX patterns its policy
    lists) whether it may enforce; ``unreadable``: how many inputs could not
    be read. The reports are walked once, each policy result filed under its
    domain: the cost grows with reports plus domains, not their product."""
    period = window(until, criteria.days)
    results: dict[str, list[tuple[Report, PolicyResult]]] = {domain: [] for domain in domains}
    for report in reports:
        if period.overlaps(report):
            for policy in report.policies:
                if policy.domain in results:
                    results[policy.domain].append((report, policy))
    return [_verdict(domain, patterns, results[domain], period, until, criteria, unreadable) for domain, patterns in domains.items()]


def _verdict(domain: str, patterns: Sequence[str], results: Sequence[tuple[Report, PolicyResult]], period: Period,
             until: dt.datetime, criteria: Criteria, unreadable: int) -> Readiness:
    """One domain's verdict over its policy results in the window."""
    organisations: set[str] = set()
    report_keys: set[tuple[str, str]] = set()
    sts_sessions = 0
    listed: dict[tuple[str, str], int] = defaultdict(int)
    unlisted: dict[tuple[str, str], int] = defaultdict(int)
    unnamed: dict[str, int] = defaultdict(int)
    policy_failures: dict[str, int] = defaultdict(int)
    unknown: dict[str, int] = defaultdict(int)
    undetailed = 0
    for report, policy in results:
        organisations.add(report.organization)
        report_keys.add(report.key)
        if policy.policy_type == "sts":
            sts_sessions += policy.successful + policy.failed
        if policy.policy_type not in _DECIDING_TYPES:
            continue
        # Details may add up to more than the total (one session, several
        # reasons; RFC 8460 §4.3), never rightly to less.
        undetailed += max(0, policy.failed - sum(detail.sessions for detail in policy.failures))
        for detail in policy.failures:
            if detail.result_type in STS_FAILURES:
                policy_failures[detail.result_type] += detail.sessions
            elif detail.result_type in DANE_FAILURES:
                continue
            elif detail.result_type not in NEGOTIATION_FAILURES:
                unknown[detail.result_type] += detail.sessions
            elif detail.receiving_mx_hostname is None:
                unnamed[detail.result_type] += detail.sessions
            elif any(mx_matches(p, detail.receiving_mx_hostname) for p in patterns):
                listed[(detail.receiving_mx_hostname, detail.result_type)] += detail.sessions
            else:
                unlisted[(detail.receiving_mx_hostname, detail.result_type)] += detail.sessions
    reasons: list[Reason] = []
    span = f"in the {criteria.days} days to {until:%Y-%m-%d %H:%M} UTC"
    if not report_keys:
        reasons.append(Reason("no-reports", f"no TLS report for {domain} {span}"))
    elif len(organisations) < criteria.min_organisations:
        reasons.append(Reason("few-organisations",
                              f"{len(organisations)} organisation(s) reported ({', '.join(sorted(organisations))}) {span}; at least {criteria.min_organisations} wanted"))
    if report_keys and sts_sessions < criteria.min_sessions:
        reasons.append(Reason("few-sessions", f"{sts_sessions} session(s) were checked against the sts policy {span}; at least {criteria.min_sessions} wanted"))
    for (host, result_type), sessions in sorted(listed.items()):
        tip = advice(result_type, domain)
        reasons.append(Reason("mx-failures", f"{sessions} session(s) to {host} failed with {result_type}: {tip.cause}; fix: {tip.fix}"))
    for (host, result_type), sessions in sorted(unlisted.items()):
        reasons.append(Reason("mx-not-in-policy",
                              f"{sessions} session(s) to {host} failed with {result_type}, and the policy does not list {host}; add it to policy.mx if it is your MX"))
    for result_type, sessions in sorted(unnamed.items()):
        tip = advice(result_type, domain)
        reasons.append(Reason("mx-failures", f"{sessions} session(s) to an MX host the sender did not name failed with {result_type}: {tip.cause}; fix: {tip.fix}"))
    for result_type, sessions in sorted(policy_failures.items()):
        tip = advice(result_type, domain)
        reasons.append(Reason("policy-failures", f"{sessions} session(s) failed with {result_type}: {tip.cause}; fix: {tip.fix}"))
    if undetailed:
        reasons.append(Reason("unexplained-failures", f"{undetailed} failed session(s) have no failure-details saying why or on which MX host; "
                                                      "read those reports, or wait for reports that explain them"))
    for result_type, sessions in sorted(unknown.items()):
        reasons.append(Reason("unexplained-failures", f"{sessions} session(s) failed with {result_type}, a result type RFC 8460 does not define; "
                                                      "read those reports' failure-details"))
    if unreadable:
        reasons.append(Reason("unreadable-inputs", f"{unreadable} input{' could' if unreadable == 1 else 's could'} not be read (listed as errors); "
                                                   "any of them may hold failures: fix or remove them, or promote with --force"))
    return Readiness(domain, not reasons, period, len(report_keys), tuple(sorted(organisations)), sts_sessions, tuple(reasons))
