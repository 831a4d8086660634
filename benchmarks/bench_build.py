"""Benchmark: `build` of a generated N-domain config (default 10,000).

Measures wall time of the real command in a fresh process (config parse,
validation, rendering, writing every file), its CPU time in user and in
kernel mode, files written per second, and peak memory (max RSS of the
child). Creating 80,000 small files is mostly the file system's work: kernel
time well above user time is the file system, not the tool (ext4, for one,
slows down file creation for a while after many files were deleted). The
disk is flushed (untimed) before each run so that no run pays for the
previous one's writes; --dir picks the file system (a tmpfs such as
/dev/shm shows the tool's own speed).

The floor is `cp -a` of the tree a build wrote: the same files created with
nothing to compute. Its speed on one machine varies by more than 2x from
one minute to the next (tmpfs after boot, other work), so each round runs
both back to back, in turn first, and the verdict is the best build against
the best copy; the median of the rounds' ratios is printed beside it. Run:

    python benchmarks/bench_build.py [--domains 10000] [--runs 5] [--dir DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
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


def run_once(config: Path, out: Path) -> tuple[float, float, float, int]:
    """Wall, user and system seconds, and the files in ``out``, after one build."""
    os.sync()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "generator", "build", "-c", config, "-o", out],
        cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
    )
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    files = sum(1 for p in out.rglob("*") if p.is_file())
    return elapsed, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime, files


def copy_once(tree: Path, copy: Path) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of `cp -a tree copy`."""
    os.sync()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(["cp", "-a", str(tree), str(copy)], check=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return elapsed, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


TARGET = 2.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=None, help="where to build (default: the system's temporary directory)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        config = Path(tmp) / "mta-sts.yml"
        write_config(config, args.domains)
        tree = Path(tmp) / "tree"
        run_once(config, tree)  # the tree every round copies (untimed)
        rerun = run_once(config, tree)[0]  # nothing to write: parse + compare only
        runs, copies = [], []
        for run in range(args.runs):
            out, copy = Path(tmp) / "out", Path(tmp) / "copy"
            if run % 2 == 0:
                runs.append(run_once(config, out))
                copies.append(copy_once(tree, copy))
            else:
                copies.append(copy_once(tree, copy))
                runs.append(run_once(config, out))
            shutil.rmtree(out)
            shutil.rmtree(copy)
        where = Path(tmp).parent
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    best, user, system, files = min(runs)
    median = statistics.median(r[0] for r in runs)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"build of {args.domains} domains: best {best:.2f} s of {args.runs} "
          f"({user:.2f} s user, {system:.2f} s system; median {median:.2f} s) in {where}, {files} files, "
          f"{files / best:,.0f} files/s, peak RSS {peak_mib:.0f} MiB; unchanged rebuild {rerun:.2f} s")
    floor = min(copies)
    ratio = best / floor[0]
    paired = statistics.median(b[0] / c[0] for b, c in zip(runs, copies))
    cpu = (user + system) / floor[1]
    print(f"cp -a of the same tree: best {floor[0]:.2f} s ({floor[1]:.2f} s CPU; median {statistics.median(c[0] for c in copies):.2f} s)")
    print(f"build against cp -a, best against best of {args.runs} interleaved pairs: {ratio:.2f}x wall "
          f"(median of the pairs' ratios {paired:.2f}x), {cpu:.2f}x CPU; load average {load}; "
          f"target {TARGET:g}x wall on tmpfs: {'met' if ratio <= TARGET else 'NOT met'}")


if __name__ == "__main__":
    main()
