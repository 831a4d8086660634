"""`reports` across worker processes (generator/reports/workers.py): the
same collection as one process reads, whatever the number of processes."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from generator.reports.collect import collect
from generator.reports.sources import list_files
from generator.reports.workers import default_workers, parsed_file_items

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "tlsrpt" / "parsedmarc__smtp_tls.json"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Reports spread so that each part of three has something of every
    kind: copies of a report-id met again in a later part (one the same,
    one with other contents), broken files, skipped files, gzipped XML."""
    document = json.loads(FIXTURE.read_text())
    for i in range(60):
        document["report-id"] = f"r{i % 25}"  # r0 to r24 met again in later parts
        document["policies"][0]["summary"]["total-successful-session-count"] = i if i in (30, 31) else 5
        (tmp_path / f"{i:02d}.json.gz").write_bytes(gzip.compress(json.dumps(document).encode()))
    (tmp_path / "07a.json.gz").write_bytes(b"\x1f\x8bbroken")
    (tmp_path / "33a.json").write_text("{not json")
    (tmp_path / "44a.txt").write_text("a note")
    (tmp_path / "50a.xml.gz").write_bytes(gzip.compress(b"<feedback/>"))
    return tmp_path


@pytest.mark.parametrize("workers", [2, 3])
def test_workers_collect_what_one_process_collects(folder, workers):
    files, _ = list_files([folder])
    alone = collect(parsed_file_items(files, files, workers=1))
    shared = collect(parsed_file_items(files, files, workers=workers))
    assert len(alone.reports) == 25 and alone.duplicates == 35 and alone.skipped == 2
    assert [e.source for e in alone.errors] == [str(folder / n) for n in ("07a.json.gz", "30.json.gz", "31.json.gz", "33a.json")]
    assert shared.reports == alone.reports
    assert shared.errors == alone.errors
    assert (shared.duplicates, shared.skipped, shared.read) == (alone.duplicates, alone.skipped, alone.read)


def test_the_progress_bar_is_advanced_for_every_file(folder):
    files, _ = list_files([folder])
    seen = []

    def shown():
        for entry in files:
            seen.append(entry)
            yield entry

    list(parsed_file_items(files, shown(), workers=2))
    assert seen == files


def test_a_busy_machine_or_few_files_read_in_one_process(monkeypatch):
    monkeypatch.setattr("generator.reports.workers.threading.active_count", lambda: 1)
    monkeypatch.setattr("generator.reports.workers.os.sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.1, 0.1, 0.1))
    assert default_workers(20_000) == 2
    assert default_workers(1_500) == 1
    monkeypatch.setattr(os, "getloadavg", lambda: (1.2, 1.0, 1.0))  # another program on one core
    assert default_workers(20_000) == 1
