"""Benchmark: `reports` reading N gzipped TLS reports from a folder (default 10,000).

The reports are one real Google report (tests/fixtures/tlsrpt) copied with a
different report-id and day each, gzipped as senders attach them, spread
over 100 subfolders. Measures wall time of the real command in a fresh
process (walking the folder, reading, gunzipping, parsing, de-duplicating,
summing, printing --json), its CPU time, reports per second and peak memory.
The output is checked: every report counted once, every session summed.
Run:

    python benchmarks/bench_reports.py [--reports 10000] [--runs 3] [--dir DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "tlsrpt" / "parsedmarc__smtp_tls.json"


def write_reports(folder: Path, count: int) -> int:
    """``count`` gzipped copies of the fixture; returns the failed sessions they hold."""
    template = json.loads(FIXTURE.read_text())
    first = dt.date(2026, 1, 1)
    failed = 0
    for i in range(count):
        day = first + dt.timedelta(days=i % 300)
        template["report-id"] = f"{day}T00:00:00Z_example.com_{i}"
        template["date-range"] = {"start-datetime": f"{day}T00:00:00Z", "end-datetime": f"{day}T23:59:59Z"}
        failed += template["policies"][0]["summary"]["total-failure-session-count"]
        sub = folder / f"{i % 100:02d}"
        sub.mkdir(exist_ok=True)
        (sub / f"google.com!example.com!{i}.json.gz").write_bytes(gzip.compress(json.dumps(template).encode(), mtime=0))
    return failed


def run_once(folder: Path) -> tuple[float, float, float, dict]:
    os.sync()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "generator", "reports", str(folder), "--json"],
                         cwd=ROOT, check=True, capture_output=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return elapsed, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime, json.loads(run.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None, help="where to write the reports (default: the system's temporary directory)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp) / "reports"
        folder.mkdir()
        failed = write_reports(folder, args.reports)
        size = sum(p.stat().st_size for p in folder.rglob("*.gz"))
        runs = [run_once(folder) for _ in range(args.runs)]
        where = Path(tmp).parent
    for _, _, _, document in runs:
        [domain] = document["domains"]
        if (document["reports"], domain["failed_sessions"], document["errors"]) != (args.reports, failed, []):
            sys.exit(f"wrong result: {document['reports']} reports, {domain['failed_sessions']} failed sessions, {document['errors'][:3]}")
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    best, user, system, _ = min(runs, key=lambda r: r[0])
    median = statistics.median(r[0] for r in runs)
    print(f"reports of {args.reports} gzipped reports ({size / 1024 / 1024:.1f} MiB) in {where}: best {best:.2f} s of {args.runs} "
          f"({user:.2f} s user, {system:.2f} s system; median {median:.2f} s), {args.reports / best:,.0f} reports/s, "
          f"peak RSS {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
