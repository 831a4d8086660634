"""`reports` against what a hostile sender or an odd mailbox holds: every
input ends as a summary line or an `errors` entry, never a traceback, a hang
or text that acts on the terminal; the totals match an independent sum."""

from __future__ import annotations

import json

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
