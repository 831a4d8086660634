"""`reports` against what a hostile sender or an odd mailbox holds: every
input ends as a summary line or an `errors` entry, never a traceback, a hang
or text that acts on the terminal; the totals match an independent sum."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import threading

import pytest

from tests.support.cli import run_cli
from tests.test_reports import FIXTURES, reports_json

GOOGLE = json.loads((FIXTURES / "dmarc-report-viewer__google.json").read_text())


def _doc(**changes) -> dict:
    """The real Google report with top-level fields replaced."""
    doc = json.loads(json.dumps(GOOGLE))
    doc.update(changes)
    return doc


def test_a_report_from_year_1_is_shown_in_rfc_3339(tmp_path):
    path = tmp_path / "old.json"
    path.write_text(json.dumps(_doc(**{"date-range": {"start-datetime": "0001-01-01T00:00:00Z", "end-datetime": "0001-01-01T23:59:59Z"}})))
    code, document = reports_json(path)
    assert code == 0, document["errors"]
    assert document["domains"][0]["period"] == {"start": "0001-01-01T00:00:00Z", "end": "0001-01-01T23:59:59Z"}
    assert "foo-bar.io: 1 report, 0001-01-01T00:00:00Z to 0001-01-01T23:59:59Z" in run_cli("reports", path).out


@pytest.mark.timeout(30)
def test_a_pipe_in_a_folder_is_skipped_not_waited_on(tmp_path):
    """A FIFO inside a scanned folder would block the read for ever; one
    named on the command line (a shell's <(zcat ...)) is read."""
    folder = tmp_path / "Maildir"
    folder.mkdir()
    os.mkfifo(folder / "pipe.json")
    shutil.copy(FIXTURES / "parsedmarc__smtp_tls.json", folder)
    code, document = reports_json(folder)
    assert (code, document["reports"], document["skipped"], document["errors"]) == (0, 1, 1, [])
    named = tmp_path / "named.json"
    os.mkfifo(named)
    writer = threading.Thread(target=lambda: named.write_bytes((FIXTURES / "dmarc-report-viewer__google.json").read_bytes()))
    writer.start()
    code, document = reports_json(named)
    writer.join()
    assert (code, document["reports"]) == (0, 1), document["errors"]


def test_a_symlink_loop_is_named_with_the_reason(tmp_path):
    (tmp_path / "a.json").symlink_to(tmp_path / "b.json")
    (tmp_path / "b.json").symlink_to(tmp_path / "a.json")
    code, document = reports_json(tmp_path / "a.json", tmp_path)
    assert code == 1
    assert document["errors"][0] == {"source": str(tmp_path / "a.json"), "message": "cannot read it: Too many levels of symbolic links"}
    assert len(document["errors"]) == 3 and "Traceback" not in run_cli("reports", tmp_path).output


# Anyone can mail a report to a rua address. What a terminal would act on:
# a carriage return that overwrites the line, C1 CSI (0x9b) that clears the
# screen, an OSC sequence that sets the window title, a bell.
LIE = "\r\x9b2Jexample.com: ready to enforce\x1b]0;pwned\x07"


def _all_printable(text: str) -> bool:
    return all(ch.isprintable() or ch == "\n" for ch in text)


def test_what_a_sender_wrote_reaches_the_terminal_escaped_and_json_unchanged(tmp_path):
    day = dt.date.today() - dt.timedelta(days=2)  # inside promote's window, which ends now
    doc = _doc(**{"organization-name": f"Evil{LIE}", "report-id": "evil-1",
                  "date-range": {"start-datetime": f"{day}T00:00:00Z", "end-datetime": f"{day}T23:59:59Z"}})
    policy = doc["policies"][0]
    policy["policy"]["policy-domain"] = "example.com"
    policy["summary"]["total-failure-session-count"] = 2
    policy["failure-details"] = [{"result-type": "certificate-expired", "receiving-mx-hostname": f"mx1.example.com{LIE}", "failed-session-count": 2},
                                 {"result-type": f"starttls-not-supported{LIE}", "failed-session-count": 1}]
    (tmp_path / "evil.json").write_text(json.dumps(doc))
    (tmp_path / f"bad{LIE}.json").write_text('{"report-id": "x"}')
    config = tmp_path / "mta-sts.yml"
    config.write_text("domain: example.com\npolicy:\n  mode: testing\n  mx: [mx1.example.com]\n")
    for args in ([], ["--ready", "-c", config], ["--format", "markdown"]):
        shown = run_cli("reports", tmp_path, *args)
        assert shown.code == 1 and "Evil" in shown.out
        assert _all_printable(shown.output), repr(shown.output)
        assert "\\x9b2Jexample.com: ready to enforce\\x1b]0;pwned\\x07" in shown.out
    promoted = run_cli("promote", "-c", config, tmp_path)
    assert promoted.code == 1 and "failed with certificate-expired, and the policy does not list mx1.example.com\\x0d" in promoted.out
    assert _all_printable(promoted.output), repr(promoted.output)
    code, document = reports_json(tmp_path)
    assert document["domains"][0]["organisations"] == [f"Evil{LIE}"]
    assert document["domains"][0]["failures"][0]["receiving_mx_hostname"] == f"mx1.example.com{LIE}".lower()
    assert document["errors"][0]["source"] == str(tmp_path / f"bad{LIE}.json")


def test_one_report_id_from_two_organisations_is_two_reports(tmp_path):
    """Google's ids are predictable ("<day>T00:00:00Z_<domain>"): another
    sender may use the same one, and must not make Google's report vanish."""
    (tmp_path / "google.json").write_text(json.dumps(_doc()))
    (tmp_path / "other.json").write_text(json.dumps(_doc(**{"organization-name": "Other Mail Ltd"})))
    code, document = reports_json(tmp_path)
    assert (code, document["reports"], document["duplicates"], document["errors"]) == (0, 2, 0, [])
    [entry] = document["domains"]
    assert (entry["reports"], entry["successful_sessions"], entry["organisations"]) == (2, 2, ["Google Inc.", "Other Mail Ltd"])


def test_one_report_id_with_other_contents_is_an_error_and_the_first_counts(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps(_doc()))
    forged = _doc()
    forged["policies"][0]["summary"]["total-successful-session-count"] = 999
    (tmp_path / "b.json").write_text(json.dumps(forged))
    (tmp_path / "c.json").write_text(json.dumps(_doc()))
    code, document = reports_json(tmp_path)
    assert (code, document["reports"], document["duplicates"]) == (1, 1, 2)
    assert document["domains"][0]["successful_sessions"] == 1
    assert document["errors"] == [{"source": str(tmp_path / "b.json"), "message":
                                   f"report-id {GOOGLE['report-id']} of Google Inc. was read before from {tmp_path / 'a.json'} "
                                   "with other contents; only that one is counted"}]
