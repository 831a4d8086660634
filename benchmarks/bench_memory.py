"""Benchmark: peak memory of `check --domains-file` on a long list.

Target (issue 15): 100,000 domains keep a flat peak RSS, under 200 MiB.
`check --json` runs in a fresh process on a list of N names (default
100,000) and, for comparison, on a tenth of it; its one name server is a
closed UDP port on loopback, so every lookup fails at once and every domain
is reported (with errors) in a fraction of a millisecond of network time: the
run exercises reading the list, the in-flight bound and the streaming of
results, not the network. Peak RSS is the child's (the largest of its
processes with --workers). Run:

    python benchmarks/bench_memory.py [--domains 100000] [--workers 1]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_MIB = 200


def closed_udp_port() -> int:
    """A loopback UDP port nothing listens on (queries to it are refused at once)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(listing: Path, count: int, port: int, workers: int, json_lines: bool) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one check of ``listing``."""
    cmd = [sys.executable, "-m", "generator", "check", "--domains-file", str(listing), "--nameserver", f"127.0.0.1:{port}",
           "--workers", str(workers), "--concurrency", "200", "--timeout", "10", *(["--json"] if json_lines else [])]
    start = time.perf_counter()
    child = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    lines = sum(1 for _ in child.stdout) if json_lines else len(child.stdout.read().splitlines())
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    # Exit 1: every domain has errors, as intended; JSON: a line per domain.
    if os.waitstatus_to_exitcode(status) != 1 or (json_lines and lines != count):
        sys.exit(f"check exited {os.waitstatus_to_exitcode(status)} with {lines} lines for {count} domains")
    return wall, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--human", action="store_true", help="the report for people instead of --json")
    args = parser.parse_args()
    port = closed_udp_port()
    with tempfile.TemporaryDirectory() as tmp:
        full, tenth = Path(tmp) / "full.txt", Path(tmp) / "tenth.txt"
        names = [f"d{i:06d}.example\n" for i in range(args.domains)]
        full.write_text("".join(names))
        tenth.write_text("".join(names[: max(1, args.domains // 10)]))
        small = run(tenth, max(1, args.domains // 10), port, args.workers, not args.human)
        large = run(full, args.domains, port, args.workers, not args.human)
    verdict = "met" if large[1] < TARGET_MIB else "NOT met"
    mode = "report for people" if args.human else "--json"
    print(f"check --domains-file ({mode}, {args.workers} worker(s), every lookup refused at once): "
          f"{args.domains // 10:,} domains {small[0]:.1f} s, peak RSS {small[1]:.0f} MiB; "
          f"{args.domains:,} domains {large[0]:.1f} s, peak RSS {large[1]:.0f} MiB "
          f"({large[1] / small[1]:.2f}x for 10x the domains; target < {TARGET_MIB} MiB: {verdict})")


if __name__ == "__main__":
    main()
