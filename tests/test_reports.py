"""`reports`: real TLS reports (tests/fixtures/tlsrpt) read from every kind of
file, summed per domain, checked against a plain sum of their JSON; the
deviations of real senders tolerated; malformed input reported and skipped."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
import mailbox
import os
import pty
import re
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from email.message import EmailMessage
from pathlib import Path

import pytest

from generator.check.codes import CODES
from generator.reports.advice import ADVICE
from tests.support.cli import run_cli
from tests.test_startup import PARSING, imported, network_modules

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "tlsrpt"
REPORT_FILES = sorted(p for p in FIXTURES.iterdir() if p.suffix in (".json", ".gz", ".eml"))
EML_FILES = [p for p in REPORT_FILES if p.suffix == ".eml"]
_ATTACHMENT = re.compile(rb"Content-Type: application/tlsrpt\+gzip.*?\r?\n\r?\n(.*?)\r?\n--", re.S)


def oracle_documents(path: Path) -> list[dict]:
    """The report JSON in a fixture, found without the code under test: the
    base64 body after an application/tlsrpt+gzip header, or the file itself."""
    data = path.read_bytes()
    if path.suffix == ".eml":
        return [json.loads(gzip.decompress(base64.b64decode(body))) for body in _ATTACHMENT.findall(data)]
    return [json.loads(gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data)]


def oracle_sums(documents: list[dict]) -> dict[str, dict]:
    sums: dict[str, dict] = defaultdict(lambda: {"ok": 0, "failed": 0, "ids": set(), "failures": Counter(),
                                                 "addresses": defaultdict(lambda: (set(), set()))})
    for doc in documents:
        for policy in doc["policies"]:
            domain = sums[policy["policy"]["policy-domain"].lower()]
            domain["ok"] += int(policy["summary"]["total-successful-session-count"])
            domain["failed"] += int(policy["summary"]["total-failure-session-count"])
            domain["ids"].add(doc["report-id"])
            for detail in policy.get("failure-details", []):
                domain["failures"][(detail["result-type"], detail.get("receiving-mx-hostname"))] += int(detail["failed-session-count"])
                receiving, sending = domain["addresses"][(detail["result-type"], detail.get("receiving-mx-hostname"))]
                receiving.update([detail["receiving-ip"]] if detail.get("receiving-ip") else [])
                sending.update([detail["sending-mta-ip"]] if detail.get("sending-mta-ip") else [])
    return sums


def reports_json(*args) -> tuple[int, dict]:
    result = run_cli("reports", *map(str, args), "--json")
    return result.code, json.loads(result.out)


def assert_matches_oracle(document: dict, sums: dict[str, dict]) -> None:
    assert {d["domain"] for d in document["domains"]} == set(sums)
    for entry in document["domains"]:
        expected = sums[entry["domain"]]
        assert (entry["successful_sessions"], entry["failed_sessions"], entry["reports"]) == (expected["ok"], expected["failed"], len(expected["ids"]))
        assert {(f["result_type"], f["receiving_mx_hostname"]): f["sessions"] for f in entry["failures"]} == dict(expected["failures"])
        for f in entry["failures"]:  # the addresses parsedmarc shows, each once, sorted
            receiving, sending = expected["addresses"][(f["result_type"], f["receiving_mx_hostname"])]
            assert (f["receiving_ips"], f["sending_mta_ips"]) == (sorted(receiving), sorted(sending))
        assert sum(day["successful_sessions"] for day in entry["days"]) == expected["ok"]
        assert sum(sender["failed_sessions"] for sender in entry["senders"]) == expected["failed"]


def test_every_fixture_is_a_listed_real_report():
    listed = {line.split("\t")[0] for line in (FIXTURES / "SOURCES.tsv").read_text().splitlines()[1:]}
    assert {p.name for p in REPORT_FILES} == listed
    readme = (FIXTURES / "README.md").read_text()
    assert all(f"`{p.name}`" in readme for p in REPORT_FILES)


@pytest.mark.parametrize("path", REPORT_FILES, ids=[p.name for p in REPORT_FILES])
def test_fixture_totals_agree_with_a_plain_sum_of_its_json(path):
    documents = oracle_documents(path)
    assert documents, "the oracle found the report"
    code, document = reports_json(path)
    assert code == 0, document["errors"]
    assert document["errors"] == [] and document["reports"] == len(documents)
    assert_matches_oracle(document, oracle_sums(documents))


def test_a_folder_of_every_fixture_sums_them_all(tmp_path):
    code, document = reports_json(FIXTURES)
    documents = [doc for path in REPORT_FILES for doc in oracle_documents(path)]
    assert code == 0 and document["errors"] == []
    assert document["reports"] == len({doc["report-id"] for doc in documents}) == len(REPORT_FILES)
    assert document["skipped"] == 2  # README.md and SOURCES.tsv: not reports, not errors
    assert_matches_oracle(document, oracle_sums(documents))


def test_the_same_report_in_several_containers_counts_once(tmp_path):
    original = FIXTURES / "parsedmarc__smtp_tls.json"
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    shutil.copy(original, tmp_path / "copy.json")
    (nested / "again.json.gz").write_bytes(gzip.compress(original.read_bytes()))
    code, document = reports_json(original, tmp_path)
    assert code == 0
    assert (document["reports"], document["duplicates"]) == (1, 2)
    assert_matches_oracle(document, oracle_sums(oracle_documents(original)))


def test_mbox_and_maildir_give_the_same_totals_as_the_eml_files(tmp_path):
    box = mailbox.mbox(tmp_path / "reports.mbox")
    maildir = mailbox.Maildir(tmp_path / "Maildir")
    for path in EML_FILES:
        box.add(path.read_bytes())
        maildir.add(path.read_bytes())
    unrelated = b"From: a@example.org\nSubject: lunch\nContent-Type: text/plain\n\nnoon?\n"
    box.add(unrelated)
    maildir.add(unrelated)
    box.flush()
    box.close()
    expected = oracle_sums([doc for path in EML_FILES for doc in oracle_documents(path)])
    for source in (tmp_path / "reports.mbox", tmp_path / "Maildir"):
        code, document = reports_json(source)
        assert code == 0 and document["errors"] == []
        assert (document["reports"], document["skipped"]) == (len(EML_FILES), 1)
        assert_matches_oracle(document, expected)


def test_real_deviations_are_tolerated(tmp_path):
    """String counts, a policy-domain in capitals with a trailing dot, a
    date-time with fractions and an offset, none at all, no policy-domain
    (taken from the RFC 8460 file name) all read as their plain meaning."""
    doc = json.loads((FIXTURES / "parsedmarc__smtp_tls.json").read_text())
    doc["report-id"] = "deviant"
    doc["contact-info"] = None
    doc["date-range"] = {"start-datetime": "2024-01-09T00:00:00.000+00:00", "end-datetime": "2024-01-09T23:59:59"}
    doc["policies"][0]["summary"] = {"total-successful-session-count": "5", "total-failure-session-count": "3"}
    doc["policies"][0]["policy"]["policy-domain"] = "Example.COM."
    second = json.loads(json.dumps(doc["policies"][0]))
    del second["policy"]["policy-domain"], second["failure-details"]
    second["summary"] = {"total-successful-session-count": 4, "total-failure-session-count": 0}
    doc["policies"].append(second)
    path = tmp_path / "google.com!example.com!1704758400!1704844799!001.json.gz"
    path.write_bytes(gzip.compress(json.dumps(doc).encode()))
    code, document = reports_json(path)
    assert code == 0, document["errors"]
    [entry] = document["domains"]
    assert (entry["domain"], entry["successful_sessions"], entry["failed_sessions"], entry["reports"]) == ("example.com", 9, 3, 1)
    assert entry["period"] == {"start": "2024-01-09T00:00:00Z", "end": "2024-01-09T23:59:59Z"}


GOOD = (FIXTURES / "dmarc-report-viewer__google.json").read_text()


def _edit(change) -> bytes:
    doc = json.loads(GOOD)
    change(doc)
    return json.dumps(doc).encode()


def _set(path: str, value):
    def change(doc):
        keys = path.split("/")
        target = doc
        for key in keys[:-1]:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if value is _DELETE:
            del target[keys[-1]]
        else:
            target[keys[-1]] = value
    return change


_DELETE = object()


def _nested_mime(depth: int) -> bytes:
    """A report attachment inside ``depth`` nested multiparts."""
    opening = b"".join(b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (i - 1, i) for i in range(1, depth))
    closing = b"".join(b"--b%d--\r\n" % i for i in reversed(range(depth)))
    attachment = (b"--b%d\r\nContent-Type: application/tlsrpt+gzip\r\nContent-Transfer-Encoding: base64\r\n\r\n" % (depth - 1)
                  + base64.encodebytes(gzip.compress(GOOD.encode())) + b"\r\n")
    return b"From: a@example.net\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n" + opening + attachment + closing
_TLSRPT_MAIL_WITHOUT_ATTACHMENT = (
    b"From: noreply-smtp-tls-reporting@google.com\r\nSubject: Report\r\nMessage-ID: <x@google.com>\r\n"
    b'Content-Type: multipart/report; report-type=tlsrpt; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--\r\n'
)
MALFORMED = [
    ("not-json.json", b"{\"organization-name\": ", "not valid JSON"),
    ("binary.json", b"{\xff\xfe}", "not UTF-8"),
    ("list.json", b"[1, 2]", "the report: expected an object"),
    ("no-report-id.json", _edit(_set("report-id", _DELETE)), "report-id: expected text, got nothing"),
    ("bad-count.json", _edit(_set("policies/0/summary/total-failure-session-count", "many")), "policies[0].summary.total-failure-session-count: expected a session count, got 'many'"),
    ("negative.json", _edit(_set("policies/0/summary/total-successful-session-count", -1)), "cannot be negative"),
    ("boolean.json", _edit(_set("policies/0/summary/total-successful-session-count", True)), "expected a session count, got True"),
    ("no-policies.json", _edit(_set("policies", [])), "policies: expected a non-empty list"),
    ("bad-date.json", _edit(_set("date-range/start-datetime", "yesterday")), "date-range.start-datetime: 'yesterday' is not a date-time"),
    ("backwards.json", _edit(_set("date-range/start-datetime", "2025-05-23T00:00:00Z")), "date-range: ends (2025-05-22T23:59:59Z) before it starts"),
    ("no-domain.json", _edit(_set("policies/0/policy/policy-domain", _DELETE)), "policies[0].policy.policy-domain: missing"),
    ("bad-details.json", _edit(_set("policies/0/failure-details", {"result-type": "x"})), "policies[0].failure-details: expected a list"),
    ("detail-no-type.json", _edit(_set("policies/0/failure-details", [{"failed-session-count": 1}])), "policies[0].failure-details[0].result-type: expected text"),
    ("broken.json.gz", b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\x07garbage", "broken gzip data (Error -3 while decompressing data: invalid block type)"),
    ("cut.json.gz", gzip.compress(GOOD.encode())[:-30], "the gzip data is cut short"),
    ("report.eml", _TLSRPT_MAIL_WITHOUT_ATTACHMENT, "a TLS report e-mail (multipart/report; report-type=tlsrpt) without a report attachment"),
    ("notes.txt", b"\x00\x01 binary", "not a TLS report: neither JSON, gzip, an e-mail nor an mbox"),
    # Values that once escaped as ValueError or OverflowError and ended the run.
    ("long-number.json", GOOD.replace('"total-successful-session-count": 1', '"total-successful-session-count": ' + "9" * 5000).encode(),
     "not valid JSON: a number has more than 4300 digits"),
    ("superscript-digit.json", _edit(_set("policies/0/summary/total-successful-session-count", "\u00b2")), "expected a session count, got '\u00b2'"),
    ("arabic-digits.json", _edit(_set("policies/0/summary/total-failure-session-count", "\u0661\u0662")), "expected a session count, got '\u0661\u0662'"),
    ("huge-float.json", _edit(_set("policies/0/summary/total-successful-session-count", 1e300)), "more than 2^53 - 1 sessions"),
    ("huge-count.json", _edit(_set("policies/0/summary/total-failure-session-count", 2**64)), "more than 2^53 - 1 sessions"),
    ("year-1.json", _edit(_set("date-range/start-datetime", "0001-01-01T00:00:00+01:00")), "date-range.start-datetime: '0001-01-01T00:00:00+01:00' is out of range"),
    ("nan.json", GOOD.replace('"total-successful-session-count": 1', '"total-successful-session-count": NaN').encode(), "expected a session count, got nan"),
    ("deep.json", b"[" * 100_000 + b"]" * 100_000, "the JSON is nested too deeply"),
    ("deep-mime.eml", _nested_mime(3000), "cannot read the e-mail: its MIME parts are nested too deeply"),
    ("year-9999.json", _edit(_set("date-range/end-datetime", "9999-12-31T23:59:59-01:00")), "date-range.end-datetime: '9999-12-31T23:59:59-01:00' is out of range"),
]


@pytest.mark.parametrize(("name", "data", "message"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_a_malformed_input_is_named_with_what_is_wrong_and_the_rest_is_read(tmp_path, name, data, message):
    bad = tmp_path / name
    bad.write_bytes(data)
    good = FIXTURES / "parsedmarc__smtp_tls.json"
    result = run_cli("reports", bad, good, "--json")
    document = json.loads(result.out)
    assert result.code == 1
    [error] = document["errors"]
    assert error["source"].startswith(str(bad)) and message in error["message"], error
    assert document["reports"] == 1 and document["domains"][0]["failed_sessions"] == 3
    text = run_cli("reports", bad, good)
    assert text.code == 1 and f"error: {bad}" in text.out and "Traceback" not in text.output


def test_a_gzip_bomb_is_refused(tmp_path):
    bomb = tmp_path / "bomb.json.gz"
    bomb.write_bytes(gzip.compress(b" " * (33 * 1024 * 1024)))
    code, document = reports_json(bomb)
    assert code == 1 and "unpacks to more than 4 MiB" in document["errors"][0]["message"]


def test_a_missing_source_is_an_error_not_a_crash(tmp_path):
    code, document = reports_json(tmp_path / "nowhere")
    assert code == 1 and document["errors"] == [{"source": str(tmp_path / "nowhere"), "message": "no such file or folder"}]


@pytest.mark.parametrize(
    ("since", "until", "expected"),
    [
        ("2025-05-22", "2025-05-23", {"2025-05-22T00:00:00Z_foo-bar.io", "133925885310113267+random.net"}),
        ("2025-05-23", "2026-05-12", {"133925885310113267+random.net", "1234567890+", "133988091029006454+josh.scot", "2026-05-11T00:00:00Z_example.com"}),
        # Microsoft's date-time without a zone is UTC.
        ("2024-03-26T23:59:58Z", "2024-03-26", {"133561180919336230+example.com"}),
        (None, "2022-11-04", {"2022-09-15T00:00:00Z_test.xmox.nl", "2022-11-04T00:00:00Z_example.com"}),
        # Mail.ru's report of 2023-01-25 ends at the next midnight: it belongs to the 25th only.
        ("2023-01-26", "2023-01-26", set()),
        ("2023-01-25T12:00:00Z", "2023-01-25T13:00:00Z", {"c96d67df-0440-57f7-6e96-c83824d0fdf2@mail.ru"}),
        # A date in ISO 8601's basic or week form is a whole day too.
        ("2025-W21-4", "20250522", {"2025-05-22T00:00:00Z_foo-bar.io"}),
    ],
)
def test_since_and_until_select_reports_by_their_date_range(since, until, expected):
    args = [FIXTURES, *(["--since", since] if since else []), *(["--until", until] if until else [])]
    code, document = reports_json(*args)
    assert code == 0
    oracle_ids = set()
    for path in REPORT_FILES:
        for doc in oracle_documents(path):
            if doc["report-id"] in expected:
                oracle_ids.add(doc["report-id"])
    assert oracle_ids == expected, "every expected id is a fixture's"
    assert {d["domain"] for d in document["domains"]} == {d["policies"][0]["policy"]["policy-domain"].lower() for path in REPORT_FILES for d in oracle_documents(path) if d["report-id"] in expected}
    assert document["reports"] == len(expected)
    assert document["outside_period"] == len(REPORT_FILES) - len(expected)


@pytest.mark.parametrize("args", [["--since", "May 1"], ["--until", "2026-13-01"], ["--since", "2026-02-01", "--until", "2026-01-01"],
                                  ["--until", "9999-12-31"], ["--since", "0001-01-01T00:00:00+01:00"]])
def test_bad_dates_are_usage_errors(args):
    result = run_cli("reports", FIXTURES, *args)
    assert result.code == 2 and result.err.startswith("error: --") and "Traceback" not in result.output


UTC = dt.timezone.utc
# One table for both readers of a date-time: a report's dates and --since/--until.
DATE_TIMES = [
    ("2026-11-01T12:00:00Z", dt.datetime(2026, 11, 1, 12, tzinfo=UTC)),
    ("2026-11-01T12:00:00z", dt.datetime(2026, 11, 1, 12, tzinfo=UTC)),  # RFC 3339 §5.6 allows a lower-case z
    ("2026-11-01t12:00:00.5Z", dt.datetime(2026, 11, 1, 12, 0, 0, 500000, tzinfo=UTC)),
    ("2026-11-01 12:00:00+02:00", dt.datetime(2026, 11, 1, 10, tzinfo=UTC)),
    ("2026-11-01T12:00:00", dt.datetime(2026, 11, 1, 12, tzinfo=UTC)),  # no zone: UTC, as Microsoft means it
    (" 2026-11-01T12:00:00Z\n", dt.datetime(2026, 11, 1, 12, tzinfo=UTC)),
    ("2026-11-01", dt.datetime(2026, 11, 1, tzinfo=UTC)),
    ("20261101T120000Z", dt.datetime(2026, 11, 1, 12, tzinfo=UTC)),
    ("0001-01-01T00:00:00-01:00", dt.datetime(1, 1, 1, 1, tzinfo=UTC)),
]
NOT_DATE_TIMES = ["", "May 1", "2026-13-01", "2026-11-01T24:00:00Z", "2026-11-01Tz", "z"]
OUT_OF_RANGE = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-02:00"]


@pytest.mark.parametrize(("text", "expected"), DATE_TIMES)
def test_report_dates_and_command_line_bounds_read_a_date_time_alike(text, expected):
    from generator.reports.collect import parse_bound
    from generator.reports.parse import parse_datetime

    assert parse_datetime(text, "date-range.start-datetime") == expected
    assert parse_bound(text, "--since") == expected
    # As the end of a period only a bare date changes: it takes in its whole day.
    assert parse_bound(text, "--until", end=True) == expected + (dt.timedelta(days=1) if text == "2026-11-01" else dt.timedelta())


@pytest.mark.parametrize("text", ["2026-11-01", " 2026-11-01 ", "20261101", "2026-W44-7"])
def test_a_bare_date_as_an_end_is_the_next_midnight(text):
    from generator.reports.collect import parse_bound

    assert parse_bound(text, "--since") == dt.datetime(2026, 11, 1, tzinfo=UTC)
    assert parse_bound(text, "--until", end=True) == dt.datetime(2026, 11, 2, tzinfo=UTC)


@pytest.mark.parametrize("text", [*NOT_DATE_TIMES, *OUT_OF_RANGE, "9999-12-31"])
def test_what_is_not_a_date_time_is_refused_by_both_readers_with_its_own_error(text):
    from generator.errors import UsageError
    from generator.reports.collect import parse_bound
    from generator.reports.parse import MalformedReport, parse_datetime

    with pytest.raises(UsageError, match="out of range" if text in (*OUT_OF_RANGE, "9999-12-31") else "is not a date"):
        parse_bound(text, "--until", end=True)
    if text != "9999-12-31":  # a whole last day is out of range only as an end
        with pytest.raises(MalformedReport, match="out of range" if text in OUT_OF_RANGE else "is not a date-time"):
            parse_datetime(text, "date-range.end-datetime")


def test_a_report_date_must_be_text():
    from generator.reports.parse import MalformedReport, parse_datetime

    with pytest.raises(MalformedReport, match="expected a date-time, got 20261101"):
        parse_datetime(20261101, "date-range.start-datetime")


def test_no_source_is_a_usage_error():
    result = run_cli("reports")
    assert result.code == 2 and "give report files or folders, or --imap" in result.err


def test_text_and_markdown_show_failures_with_cause_and_fix():
    path = FIXTURES / "parsedmarc__smtp_tls.json"
    text = run_cli("reports", path)
    assert text.code == 0
    assert "example.com: 1 report, 2024-01-09T00:00:00Z to 2024-01-09T23:59:59Z" in text.out
    assert "validation-failure on example.com: 3 sessions" in text.out
    assert "      receiving IP: 173.212.201.41; sending MTA IP: 209.85.208.176, 209.85.222.201\n" in text.out
    assert "check codes: mx-not-covered" in text.out
    markdown = run_cli("reports", path, "--format", "markdown")
    assert "| `validation-failure` | example.com | 173.212.201.41 | 209.85.208.176, 209.85.222.201 | 3 |" in markdown.out
    assert markdown.out.startswith("## TLS reports\n")


@pytest.mark.parametrize(
    ("content_type", "filename", "compress"),
    [
        ("application/tlsrpt+json", None, False),
        ("application/tlsrpt+gzip", None, True),
        ("application/gzip", "google.com!example.com!1704758400!1704844799!001.json.gz", True),
        ("application/octet-stream", "report.json", False),
    ],
)
def test_attachment_types_real_senders_use(tmp_path, content_type, filename, compress):
    data = (FIXTURES / "parsedmarc__smtp_tls.json").read_bytes()
    message = EmailMessage()
    message["From"], message["Subject"] = "noreply-smtp-tls-reporting@google.com", "Report Domain: example.com"
    message.set_content("This is an aggregate TLS report.")
    maintype, subtype = content_type.split("/")
    message.add_attachment(gzip.compress(data) if compress else data, maintype=maintype, subtype=subtype, filename=filename)
    (tmp_path / "report.eml").write_bytes(message.as_bytes())
    code, document = reports_json(tmp_path / "report.eml")
    assert code == 0, document["errors"]
    assert_matches_oracle(document, oracle_sums([json.loads(data)]))


def test_a_gzip_or_json_attachment_of_another_kind_is_not_taken_for_a_report(tmp_path):
    message = EmailMessage()
    message["From"], message["Subject"] = "dmarc@example.net", "DMARC aggregate report"
    message.set_content("attached")
    message.add_attachment(gzip.compress(b"<feedback/>"), maintype="application", subtype="gzip", filename="example.com!1!2.xml.gz")
    (tmp_path / "dmarc.eml").write_bytes(message.as_bytes())
    code, document = reports_json(tmp_path / "dmarc.eml")
    assert (code, document["reports"], document["skipped"], document["errors"]) == (0, 0, 1, [])


@pytest.mark.timeout(60)
def test_a_progress_bar_on_a_terminal_only(tmp_path):
    """Many files on a terminal: a progress bar on stderr; the JSON on stdout stays clean."""
    data = (FIXTURES / "parsedmarc__smtp_tls.json").read_text()
    for i in range(120):
        (tmp_path / f"{i}.json").write_text(data.replace("2024-01-09T00:00:00Z_example.com", f"id-{i}"))
    command = [sys.executable, "-m", "generator", "reports", str(tmp_path), "--json"]
    master, slave = pty.openpty()
    try:
        run = subprocess.run(command, stdout=subprocess.PIPE, stderr=slave, timeout=50, cwd=Path(__file__).parent.parent)
        os.close(slave)
        shown = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the terminal's other end is closed and drained
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(master)
    assert run.returncode == 0 and json.loads(run.stdout)["reports"] == 120
    assert b"reading reports" in shown and b"100%" in shown
    piped = subprocess.run(command, capture_output=True, timeout=50, cwd=Path(__file__).parent.parent)
    assert piped.returncode == 0 and piped.stderr == b""


@pytest.mark.timeout(60)
def test_reading_files_loads_no_network_module(tmp_path):
    modules = imported("reports", str(FIXTURES), "--json", "--domain", "example.com", cwd=tmp_path)
    assert "generator.reports.summary" in modules, "the command really ran"
    assert "imaplib" not in modules and not network_modules(modules) - PARSING


def test_every_check_code_the_advice_names_exists():
    named = {code for advice in ADVICE.values() for code in advice.check_codes}
    assert named and named <= set(CODES)
