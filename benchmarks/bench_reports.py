"""Benchmark: `reports` reading N gzipped TLS reports from a folder (default 10,000).

The reports are one real Google report (tests/fixtures/tlsrpt) copied with a
different report-id and day each, gzipped as senders attach them, spread
over 100 subfolders. Measures wall time of the real command in a fresh
process (walking the folder, reading, gunzipping, parsing, de-duplicating,
summing, printing --json), its CPU time, reports per second and peak memory.
The output is checked: every report counted once, every session summed.

With ``--ready-domains D`` the reports are spread over D policy domains and
``reports --ready`` is measured too, against a config listing all D: its
verdicts cost one pass over the reports, not one per domain. Its output is
checked as well: every domain judged, every report counted for its domain.
Run:

    python benchmarks/bench_reports.py [--reports 10000] [--runs 3] [--dir DIR] [--ready-domains 1000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

from child import run_json  # benchmarks/child.py: run as a script, this folder is on sys.path

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "tlsrpt" / "parsedmarc__smtp_tls.json"
FIRST_DAY = dt.date(2026, 1, 1)
DAYS = 300


def domain_name(i: int, domains: int) -> str:
    """Report ``i``'s policy domain: example.com alone, or one of ``domains``."""
    return "example.com" if domains == 1 else f"d{i % domains}.example.com"


def write_reports(folder: Path, count: int, domains: int = 1) -> int:
    """``count`` gzipped copies of the fixture; returns the failed sessions they hold."""
    template = json.loads(FIXTURE.read_text())
    failed = 0
    for i in range(count):
        day = FIRST_DAY + dt.timedelta(days=i % DAYS)
        template["report-id"] = f"{day}T00:00:00Z_example.com_{i}"
        template["date-range"] = {"start-datetime": f"{day}T00:00:00Z", "end-datetime": f"{day}T23:59:59Z"}
        template["policies"][0]["policy"]["policy-domain"] = domain_name(i, domains)
        failed += template["policies"][0]["summary"]["total-failure-session-count"]
        sub = folder / f"{i % 100:02d}"
        sub.mkdir(exist_ok=True)
        (sub / f"google.com!example.com!{i}.json.gz").write_bytes(gzip.compress(json.dumps(template).encode(), mtime=0))
    return failed


def write_config(path: Path, domains: int) -> None:
    """A config in testing for every domain the reports name."""
    entries = "".join(f"  - domain: {domain_name(i, domains)}\n" for i in range(domains))
    path.write_text(f"defaults:\n  policy:\n    mode: testing\n    mx: [example.com]\ndomains:\n{entries}")


def run_once(folder: Path, *options: str) -> tuple[float, float, float, float, dict]:
    """Wall, user and system seconds, peak RSS (MiB) and the JSON document of one run."""
    os.sync()
    # --ready exits 1 for a domain not ready; anything else is a failure.
    run = run_json([sys.executable, "-m", "generator", "reports", str(folder), "--json", *options], ok=(0, 1) if options else (0,))
    return run.wall, run.user, run.system, run.peak_mib, run.document


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None, help="where to write the reports (default: the system's temporary directory)")
    parser.add_argument("--ready-domains", type=int, default=0, help="also measure reports --ready with the reports spread over this many domains")
    args = parser.parse_args()
    domains = max(args.ready_domains, 1)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp) / "reports"
        folder.mkdir()
        failed = write_reports(folder, args.reports, domains)
        size = sum(p.stat().st_size for p in folder.rglob("*.gz"))
        runs = [run_once(folder) for _ in range(args.runs)]
        ready_runs = []
        if args.ready_domains:
            config = Path(tmp) / "mta-sts.yml"
            write_config(config, domains)
            # A window holding every report, so that each one counts.
            until = FIRST_DAY + dt.timedelta(days=DAYS)
            options = ("--ready", "-c", str(config), "--until", until.isoformat(), "--window-days", str(DAYS + 1))
            ready_runs = [run_once(folder, *options) for _ in range(args.runs)]
        where = Path(tmp).parent
    for *_, document in runs:
        summed = sum(d["failed_sessions"] for d in document["domains"])
        if (document["reports"], len(document["domains"]), summed, document["errors"]) != (args.reports, min(domains, args.reports), failed, []):
            sys.exit(f"wrong result: {document['reports']} reports, {summed} failed sessions, {document['errors'][:3]}")
    for *_, document in ready_runs:
        judged = {v["domain"]: v["reports"] for v in document["readiness"]}
        if len(judged) != domains or sum(judged.values()) != args.reports:
            sys.exit(f"wrong --ready result: {len(judged)} domains judged, {sum(judged.values())} reports counted")
    print(summary_line(f"reports of {args.reports} gzipped reports ({size / 1024 / 1024:.1f} MiB) over {domains} domain(s) in {where}",
                       runs, args.reports))
    if ready_runs:
        print(summary_line(f"reports --ready of {args.reports} reports over {domains} domains", ready_runs, args.reports))


def summary_line(what: str, runs: list[tuple[float, float, float, float, dict]], reports: int) -> str:
    best, user, system, _, _ = min(runs, key=lambda r: r[0])
    median = statistics.median(r[0] for r in runs)
    peak_mib = max(r[3] for r in runs)
    return (f"{what}: best {best:.2f} s of {len(runs)} ({user:.2f} s user, {system:.2f} s system; median {median:.2f} s), "
            f"{reports / best:,.0f} reports/s, peak RSS {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
