"""The one deadline each domain gets, on the event loop's clock."""

from __future__ import annotations

import asyncio

# Libraries that take a duration (dnspython's lifetime, the TLS handshake
# timeout) reject zero; past the deadline they get this and fail at once.
MINIMUM = 0.001


def start(seconds: float) -> float:
    return asyncio.get_running_loop().time() + seconds


def remaining(deadline: float) -> float:
    return max(deadline - asyncio.get_running_loop().time(), MINIMUM)
