"""Breaker transitions, observed from outside the pure state machine and reported once each.

The breaker's clock is a test switch: nothing here sleeps on the real clock.
"""

from __future__ import annotations

from axonflow_guardrail.axonflow._breakers import BreakerGate, Breakers
from axonflow_guardrail.axonflow._circuit_breaker import CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Events:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str | None]] = []

    def breaker_state(self, *, function: str, state: str, previous: str | None) -> None:
        self.seen.append((function, state, previous))


async def fail(gate: BreakerGate) -> None:
    permit = await gate.acquire()
    assert permit is not None
    permit.failure()
    gate.settled(permit)


async def succeed(gate: BreakerGate) -> None:
    permit = await gate.acquire()
    assert permit is not None
    permit.success()
    gate.settled(permit)


async def test_closed_open_half_open_closed() -> None:
    clock, events = Clock(), Events()
    breaker = CircuitBreaker(failure_threshold=2, recovery_seconds=30, clock=clock)
    gate = BreakerGate(breaker, name="pre_check", events=events)
    await fail(gate)
    await fail(gate)
    assert await gate.acquire() is None  # open: refused, no new event
    clock.now = 31  # due for a probe, but still reported open until a call takes it
    assert events.seen == [
        ("pre_check", "closed", None),
        ("pre_check", "open", "closed"),
    ]
    probe = await gate.acquire()
    assert probe is not None
    assert probe.is_probe
    assert events.seen[-1] == ("pre_check", "half_open", "open")
    probe.success()
    gate.settled(probe)
    assert events.seen[-1] == ("pre_check", "closed", "half_open")
    await succeed(gate)  # no change, no event
    assert len(events.seen) == 4


async def test_a_failed_probe_reopens() -> None:
    clock, events = Clock(), Events()
    gate = BreakerGate(
        CircuitBreaker(failure_threshold=1, recovery_seconds=5, clock=clock),
        name="check_input",
        events=events,
    )
    await fail(gate)
    clock.now = 6
    await fail(gate)  # the probe
    assert [e[1:] for e in events.seen] == [
        ("closed", None),
        ("open", "closed"),
        ("half_open", "open"),
        ("open", "half_open"),
    ]


def test_every_function_reports_its_initial_state() -> None:
    events = Events()
    Breakers.create(failure_threshold=5, recovery_seconds=30, events=events)
    assert events.seen == [
        ("pre_check", "closed", None),
        ("check_input", "closed", None),
        ("check_output", "closed", None),
    ]
