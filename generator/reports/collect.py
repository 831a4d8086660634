"""From inputs to the reports to count: decode, parse, de-duplicate, filter."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from generator.errors import UsageError
from generator.reports.parse import MalformedReport, Report, parse_json, utc_datetime
from generator.reports.sources import InputError, Item, Payload, Skipped, decompress


@dataclass(frozen=True)
class Period:
    """``[since, until)`` in UTC; either end open. A report counts when its
    date range overlaps the period (a day's report ending at 23:59:59 or at
    the next midnight both belong to that day)."""

    since: dt.datetime | None = None
    until: dt.datetime | None = None

    def overlaps(self, report: Report) -> bool:
        return (self.since is None or report.end > self.since) and (self.until is None or report.start < self.until)


def parse_bound(text: str, option: str, *, end: bool = False) -> dt.datetime:
    """A --since/--until value, read as report dates are (:func:`utc_datetime`)
    but for one rule they do not need: a bare date (2026-11-01, 20261101,
    2026-W44-7) is a whole UTC day, so as an ``end`` it means the next
    midnight; `--until 2026-11-30` takes in the 30th. A report's date range
    names both its ends, so its dates need no such reading."""
    try:
        moment = utc_datetime(text)
        return moment + dt.timedelta(days=1) if end and _is_date(text) else moment
    except ValueError:
        raise UsageError(f"{option} {text!r} is not a date (2026-11-01) or a date-time (2026-11-01T12:00:00Z)") from None
    except OverflowError:  # the day after 9999-12-31, or year 1 east of UTC
        raise UsageError(f"{option} {text!r} is out of range (years 1 to 9999, in UTC)") from None


def _is_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text.strip())
    except ValueError:
        return False
    return True


@dataclass
class Collection:
    reports: list[Report] = field(default_factory=list)
    read: dict[tuple[str, str], tuple[Report, str]] = field(default_factory=dict)  # Report.key: the first read and its origin
    errors: list[InputError] = field(default_factory=list)
    duplicates: int = 0
    skipped: int = 0
    outside_period: int = 0


@dataclass(frozen=True)
class Parsed:
    """A payload already parsed (by a worker process: generator/reports/workers.py)."""

    origin: str
    report: Report


def decode(payload: Payload) -> Report:
    """One payload's report; raise :class:`MalformedReport`."""
    return parse_json(payload.data if payload.inflated else decompress(payload.data), payload.domain_hint)


def collect(items: Iterable[Item | Parsed], period: Period = Period()) -> Collection:
    """Parse every payload, keep the first report of each ``report-id`` (per
    organisation), and those whose date range overlaps ``period``; everything
    unreadable goes to ``errors`` and the rest carries on. A report-id met
    again with other contents is an error too: one of the two is forged or
    broken, and only the first is counted."""
    result = Collection()
    for item in parsed(items):
        if isinstance(item, Skipped):
            result.skipped += 1
            continue
        if isinstance(item, InputError):
            result.errors.append(item)
            continue
        report = item.report
        if report.key in result.read:
            result.duplicates += 1
            first, origin = result.read[report.key]
            if report != first:
                result.errors.append(InputError(item.origin, f"report-id {report.report_id} of {report.organization} was read before "
                                                             f"from {origin} with other contents; only that one is counted"))
            continue
        result.read[report.key] = report, item.origin
        if period.overlaps(report):
            result.reports.append(report)
        else:
            result.outside_period += 1
    return result


def parsed(items: Iterable[Item | Parsed]) -> Iterator[Item | Parsed]:
    """Each payload as its report, or the error that says why it is none."""
    for item in items:
        if isinstance(item, Payload):
            try:
                yield Parsed(item.origin, decode(item))
            except MalformedReport as exc:
                yield InputError(item.origin, str(exc))
        else:
            yield item
