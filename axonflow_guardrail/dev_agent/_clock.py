"""The dev agent's clock: real time plus an offset that tests move forward.

Every expiry in the agent (pre-check contexts, approval requests) reads this clock and never
`time.time()` directly, so a test can jump past an expiry with `POST /__dev/clock` instead of
sleeping.
"""

from __future__ import annotations

import time


class AgentClock:
    """Wall-clock seconds since the epoch, shifted by `offset_s`."""

    __slots__ = ("_offset_s",)

    def __init__(self) -> None:
        self._offset_s = 0.0

    @property
    def offset_s(self) -> float:
        return self._offset_s

    def now(self) -> float:
        return time.time() + self._offset_s

    def advance(self, seconds: float) -> None:
        """Move the clock forward. Never backward: stores rely on expiries only growing."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._offset_s += seconds

    def reset(self) -> None:
        self._offset_s = 0.0


def rfc3339(ts: float) -> str:
    """RFC 3339 UTC timestamp with microseconds and a `Z`, as the platform writes them."""
    seconds = int(ts)
    micros = round((ts - seconds) * 1_000_000)
    if micros == 1_000_000:
        seconds, micros = seconds + 1, 0
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{micros:06d}Z"
