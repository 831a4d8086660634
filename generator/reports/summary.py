"""Sum reports per policy domain: period, organisations, sessions per day and
per sender, and failures by result type x receiving MX host (with the
receiving and sending addresses the details name)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from generator.reports.advice import Advice, advice
from generator.reports.parse import Report


@dataclass(frozen=True)
class Count:
    """Sessions of one day or one sender."""

    key: str
    reports: int
    successful: int
    failed: int


@dataclass(frozen=True)
class FailureRow:
    result_type: str
    receiving_mx_hostname: str | None
    sessions: int
    advice: Advice
    # The addresses the failure details name (sorted, each once): which of
    # the MX host's addresses failed, and from which sending MTAs.
    receiving_ips: tuple[str, ...] = ()
    sending_mta_ips: tuple[str, ...] = ()


@dataclass(frozen=True)
class DomainSummary:
    domain: str
    reports: int
    start: dt.datetime
    end: dt.datetime
    organisations: tuple[str, ...]
    successful: int
    failed: int
    days: tuple[Count, ...]
    senders: tuple[Count, ...]
    failures: tuple[FailureRow, ...]
    policy_types: tuple[Count, ...]
    modes: tuple[str, ...]  # the sts modes senders reported seeing


class _Sums:
    def __init__(self) -> None:
        self.reports: set[tuple[str, str]] = set()
        self.successful = 0
        self.failed = 0

    def add(self, report_key: tuple[str, str], successful: int, failed: int) -> None:
        self.reports.add(report_key)
        self.successful += successful
        self.failed += failed

    def count(self, key: str) -> Count:
        return Count(key, len(self.reports), self.successful, self.failed)


def summarize(reports: Iterable[Report]) -> list[DomainSummary]:
    """One :class:`DomainSummary` per policy domain, sorted by domain.

    A report's sessions count on the UTC day its date range starts; a report
    that covers several policies of a domain (Microsoft reports ``sts`` and
    ``tlsa`` side by side) counts once in ``reports`` and with all its
    sessions. Failure rows add up ``failure-details``, which RFC 8460 §4.3
    lets exceed the failed-session total (one session, several reasons).
    """
    totals: dict[str, _Sums] = defaultdict(_Sums)
    days: dict[str, dict[str, _Sums]] = defaultdict(lambda: defaultdict(_Sums))
    senders: dict[str, dict[str, _Sums]] = defaultdict(lambda: defaultdict(_Sums))
    types: dict[str, dict[str, _Sums]] = defaultdict(lambda: defaultdict(_Sums))
    failures: dict[str, dict[tuple[str, str | None], int]] = defaultdict(lambda: defaultdict(int))
    addresses: dict[tuple[str, str, str | None], tuple[set[str], set[str]]] = defaultdict(lambda: (set(), set()))
    periods: dict[str, tuple[dt.datetime, dt.datetime]] = {}
    modes: dict[str, set[str]] = defaultdict(set)
    for report in reports:
        day = report.start.date().isoformat()
        for policy in report.policies:
            domain = policy.domain
            for table, key in ((days, day), (senders, report.organization), (types, policy.policy_type)):
                table[domain][key].add(report.key, policy.successful, policy.failed)
            totals[domain].add(report.key, policy.successful, policy.failed)
            start, end = periods.get(domain, (report.start, report.end))
            periods[domain] = (min(start, report.start), max(end, report.end))
            if policy.policy_type == "sts" and policy.mode:
                modes[domain].add(policy.mode)
            for detail in policy.failures:
                failures[domain][(detail.result_type, detail.receiving_mx_hostname)] += detail.sessions
                receiving, sending = addresses[(domain, detail.result_type, detail.receiving_mx_hostname)]
                if detail.receiving_ip:
                    receiving.add(detail.receiving_ip)
                if detail.sending_mta_ip:
                    sending.add(detail.sending_mta_ip)
    return [
        DomainSummary(
            domain=domain,
            reports=len(sums.reports),
            start=periods[domain][0],
            end=periods[domain][1],
            organisations=tuple(sorted(senders[domain])),
            successful=sums.successful,
            failed=sums.failed,
            days=tuple(days[domain][key].count(key) for key in sorted(days[domain])),
            senders=tuple(senders[domain][key].count(key) for key in sorted(senders[domain])),
            failures=tuple(
                FailureRow(result_type, host, sessions, advice(result_type, domain),
                           *(tuple(sorted(ips)) for ips in addresses[(domain, result_type, host)]))
                for (result_type, host), sessions in sorted(
                    failures[domain].items(), key=lambda item: (-item[1], item[0][0], item[0][1] or ""))
            ),
            policy_types=tuple(types[domain][key].count(key) for key in sorted(types[domain])),
            modes=tuple(sorted(modes[domain])),
        )
        for domain, sums in sorted(totals.items())
    ]
