"""One circuit breaker per AxonFlow function, and the async admission in front of each.

Why one per function: the pre-check, the check-input route (input masking, MCP tool checks)
and the check-output route fail independently. With a single breaker, a failing masking route
opened the breaker for the pre-check too: requests that needed only the pre-check then passed
ungoverned (`fail_open: true`) or were refused (`fail_open: false`) while the pre-check was
healthy. Each function's own availability now decides for the requests that need it.

Why a gate around the (pure) breaker: while a half-open breaker's one probe is in flight, the
breaker refuses every other call. Treating that as "open" would let every other request of the
same burst pass ungoverned at the very moment AxonFlow may be back. `BreakerGate.acquire` makes
them wait for the probe's outcome instead: a success closes the breaker and they go on to make
their own calls; a failure reopens it and they take the fail mode, as they would have before.
The wait is bounded by the caller's own deadline (`call_timeout_seconds`), so a probe that
hangs costs the waiters no more than a pre-check may take.

Transitions are observed here, from outside the pure state machine: the gate reads the
breaker's state after each admission and each settled call (the only moments it can change)
and reports a change to its `BreakerEvents` (metrics). An open breaker past its recovery time
reads half-open only once a call takes the probe.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from axonflow_guardrail.axonflow._circuit_breaker import BreakerPermit, BreakerState, CircuitBreaker
from axonflow_guardrail.observe._events import NO_EVENTS, BreakerEvents

__all__ = ["BreakerGate", "Breakers"]


class BreakerGate:
    """A `CircuitBreaker` and the waiters of its half-open probe (one event loop per worker)."""

    def __init__(
        self, breaker: CircuitBreaker, *, name: str, events: BreakerEvents = NO_EVENTS
    ) -> None:
        self.breaker = breaker
        self.name = name
        self._probe_done: asyncio.Event | None = None
        self._events = events
        self._seen = self._observed_state()
        events.breaker_state(function=name, state=self._seen.value, previous=None)

    @property
    def state(self) -> BreakerState:
        return self.breaker.state

    def refuses_outright(self) -> bool:
        """Open, not due for a probe: refuse without any work (an outage must cost nothing)."""
        return self.breaker.refuses_outright()

    async def acquire(self) -> BreakerPermit | None:
        """A permit, after waiting out a half-open probe if one is in flight; None when open.

        The caller bounds the wait (its `asyncio.timeout`); a cancelled waiter leaves nothing
        behind.
        """
        while True:
            permit = self.breaker.acquire()
            if permit is not None:
                if permit.is_probe:
                    self._probe_done = asyncio.Event()
                    self._observe()
                return permit
            if not self.breaker.probe_in_flight or self._probe_done is None:
                return None
            await self._probe_done.wait()

    def settled(self, permit: BreakerPermit) -> None:
        """Call once `permit` is settled: wakes the calls waiting on a probe's outcome."""
        self._observe()
        if permit.is_probe and self._probe_done is not None:
            done, self._probe_done = self._probe_done, None
            done.set()

    def _observed_state(self) -> BreakerState:
        """What the breaker's last admission or outcome made it (an open breaker past its
        recovery time is still open until a call takes the probe)."""
        state = self.breaker.state
        if state is BreakerState.HALF_OPEN and not self.breaker.probe_in_flight:
            return BreakerState.OPEN
        return state

    def _observe(self) -> None:
        state = self._observed_state()
        if state is not self._seen:
            previous, self._seen = self._seen, state
            self._events.breaker_state(
                function=self.name, state=state.value, previous=previous.value
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class Breakers:
    """The guardrail's breakers, one per AxonFlow function it calls on the request path.

    Audits and approvals are not behind a breaker: audit delivery has its own retries, and
    approval polls are counted per hold (see `_approval_gate`).
    """

    pre_check: BreakerGate
    check_input: BreakerGate
    check_output: BreakerGate

    @classmethod
    def create(
        cls,
        *,
        failure_threshold: int,
        recovery_seconds: float,
        events: BreakerEvents = NO_EVENTS,
    ) -> Breakers:
        def gate(name: str) -> BreakerGate:
            breaker = CircuitBreaker(
                failure_threshold=failure_threshold, recovery_seconds=recovery_seconds
            )
            return BreakerGate(breaker, name=name, events=events)

        return cls(
            pre_check=gate("pre_check"),
            check_input=gate("check_input"),
            check_output=gate("check_output"),
        )
