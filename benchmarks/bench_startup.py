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

Two more rows say what a figure is made of, since a bare start and an import
do not slow down alike from one machine to another (8.7 ms and 7.5x for
`build` on 2026-11-30; 16-19 ms and 9x on 2026-12-06, for the same code):

- the libraries alone: Typer, PyYAML and Jinja2 imported, with the start and
  end the CLI has (generator/entry.py) and nothing run. No command that needs
  all three can start faster; each command's own share is its time above
  this row.
- `--against REV`: the same commands from the project's code at git
  revision REV, each paired with today's in the same round, so a change of
  start-up is told apart from a change of machine. REV runs from an
  unpacked `git archive`, not a checkout: a revision whose `build` reads
  its checkout's commit (generator/release.py) skips that there, which
  favours REV slightly.

Byte-code is cached as for an installed package (PYTHONDONTWRITEBYTECODE is
dropped and the cache kept in a temporary PYTHONPYCACHEPREFIX, warmed by an
untimed round), so the source tree is left as it was; `build` keeps its
templates' compiled code there too (generator/render.py). Run:

    python benchmarks/bench_startup.py [--runs 40] [--against REV]
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
TARGET = 8.0
UNTARGETED = {"build --help"}
# What every command that reads a config and renders a template must import,
# started and ended as the CLI is (see generator/entry.py).
LIBRARIES = (
    "from generator.entry import _end_without_teardown, _fewer_collections_at_start\n"
    "_fewer_collections_at_start()\n"
    "outcome = _end_without_teardown()\n"
    "import typer, yaml, jinja2\n"
    "outcome.append(0)\n"
)
LIBRARY_ROW = "libraries alone"


def commands(root: Path, site: Path) -> dict[str, list[str]]:
    cli = [sys.executable, "-m", "generator"]
    example = str(root / "examples" / "google-workspace.yml")
    return {
        "--version": [*cli, "--version"],
        "build --help": [*cli, "build", "--help"],
        "validate --txt": [*cli, "validate", "--txt", "v=STSv1; id=1"],
        "records": [*cli, "records", "-c", example],
        "build": [*cli, "build", "-c", example, "-o", str(site)],
        "check (nothing to check)": [*cli, "check"],
    }


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one run of ``cmd``."""
    wall, cpu, _ = run_with_status(cmd, cwd, env)
    return wall, cpu


def run_with_status(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, int]:
    start = time.perf_counter()
    child = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime, os.waitstatus_to_exitcode(status)


def checkout(rev: str, into: Path) -> Path:
    """The project's files at git revision ``rev``, unpacked into ``into``."""
    into.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], capture_output=True, check=False)
    if archive.returncode != 0:
        sys.exit(f"bench_startup: cannot read revision {rev!r}: {archive.stderr.decode(errors='replace').strip()}")
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--against", metavar="REV", help="also run the commands from git revision REV, paired")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "work"
        work.mkdir()
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(PYTHONPATH=str(ROOT), PYTHONPYCACHEPREFIX=str(Path(tmp) / "pycache"))
        bare_cmd = [sys.executable, "-c", "pass"]
        cmds = commands(ROOT, Path(tmp) / "site")
        rows = {**cmds, LIBRARY_ROW: [sys.executable, "-c", LIBRARIES]}
        old_cmds: dict[str, list[str]] = {}
        old_env = env
        if args.against:
            old_root = checkout(args.against, Path(tmp) / "against")
            old_cmds = commands(old_root, Path(tmp) / "site-against")
            old_env = {**env, "PYTHONPATH": str(old_root)}
        codes = {name: run_with_status(cmd, work, env)[2] for name, cmd in rows.items()}  # also warms the byte-code cache
        for name, cmd in old_cmds.items():
            # A command that fails early on one side would compare nothing.
            if (old_code := run_with_status(cmd, work, old_env)[2]) != codes[name]:
                sys.exit(f"bench_startup: {name} exits {codes[name]} here and {old_code} at {args.against}")
        wall: dict[str, list[float]] = {name: [] for name in rows}
        cpu: dict[str, list[float]] = {name: [] for name in rows}
        against: dict[str, list[float]] = {name: [] for name in old_cmds}
        bare_wall, bare_cpu = [], []
        order = list(rows)
        for round_ in range(args.runs):
            for name in order:
                b_wall, b_cpu = run(bare_cmd, work, env)
                # Every other round the older code goes first, so neither side
                # always runs just after the other.
                old_wall = run(old_cmds[name], work, old_env)[0] if name in old_cmds and round_ % 2 else None
                c_wall, c_cpu = run(rows[name], work, env)
                if name in old_cmds:
                    against[name].append(c_wall / (old_wall or run(old_cmds[name], work, old_env)[0]))
                bare_wall.append(b_wall)
                bare_cpu.append(b_cpu)
                wall[name].append(c_wall / b_wall)
                cpu[name].append(c_cpu / max(b_cpu, 1e-4))
            order.reverse()  # each command in turn early and late in its round
    print(f"bare python -c pass: median {statistics.median(bare_wall) * 1000:.1f} ms wall, "
          f"{statistics.median(bare_cpu) * 1000:.1f} ms CPU; load average {os.getloadavg()[0]:.2f}")
    floor = statistics.median(wall[LIBRARY_ROW])
    worst = 0.0
    for name in rows:
        ratio = statistics.median(wall[name])
        if name in cmds and name not in UNTARGETED:
            worst = max(worst, ratio)
        note = "  (not a target)" if name in UNTARGETED else ""
        if name == LIBRARY_ROW:
            note = "  (Typer, PyYAML, Jinja2 imported; nothing run)"
        elif name in against:
            note += f"  {statistics.median(against[name]):.2f}x the time of {args.against}'s"
        print(f"  {name:26} {ratio:5.2f}x wall  {statistics.median(cpu[name]):5.2f}x CPU{note}")
    verdict = "met" if worst <= TARGET else "NOT met"
    print(f"start-up, median of {args.runs} paired runs: worst command {worst:.2f}x a bare interpreter "
          f"(target {TARGET:g}x: {verdict}; the libraries alone {floor:.2f}x)")


if __name__ == "__main__":
    main()
