"""The event loop a check runs on: uvloop where it is installed (on Linux and
macOS it is a dependency), else asyncio's own.

uvloop's TLS and socket layers are compiled: the same checks take about a
fifth less CPU time per domain than on asyncio's pure-Python TLS protocol
(benchmarks/bench_check.py), and a long list is bound by CPU.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)``, on the fastest loop available."""
    try:
        import uvloop
    except ImportError:  # Windows, or a platform without uvloop wheels
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)
