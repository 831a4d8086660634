"""One fresh process of a command, measured by the kernel: the figures the
benchmarks print come from os.wait4, the child's own wall, CPU and peak RSS
(not the benchmark's, which holds the corpus and the other runs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]


class Run(NamedTuple):
    wall: float  # seconds
    user: float  # CPU seconds
    system: float
    peak_mib: float  # peak RSS
    document: object  # the JSON the command printed

    @property
    def cpu(self) -> float:
        return self.user + self.system


def run_json(command: list[str], *, ok: tuple[int, ...] = (0,), env: dict[str, str] | None = None) -> Run:
    """Run ``command`` at the repository's root and read the JSON it
    prints; an exit code outside ``ok`` ends the benchmark with its stderr."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        child = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        if code not in ok:
            err.seek(0)
            sys.exit(f"{' '.join(command[:4])} exited with {code}: {err.read().decode(errors='replace')[-2000:]}")
        out.seek(0)
        return Run(elapsed, usage.ru_utime, usage.ru_stime, usage.ru_maxrss / 1024, json.loads(out.read()))
