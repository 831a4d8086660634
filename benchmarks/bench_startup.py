"""Benchmark: start-up of each command against a bare interpreter start, as ratios.

Target (issue 15): every command within 8x `python -c pass`. Each round runs,
in fresh processes, a bare `python -c pass` and then every command below, so
that each command's time is paired with a bare start taken moments before
under the same load; a command's figure is the median over the rounds of
(its time / the paired bare time), for wall time and for CPU time
(user + system of the child, which other processes on the machine disturb
less). The commands, run in an empty temporary directory:

- `--version`, and `build --help` (shown, not held to the target: help is
  drawn with Rich, which a command run never imports);
- `validate --txt 'v=STSv1; id=1'`;
- `records -c examples/google-workspace.yml`;
- `build -c examples/google-workspace.yml -o DIR` (the bundled example);
- `check` with nothing to check (no DOMAIN, no config: a usage error).

Byte-code is cached as for an installed package (PYTHONDONTWRITEBYTECODE is
dropped and the cache kept in a temporary PYTHONPYCACHEPREFIX, warmed by an
untimed round), so the source tree is left as it was; `build` keeps its
templates' compiled code there too (generator/render.py). Run:

    python benchmarks/bench_startup.py [--runs 40]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "google-workspace.yml"
TARGET = 8.0
UNTARGETED = {"build --help"}


def commands(site: Path) -> dict[str, list[str]]:
    cli = [sys.executable, "-m", "generator"]
    return {
        "--version": [*cli, "--version"],
        "build --help": [*cli, "build", "--help"],
        "validate --txt": [*cli, "validate", "--txt", "v=STSv1; id=1"],
        "records": [*cli, "records", "-c", str(EXAMPLE)],
        "build": [*cli, "build", "-c", str(EXAMPLE), "-o", str(site)],
        "check (nothing to check)": [*cli, "check"],
    }


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one run of ``cmd``."""
    start = time.perf_counter()
    child = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, usage = os.wait4(child.pid, 0)
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "work"
        work.mkdir()
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(PYTHONPATH=str(ROOT), PYTHONPYCACHEPREFIX=str(Path(tmp) / "pycache"))
        bare_cmd = [sys.executable, "-c", "pass"]
        cmds = commands(Path(tmp) / "site")
        for cmd in [bare_cmd, *cmds.values()]:  # warm the byte-code cache
            run(cmd, work, env)
        wall: dict[str, list[float]] = {name: [] for name in cmds}
        cpu: dict[str, list[float]] = {name: [] for name in cmds}
        bare_wall, bare_cpu = [], []
        for _ in range(args.runs):
            for name, cmd in cmds.items():
                b_wall, b_cpu = run(bare_cmd, work, env)
                c_wall, c_cpu = run(cmd, work, env)
                bare_wall.append(b_wall)
                bare_cpu.append(b_cpu)
                wall[name].append(c_wall / b_wall)
                cpu[name].append(c_cpu / max(b_cpu, 1e-4))
    print(f"bare python -c pass: median {statistics.median(bare_wall) * 1000:.1f} ms wall, "
          f"{statistics.median(bare_cpu) * 1000:.1f} ms CPU; load average {os.getloadavg()[0]:.2f}")
    worst = 0.0
    for name in cmds:
        ratio = statistics.median(wall[name])
        if name not in UNTARGETED:
            worst = max(worst, ratio)
        note = "  (not a target)" if name in UNTARGETED else ""
        print(f"  {name:26} {ratio:5.2f}x wall  {statistics.median(cpu[name]):5.2f}x CPU{note}")
    verdict = "met" if worst <= TARGET else "NOT met"
    print(f"start-up, median of {args.runs} paired runs: worst command {worst:.2f}x a bare interpreter "
          f"(target {TARGET:g}x: {verdict})")


if __name__ == "__main__":
    main()
