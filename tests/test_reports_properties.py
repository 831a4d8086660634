"""Property-based tests of the report reader: a real report with any one
value replaced by arbitrary JSON, arbitrary bytes in any container, and
arbitrary e-mails never escape as anything but a listed input error; and a
summary's totals are always the plain sums of the reports it read."""

from __future__ import annotations

import gzip
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.reports.collect import collect
from generator.reports.parse import MalformedReport, Report, parse_json, parse_report
from generator.reports.sources import InputError, Payload, Skipped, message_payloads
from generator.reports.summary import summarize
from tests.test_reports import REPORT_FILES, oracle_documents

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
REAL = [doc for path in REPORT_FILES for doc in oracle_documents(path)]
json_value = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


def paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, (*prefix, index))


def replaced(doc, path, new):
    if not path:
        return new
    copy = json.loads(json.dumps(doc))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = new
    return copy


@SETTINGS
@given(st.data())
def test_a_real_report_with_any_value_replaced_parses_or_says_what_is_wrong(data):
    doc = data.draw(st.sampled_from(REAL))
    path = data.draw(st.sampled_from(list(paths(doc))))
    mutated = replaced(doc, path, data.draw(json_value))
    try:
        report = parse_report(mutated)
    except MalformedReport as exc:
        assert str(exc)
    else:
        assert isinstance(report, Report)


@SETTINGS
@given(st.binary(max_size=400), st.sampled_from(["plain", "gzip"]))
def test_arbitrary_bytes_are_an_input_error_never_a_crash(data, container):
    payload = Payload("x.json.gz", gzip.compress(data) if container == "gzip" else data)
    result = collect([payload])
    assert len(result.reports) + len(result.errors) == 1


@SETTINGS
@given(st.binary(max_size=600))
def test_arbitrary_mail_gives_items_not_exceptions(data):
    message = b"Content-Type: multipart/report; report-type=tlsrpt; boundary=b\r\n\r\n--b\r\n" + data
    for item in message_payloads(message, "m.eml"):
        assert isinstance(item, (Payload, InputError, Skipped))


@SETTINGS
@given(st.lists(st.sampled_from(REAL), max_size=12), st.lists(st.integers(0, 10**6), min_size=24, max_size=24))
def test_summary_totals_are_the_plain_sums_of_distinct_reports(docs, counts):
    reports = []
    for index, doc in enumerate(docs):
        doc = json.loads(json.dumps(doc))
        doc["report-id"] = f"{doc['report-id']}-{index}"
        doc["policies"][0]["summary"]["total-successful-session-count"] = counts[2 * index]
        doc["policies"][0]["summary"]["total-failure-session-count"] = str(counts[2 * index + 1])
        reports.append(parse_json(json.dumps(doc).encode()))
    for summary in summarize(reports):
        policies = [(r, p) for r in reports for p in r.policies if p.domain == summary.domain]
        assert summary.successful == sum(p.successful for _, p in policies)
        assert summary.failed == sum(p.failed for _, p in policies)
        assert summary.reports == len({r.report_id for r, _ in policies})
        assert sum(day.successful for day in summary.days) == summary.successful
        assert sum(sender.failed for sender in summary.senders) == summary.failed
