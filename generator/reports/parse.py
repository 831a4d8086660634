"""One RFC 8460 §4 aggregate report (JSON) into typed dataclasses.

Pure: bytes or a decoded object in, a :class:`Report` out, or
:class:`MalformedReport` naming the field and what is wrong with it.

Tolerant of what real senders send (see tests/fixtures/tlsrpt/README.md):
counts as strings ("2"), dates without a time zone (Microsoft, read as UTC)
or with fractions, no ``failure-details`` when nothing failed, ``sts``
policies without ``policy-string`` or ``mx-host``, ``contact-info: null``,
``policy-domain`` in another case or with a trailing dot, and a missing
``policy-domain`` (then the domain the e-mail or file name names, if any).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
from dataclasses import dataclass

from generator.names import to_a_labels

# RFC 8460 §4.3 result types, grouped as the RFC groups them.
NEGOTIATION_FAILURES = frozenset({
    "starttls-not-supported", "certificate-host-mismatch", "certificate-expired",
    "certificate-not-trusted", "validation-failure",
})
STS_FAILURES = frozenset({"sts-policy-fetch-error", "sts-policy-invalid", "sts-webpki-invalid"})
DANE_FAILURES = frozenset({"tlsa-invalid", "dnssec-invalid", "dane-required"})
# The largest count JSON carries exactly (RFC 7493 §2.2); no sender reports more.
MAX_SESSIONS = 2**53 - 1
_DIGITS = re.compile(r"[0-9]+")


class MalformedReport(ValueError):
    """The document is not a usable TLS report; the message says where and why."""


@dataclass(frozen=True)
class FailureDetail:
    result_type: str
    sessions: int
    receiving_mx_hostname: str | None = None
    sending_mta_ip: str | None = None
    receiving_ip: str | None = None
    failure_reason_code: str | None = None


@dataclass(frozen=True)
class PolicyResult:
    policy_type: str
    domain: str
    successful: int
    failed: int
    policy_strings: tuple[str, ...] = ()
    mx_hosts: tuple[str, ...] = ()
    failures: tuple[FailureDetail, ...] = ()

    @property
    def mode(self) -> str | None:
        """The ``mode`` the sender saw in an ``sts`` policy, when it reported the policy."""
        for line in self.policy_strings:
            key, sep, value = line.partition(":")
            if sep and key.strip() == "mode":
                return value.strip()
        return None


@dataclass(frozen=True)
class Report:
    report_id: str
    organization: str
    contact: str | None
    start: dt.datetime
    end: dt.datetime
    policies: tuple[PolicyResult, ...]

    @property
    def key(self) -> tuple[str, str]:
        """What tells reports apart: RFC 8460 leaves the ``report-id`` scheme
        to each sender, so two senders may pick the same one (Google's is
        the day and the domain)."""
        return self.organization, self.report_id


# Where a value is, for a message: ``where`` (a path such as "policies[0]",
# or "" at the top) and the field's name, joined only when a message is
# made, not for every value read.
def _at(where: str, field: str) -> str:
    return f"{where}.{field}" if where else field


def _text(value: object, where: str, field: str, *, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if isinstance(value, str):
        text = value.strip()
        if text or not required:
            return text or None
    got = "nothing" if value is None else f"{type(value).__name__} {value!r:.40}"
    raise MalformedReport(f"{_at(where, field)}: expected text, got {got}")


def _count(value: object, where: str, field: str) -> int:
    """A session count: an int, or ASCII digits in a string as some senders
    write it (``str.isdigit`` also takes "²", which ``int`` refuses)."""
    if type(value) is int and 0 <= value <= MAX_SESSIONS:  # noqa: E721 - bool is no count; the common case first
        return value
    where = _at(where, field)
    if isinstance(value, bool):
        raise MalformedReport(f"{where}: expected a session count, got {value!r}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        number = int(value.strip())
    else:
        raise MalformedReport(f"{where}: expected a session count, got {value!r:.40}")
    if number < 0:
        raise MalformedReport(f"{where}: a session count cannot be negative ({number})")
    if number > MAX_SESSIONS:
        raise MalformedReport(f"{where}: more than 2^53 - 1 sessions is not a count a sender made ({value!r:.40})")
    return number


def utc_datetime(text: str) -> dt.datetime:
    """The one reading of a date-time here, for report dates and the
    command line's bounds alike: ISO 8601, of which RFC 3339 is a profile
    (``Z`` or ``z`` for UTC; ``T``, ``t`` or a space before the time), with
    no zone meaning UTC (Microsoft's reports omit it), a bare date meaning
    its midnight, surrounding blanks ignored; the result in UTC.

    Raise :class:`ValueError` for anything else, :class:`OverflowError`
    when the time in UTC falls outside years 1 to 9999.
    """
    text = text.strip()
    # fromisoformat takes "Z" but not the "z" RFC 3339 §5.6 also allows.
    parsed = dt.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("z") else text)
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def parse_datetime(value: object, where: str) -> dt.datetime:
    """A report's date-time (:func:`utc_datetime`), or :class:`MalformedReport`."""
    if not isinstance(value, str):
        raise MalformedReport(f"{where}: expected a date-time, got {value!r:.40}")
    try:
        return utc_datetime(value)
    except ValueError:
        raise MalformedReport(f"{where}: {value!r:.40} is not a date-time (e.g. 2026-11-01T00:00:00Z)") from None
    except OverflowError:  # year 1 east of UTC, year 9999 west of it
        raise MalformedReport(f"{where}: {value!r:.40} is out of range") from None


def _strings(value: object, where: str, field: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        try:  # of what JSON decodes to, only text has rstrip
            return tuple([v.rstrip("\r") for v in value])
        except AttributeError:
            pass
    raise MalformedReport(f"{_at(where, field)}: expected a list of strings")


def _mapping(value: object, where: str, field: str = "") -> dict:
    if not isinstance(value, dict):
        got = "nothing" if value is None else type(value).__name__
        raise MalformedReport(f"{_at(where, field) if field else where}: expected an object, got {got}")
    return value


def _failure(raw: object, where: str) -> FailureDetail:
    raw = _mapping(raw, where)
    return FailureDetail(
        result_type=_text(raw.get("result-type"), where, "result-type").lower(),
        sessions=_count(raw.get("failed-session-count"), where, "failed-session-count"),
        receiving_mx_hostname=_optional_host(raw.get("receiving-mx-hostname"), where, "receiving-mx-hostname"),
        sending_mta_ip=_text(raw.get("sending-mta-ip"), where, "sending-mta-ip", required=False),
        receiving_ip=_text(raw.get("receiving-ip"), where, "receiving-ip", required=False),
        failure_reason_code=_text(raw.get("failure-reason-code"), where, "failure-reason-code", required=False),
    )


def _optional_host(value: object, where: str, field: str) -> str | None:
    host = _text(value, where, field, required=False)
    return to_a_labels(host) if host else None


def _policy(raw: object, where: str, domain_hint: str | None) -> PolicyResult:
    raw = _mapping(raw, where)
    policy = _mapping(raw.get("policy"), where, "policy")
    summary = _mapping(raw.get("summary"), where, "summary")
    domain = _text(policy.get("policy-domain"), where, "policy.policy-domain", required=False) or domain_hint
    if not domain:
        raise MalformedReport(f"{where}.policy.policy-domain: missing, and neither the e-mail nor the file name names the domain")
    details = raw.get("failure-details")
    if details is None:
        details = []
    if not isinstance(details, list):
        raise MalformedReport(f"{where}.failure-details: expected a list, got {type(details).__name__}")
    return PolicyResult(
        policy_type=_text(policy.get("policy-type"), where, "policy.policy-type").lower(),
        domain=to_a_labels(domain),
        successful=_count(summary.get("total-successful-session-count"), where, "summary.total-successful-session-count"),
        failed=_count(summary.get("total-failure-session-count"), where, "summary.total-failure-session-count"),
        policy_strings=_strings(policy.get("policy-string"), where, "policy.policy-string"),
        mx_hosts=tuple([to_a_labels(h) for h in _strings(policy.get("mx-host"), where, "policy.mx-host")]),
        failures=tuple([_failure(d, f"{where}.failure-details[{i}]") for i, d in enumerate(details)]),
    )


def parse_report(document: object, domain_hint: str | None = None) -> Report:
    """A decoded JSON document to a :class:`Report`; raise :class:`MalformedReport`."""
    raw = _mapping(document, "the report")
    date_range = _mapping(raw.get("date-range"), "", "date-range")
    start = parse_datetime(date_range.get("start-datetime"), "date-range.start-datetime")
    end = parse_datetime(date_range.get("end-datetime"), "date-range.end-datetime")
    if end < start:
        raise MalformedReport(f"date-range: ends ({end:%Y-%m-%dT%H:%M:%SZ}) before it starts ({start:%Y-%m-%dT%H:%M:%SZ})")
    policies = raw.get("policies")
    if not isinstance(policies, list) or not policies:
        raise MalformedReport("policies: expected a non-empty list")
    contact = raw.get("contact-info")
    return Report(
        report_id=_text(raw.get("report-id"), "", "report-id"),
        organization=_text(raw.get("organization-name"), "", "organization-name", required=False) or "(no organization-name)",
        contact=contact.strip() or None if isinstance(contact, str) else None,
        start=start,
        end=end,
        policies=tuple([_policy(p, f"policies[{i}]", domain_hint) for i, p in enumerate(policies)]),
    )


def parse_json(data: bytes, domain_hint: str | None = None) -> Report:
    """Report JSON bytes (UTF-8, a BOM tolerated) to a :class:`Report`."""
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise MalformedReport(f"not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise MalformedReport(f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise MalformedReport("the JSON is nested too deeply") from None
    except ValueError:  # int() refuses a literal over sys.get_int_max_str_digits()
        raise MalformedReport(f"not valid JSON: a number has more than {sys.get_int_max_str_digits()} digits") from None
    return parse_report(document, domain_hint)
