"""Benchmark: CLI start-up against a bare interpreter start, as a ratio.

Times, over many runs in fresh processes, `python -c pass`, `mta-sts-pages
--version`, and `mta-sts-pages build --help` (which loads the CLI framework).
Run:

    python benchmarks/bench_startup.py [--runs 40]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(cmd: list[str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    bare = timed([sys.executable, "-c", "pass"], args.runs)
    version = timed([sys.executable, "-m", "generator", "--version"], args.runs)
    help_ = timed([sys.executable, "-m", "generator", "build", "--help"], args.runs)
    print(f"start-up, median of {args.runs}: python -c pass {bare * 1000:.1f} ms; "
          f"--version {version * 1000:.1f} ms ({version / bare:.2f}x); "
          f"build --help {help_ * 1000:.1f} ms ({help_ / bare:.2f}x)")


if __name__ == "__main__":
    main()
