"""Benchmark: `build` of a generated N-domain config (default 10,000).

Measures wall time of the real command in a fresh process (config parse,
validation, rendering, writing every file), files written per second, and
peak memory (max RSS of the child). Run:

    python benchmarks/bench_build.py [--domains 10000] [--runs 3]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def write_config(path: Path, count: int) -> None:
    lines = [
        "defaults:",
        "  policy:",
        "    mode: testing",
        "    mx: ['*.mail.protection.outlook.com']",
        "    max_age: 1w",
        "  tlsrpt:",
        "    rua: [mailto:tls-reports@example.net]",
        "  pages:",
        "    owner: example-hosting",
        "domains:",
    ]
    for i in range(count):
        lines.append(f"  - domain: d{i:05d}.example")
        if i % 3 == 0:
            lines.append("    policy: {mode: enforce, mx: [mx1.d%05d.example, mx2.d%05d.example]}" % (i, i))
    path.write_text("\n".join(lines) + "\n")


def run_once(config: Path, out: Path) -> tuple[float, int]:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "generator", "build", "-c", config, "-o", out],
        cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
    )
    elapsed = time.perf_counter() - start
    files = sum(1 for p in out.rglob("*") if p.is_file())
    return elapsed, files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "mta-sts.yml"
        write_config(config, args.domains)
        times = []
        for run in range(args.runs):
            out = Path(tmp) / f"out{run}"
            elapsed, files = run_once(config, out)
            times.append(elapsed)
        rerun, _ = run_once(config, Path(tmp) / "out0")  # nothing to write: parse + compare only
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    best = min(times)
    print(f"build of {args.domains} domains: best {best:.2f} s of {args.runs} "
          f"(median {sorted(times)[len(times) // 2]:.2f} s), {files} files, {files / best:,.0f} files/s, "
          f"peak RSS {peak_mib:.0f} MiB; unchanged rebuild {rerun:.2f} s")


if __name__ == "__main__":
    main()
