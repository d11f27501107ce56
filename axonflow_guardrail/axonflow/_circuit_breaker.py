"""A circuit breaker in front of AxonFlow: pure logic, no I/O, no sleeping.

Why: when AxonFlow is down, every governed request would otherwise wait `call_timeout_seconds`
for a connection that will not come. After `failure_threshold` consecutive *unavailability*
failures the breaker opens and calls are refused at once (the caller then applies
`fail_open`). After `recovery_seconds` it lets exactly one probe through (half-open); the
probe's outcome closes or reopens it. `acquire` refuses every other call meanwhile, so a
recovering AxonFlow is not hit by a thundering herd; those calls wait for the probe's outcome
in `_breakers.BreakerGate` (I/O lives there, not here), rather than passing ungoverned.

Only unavailability counts (connection errors, timeouts, 5xx, malformed answers). A rejection
(401/402/403) proves the platform is up, so it counts as a success for the breaker.

The clock is a constructor argument, so tests drive the state machine without waiting.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable

__all__ = ["BreakerPermit", "BreakerState", "CircuitBreaker"]


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class BreakerPermit:
    """Permission for one call. Settle it exactly once: `success()`, `failure()` or `release()`.

    `release()` settles without an outcome (the call was cancelled, or failed for a reason
    that says nothing about AxonFlow's health); it frees the half-open probe slot so the next
    caller can probe. Settling twice is a no-op, so `release()` can sit in a `finally`.
    """

    __slots__ = ("_breaker", "_settled", "is_probe")

    def __init__(self, breaker: CircuitBreaker, *, is_probe: bool) -> None:
        self._breaker = breaker
        self._settled = False
        self.is_probe = is_probe

    def success(self) -> None:
        if not self._settled:
            self._settled = True
            self._breaker._on_success(self)

    def failure(self) -> None:
        if not self._settled:
            self._settled = True
            self._breaker._on_failure(self)

    def release(self) -> None:
        if not self._settled:
            self._settled = True
            self._breaker._on_release(self)


class CircuitBreaker:
    """Closed → open after N consecutive failures → half-open (one probe) → closed or open."""

    def __init__(
        self,
        *,
        failure_threshold: int,
        recovery_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self._threshold = failure_threshold
        self._recovery = recovery_seconds
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._consecutive_failures = 0
        self._opened_at = 0.0
        self._probe_in_flight = False

    @property
    def state(self) -> BreakerState:
        """The state as of now (an open breaker past its recovery time reads half-open)."""
        if self._state is BreakerState.OPEN and self._recovery_due():
            return BreakerState.HALF_OPEN
        return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._consecutive_failures

    @property
    def probe_in_flight(self) -> bool:
        """A half-open probe is out: its outcome will close or reopen the breaker."""
        return self._probe_in_flight

    def admits(self) -> bool:
        """Would `acquire` give a permit now? A pure look, so a caller can skip work early."""
        if self._state is BreakerState.CLOSED:
            return True
        if self._state is BreakerState.OPEN and not self._recovery_due():
            return False
        return not self._probe_in_flight

    def refuses_outright(self) -> bool:
        """Open and not due for a probe: no call can be attempted, and none is worth waiting."""
        return self._state is BreakerState.OPEN and not self._recovery_due()

    def acquire(self) -> BreakerPermit | None:
        """A permit for one call, or None when the call must not be attempted."""
        if self._state is BreakerState.CLOSED:
            return BreakerPermit(self, is_probe=False)
        if self._state is BreakerState.OPEN and self._recovery_due():
            self._state = BreakerState.HALF_OPEN
        if self._state is BreakerState.HALF_OPEN and not self._probe_in_flight:
            self._probe_in_flight = True
            return BreakerPermit(self, is_probe=True)
        return None

    def _recovery_due(self) -> bool:
        return self._clock() - self._opened_at >= self._recovery

    def _on_success(self, permit: BreakerPermit) -> None:
        if permit.is_probe:
            self._probe_in_flight = False
        self._state = BreakerState.CLOSED
        self._consecutive_failures = 0

    def _on_failure(self, permit: BreakerPermit) -> None:
        if permit.is_probe:
            self._probe_in_flight = False
            self._open()
            return
        if self._state is not BreakerState.CLOSED:
            # A call admitted before the breaker opened; the breaker already knows.
            return
        self._consecutive_failures += 1
        if self._consecutive_failures >= self._threshold:
            self._open()

    def _on_release(self, permit: BreakerPermit) -> None:
        if permit.is_probe:
            self._probe_in_flight = False

    def _open(self) -> None:
        self._state = BreakerState.OPEN
        self._opened_at = self._clock()
