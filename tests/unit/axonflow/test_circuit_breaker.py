"""The breaker's state machine, driven by a fake clock: no network, no sleeping."""

from __future__ import annotations

import pytest

from axonflow_guardrail.axonflow._circuit_breaker import BreakerState, CircuitBreaker


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make(clock: FakeClock, threshold: int = 3, recovery: float = 30.0) -> CircuitBreaker:
    return CircuitBreaker(failure_threshold=threshold, recovery_seconds=recovery, clock=clock)


def fail(breaker: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        permit = breaker.acquire()
        assert permit is not None
        permit.failure()


def test_opens_after_threshold_consecutive_failures(clock: FakeClock) -> None:
    breaker = make(clock)
    fail(breaker, 2)
    assert breaker.state is BreakerState.CLOSED
    fail(breaker, 1)
    assert breaker.state is BreakerState.OPEN
    assert breaker.acquire() is None


def test_success_resets_the_count(clock: FakeClock) -> None:
    breaker = make(clock)
    fail(breaker, 2)
    permit = breaker.acquire()
    assert permit is not None
    permit.success()
    fail(breaker, 2)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.consecutive_failures == 2


def test_half_open_admits_exactly_one_probe(clock: FakeClock) -> None:
    breaker = make(clock)
    fail(breaker, 3)
    clock.now += 29.9
    assert breaker.acquire() is None
    clock.now += 0.1
    assert breaker.state is BreakerState.HALF_OPEN
    probe = breaker.acquire()
    assert probe is not None
    assert probe.is_probe
    assert breaker.acquire() is None  # a second caller is refused while the probe runs
    probe.success()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.acquire() is not None


def test_failed_probe_reopens_for_a_full_recovery_period(clock: FakeClock) -> None:
    breaker = make(clock)
    fail(breaker, 3)
    clock.now += 30
    probe = breaker.acquire()
    assert probe is not None
    probe.failure()
    assert breaker.state is BreakerState.OPEN
    clock.now += 29
    assert breaker.acquire() is None
    clock.now += 1
    assert breaker.acquire() is not None


def test_released_probe_frees_the_slot_without_changing_state(clock: FakeClock) -> None:
    """A cancelled probe (client went away) must not wedge the breaker half-open forever."""
    breaker = make(clock)
    fail(breaker, 3)
    clock.now += 30
    probe = breaker.acquire()
    assert probe is not None
    probe.release()
    assert breaker.state is BreakerState.HALF_OPEN
    again = breaker.acquire()
    assert again is not None
    assert again.is_probe


def test_settling_twice_is_a_no_op(clock: FakeClock) -> None:
    breaker = make(clock, threshold=1)
    permit = breaker.acquire()
    assert permit is not None
    permit.success()
    permit.failure()
    permit.release()
    assert breaker.state is BreakerState.CLOSED


def test_late_failures_of_calls_admitted_before_opening_do_not_extend_it(clock: FakeClock) -> None:
    breaker = make(clock, threshold=2)
    early = [breaker.acquire() for _ in range(4)]
    assert all(p is not None for p in early)
    early[0].failure()  # type: ignore[union-attr]
    early[1].failure()  # type: ignore[union-attr]
    assert breaker.state is BreakerState.OPEN
    clock.now += 10
    early[2].failure()  # type: ignore[union-attr]
    clock.now += 20
    assert breaker.state is BreakerState.HALF_OPEN


def test_threshold_must_be_positive(clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="failure_threshold"):
        make(clock, threshold=0)


def test_admits_is_a_pure_look_at_acquire(clock: FakeClock) -> None:
    breaker = make(clock)
    assert breaker.admits()
    fail(breaker, 3)
    assert not breaker.admits()
    clock.now += 30
    assert breaker.admits()  # half-open: the next caller would be the probe
    assert breaker.admits()  # looking twice takes nothing
    probe = breaker.acquire()
    assert probe is not None
    assert not breaker.admits()  # the probe is in flight
    probe.success()
    assert breaker.admits()
