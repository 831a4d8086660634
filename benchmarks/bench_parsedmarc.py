"""Benchmark: `reports DIR --json` beside parsedmarc over N gzipped TLS reports (default 20,000).

The reports are the corpus of 17 real TLS reports in tests/fixtures/tlsrpt
(copied byte for byte from public repositories, SOURCES.tsv names each;
or --corpus DIR): plain and gzipped JSON, and the report attachments of
its e-mails, copied in turn until there are N, each copy with its own
report-id, gzipped as senders attach them, spread over 100 subfolders.

- ours: the real CLI in a fresh process (`reports DIR --json`), timed end to
  end, process start included: walking the folders, reading, gunzipping,
  parsing, de-duplicating, summing and printing the JSON document;
- the reference: parsedmarc's own parser, `parse_report_file(path,
  offline=True)`, looped over the same files in a fresh process of its own
  venv, its import included; it neither de-duplicates nor sums, so the
  benchmark sums its results to compare the totals.

parsedmarc is installed by this benchmark into a venv of its own (not a
dependency of the project; --reference-venv DIR, default
~/.cache/mta-sts-pages/parsedmarc-venv). Both must count the same reports,
successful and failed sessions. Each round runs both back to back, in
turn first; the figure is best against best, and the median of the rounds'
ratios is printed beside it. Target: 1.5x (issue 23). Run:

    python benchmarks/bench_parsedmarc.py [--reports 20000] [--runs 5] [--dir /dev/shm]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from child import run_json  # benchmarks/child.py: run as a script, this folder is on sys.path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generator.reports.sources import Payload, decompress, read_file  # noqa: E402

CORPUS = ROOT / "tests" / "fixtures" / "tlsrpt"
REFERENCE = "parsedmarc==11.*"
TARGET = 1.5

# Run by the reference venv's interpreter: parsedmarc's parser over every
# file, its sessions summed; prints the totals as JSON.
REFERENCE_SCRIPT = """
import json, os, sys
import parsedmarc
reports = successful = failed = 0
for root, dirs, names in os.walk(sys.argv[1]):
    dirs.sort()
    for name in sorted(names):
        parsed = parsedmarc.parse_report_file(os.path.join(root, name), offline=True)
        reports += 1
        for policy in parsed["report"]["policies"]:
            successful += policy["successful_session_count"]
            failed += policy["failed_session_count"]
print(json.dumps({"reports": reports, "successful": successful, "failed": failed}))
"""


def corpus_documents(corpus: Path) -> list[dict]:
    """Every report document of the corpus: its JSON files, gzipped or not,
    and its e-mails' attachments."""
    documents = []
    for path in sorted(corpus.iterdir()):
        for item in read_file(path, False):
            if isinstance(item, Payload):
                documents.append(json.loads(decompress(item.data).decode("utf-8-sig")))
    if not documents:
        sys.exit(f"no reports in {corpus}")
    return documents


def write_reports(folder: Path, documents: list[dict], count: int) -> None:
    for i in range(count):
        document = dict(documents[i % len(documents)])
        document["report-id"] = f"{document['report-id']}-{i}"
        sub = folder / f"{i % 100:02d}"
        sub.mkdir(exist_ok=True)
        (sub / f"report-{i}.json.gz").write_bytes(gzip.compress(json.dumps(document).encode(), mtime=0))


def reference_python(venv: Path) -> Path:
    """The reference venv's interpreter, made and parsedmarc installed the first time."""
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    check = subprocess.run([str(python), "-c", "import parsedmarc"], capture_output=True)
    if check.returncode != 0:
        print(f"installing {REFERENCE} into {venv} ...", file=sys.stderr)
        subprocess.run([str(python), "-m", "pip", "install", "-q", REFERENCE], check=True)
    return python


def timed(command: list[str]) -> tuple[float, float, dict]:
    """Wall and CPU seconds of a fresh process, and the JSON it printed."""
    run = run_json(command)
    return run.wall, run.cpu, run.document


def our_totals(document: dict) -> dict:
    if document["errors"]:
        sys.exit(f"reports found errors: {document['errors'][:3]}")
    return {"reports": document["reports"],
            "successful": sum(d["successful_sessions"] for d in document["domains"]),
            "failed": sum(d["failed_sessions"] for d in document["domains"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--dir", type=Path, default=None, help="where to write the reports (default: the system's temporary directory)")
    parser.add_argument("--reference-venv", type=Path, default=Path.home() / ".cache" / "mta-sts-pages" / "parsedmarc-venv")
    args = parser.parse_args()
    python = reference_python(args.reference_venv)
    version = subprocess.run([str(python), "-c", "import importlib.metadata as m; print(m.version('parsedmarc'))"],
                             capture_output=True, text=True, check=True).stdout.strip()
    ours_command = [sys.executable, "-m", "generator", "reports", "--json"]
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp) / "reports"
        folder.mkdir()
        documents = corpus_documents(args.corpus)
        write_reports(folder, documents, args.reports)
        size = sum(p.stat().st_size for p in folder.rglob("*.gz"))
        ours, theirs = [], []
        for round_ in range(args.runs):
            pair = [("ours", [*ours_command, str(folder)]), ("theirs", [str(python), "-c", REFERENCE_SCRIPT, str(folder)])]
            for name, command in pair if round_ % 2 == 0 else pair[::-1]:
                wall, cpu, document = timed(command)
                (ours if name == "ours" else theirs).append((wall, cpu, our_totals(document) if name == "ours" else document))
        where = Path(tmp).parent
    totals = {str(r[2]) for r in ours + theirs}
    if len(totals) != 1:
        sys.exit(f"the totals differ: ours {ours[0][2]}, parsedmarc's {theirs[0][2]}")
    best_ours, best_theirs = min(ours), min(theirs)
    ratio = best_theirs[0] / best_ours[0]
    median = statistics.median(t[0] / o[0] for o, t in zip(ours, theirs))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{args.reports:,} gzipped reports ({len(documents)} real ones copied, {size / 1024 / 1024:.1f} MiB in 100 folders) in {where}; "
          f"totals {ours[0][2]}; load average {load}")
    print(f"reports --json: best {best_ours[0]:.2f} s of {args.runs} ({best_ours[1]:.2f} s CPU), {args.reports / best_ours[0]:,.0f} reports/s")
    print(f"parsedmarc {version} parse_report_file: best {best_theirs[0]:.2f} s ({best_theirs[1]:.2f} s CPU), {args.reports / best_theirs[0]:,.0f} reports/s")
    print(f"ratio {ratio:.2f}x best against best (median of {args.runs} paired rounds {median:.2f}x); "
          f"target {TARGET}x: {'met' if ratio >= TARGET else 'NOT met'}")


if __name__ == "__main__":
    main()
