"""The one deadline each domain gets, on the event loop's clock."""

from __future__ import annotations

import asyncio

# asyncio's TLS handshake timeout rejects zero; past the deadline it gets
# this and fails at once.
MINIMUM = 0.001


def start(seconds: float) -> float:
    return asyncio.get_running_loop().time() + seconds


def remaining(deadline: float) -> float:
    return max(deadline - asyncio.get_running_loop().time(), MINIMUM)
