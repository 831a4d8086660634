"""`reports` against what a hostile sender or an odd mailbox holds: every
input ends as a summary line or an `errors` entry, never a traceback, a hang
or text that acts on the terminal; the totals match an independent sum."""

from __future__ import annotations

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
