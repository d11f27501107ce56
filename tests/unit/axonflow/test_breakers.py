"""Breakers per AxonFlow function, and calls that wait for a half-open probe's outcome.

The breaker's clock is a test switch: nothing here sleeps on the real clock.
"""

from __future__ import annotations

import asyncio

import pytest

from axonflow_guardrail.axonflow._breakers import BreakerGate, Breakers
from axonflow_guardrail.axonflow._circuit_breaker import BreakerState, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def half_open_gate() -> tuple[BreakerGate, Clock]:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, recovery_seconds=30, clock=clock)
    gate = BreakerGate(breaker, name="pre_check")
    permit = breaker.acquire()
    assert permit is not None
    permit.failure()
    assert gate.refuses_outright()
    clock.now = 31
    assert not gate.refuses_outright()
    assert gate.state is BreakerState.HALF_OPEN
    return gate, clock


async def test_calls_during_a_probe_wait_and_go_on_when_it_succeeds() -> None:
    gate, _ = half_open_gate()
    probe = await gate.acquire()
    assert probe is not None
    assert probe.is_probe
    waiters = [asyncio.create_task(gate.acquire()) for _ in range(5)]
    await asyncio.sleep(0)  # let them reach the wait (an event loop turn, not the clock)
    assert not any(w.done() for w in waiters)  # nobody passes while the probe is out

    probe.success()
    gate.settled(probe)
    permits = await asyncio.gather(*waiters)

    assert all(p is not None and not p.is_probe for p in permits)
    assert gate.state is BreakerState.CLOSED


async def test_calls_during_a_probe_take_the_fail_mode_when_it_fails() -> None:
    gate, _ = half_open_gate()
    probe = await gate.acquire()
    assert probe is not None
    waiters = [asyncio.create_task(gate.acquire()) for _ in range(3)]
    await asyncio.sleep(0)

    probe.failure()
    gate.settled(probe)

    assert await asyncio.gather(*waiters) == [None, None, None]
    assert gate.state is BreakerState.OPEN


async def test_a_cancelled_probe_hands_the_probe_to_one_waiter() -> None:
    gate, _ = half_open_gate()
    probe = await gate.acquire()
    assert probe is not None
    waiters = [asyncio.create_task(gate.acquire()) for _ in range(3)]
    await asyncio.sleep(0)

    probe.release()
    gate.settled(probe)
    await asyncio.sleep(0)
    await asyncio.sleep(0)

    done = [w for w in waiters if w.done()]
    assert len(done) == 1
    new_probe = done[0].result()
    assert new_probe is not None
    assert new_probe.is_probe
    new_probe.success()
    gate.settled(new_probe)
    rest = await asyncio.gather(*(w for w in waiters if w is not done[0]))
    assert all(p is not None and not p.is_probe for p in rest)


async def test_the_wait_is_bounded_by_the_callers_deadline() -> None:
    gate, _ = half_open_gate()
    probe = await gate.acquire()
    assert probe is not None
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0):
            await gate.acquire()
    probe.success()
    gate.settled(probe)
    assert await gate.acquire() is not None


async def test_open_breaker_refuses_at_once_without_waiting() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, recovery_seconds=30, clock=clock)
    gate = BreakerGate(breaker, name="check_input")
    permit = await gate.acquire()
    assert permit is not None
    permit.failure()
    assert await gate.acquire() is None


def test_each_function_has_its_own_breaker() -> None:
    breakers = Breakers.create(failure_threshold=1, recovery_seconds=30)
    permit = breakers.check_input.breaker.acquire()
    assert permit is not None
    permit.failure()
    assert breakers.check_input.refuses_outright()
    assert not breakers.pre_check.refuses_outright()
    assert not breakers.check_output.refuses_outright()
