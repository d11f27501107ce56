"""What the audit sink reports (the interface a durable outbox reports through too): each
record queued once, then delivered or dropped with its reason, every retry, and the backlog."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from axonflow_guardrail.audit._records import LLMCallAudit
from axonflow_guardrail.audit._sink import AuditSink
from axonflow_guardrail.axonflow._failures import AxonFlowFailure, FailureKind
from axonflow_guardrail.observe._events import AuditBacklog, AuditDrop


class Events:
    def __init__(self) -> None:
        self.seen: list[str] = []
        self.read: Callable[[], AuditBacklog] | None = None

    def queued(self) -> None:
        self.seen.append("queued")

    def delivered(self) -> None:
        self.seen.append("delivered")

    def retried(self) -> None:
        self.seen.append("retried")

    def dead_lettered(self) -> None:
        self.seen.append("dead_lettered")

    def dropped(self, *, reason: AuditDrop, count: int = 1) -> None:
        self.seen.append(f"dropped_{reason.value}x{count}")

    def watch_backlog(self, read: Callable[[], AuditBacklog], *, shared: bool = False) -> None:
        self.read = read


class Client:
    def __init__(self, outcomes: list[BaseException | None]) -> None:
        self.outcomes = outcomes
        self.release = asyncio.Event()
        self.release.set()
        self.traceparents: list[str | None] = []

    async def audit_llm_call(self, **kwargs: Any) -> str:
        await self.release.wait()
        self.traceparents.append(kwargs["traceparent"])
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome
        return "audit-1"

    async def close(self) -> None:
        pass


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


def record(call_id: str = "c", traceparent: str | None = None) -> LLMCallAudit:
    return LLMCallAudit(
        call_id=call_id,
        context_id="ctx",
        provider="openai",
        model="m",
        usage=(1, 2, 3),
        latency_ms=5,
        response_summary="hi",
        traceparent=traceparent,
    )


def sink(client: Client, events: Events, **kwargs: Any) -> AuditSink:
    async def no_sleep(seconds: float) -> None:
        pass

    return AuditSink(
        client=client,  # type: ignore[arg-type]
        queue_size=kwargs.pop("queue_size", 10),
        concurrency=kwargs.pop("concurrency", 1),
        send_timeout_seconds=1.0,
        sleep=no_sleep,
        events=events,
        **kwargs,
    )


async def test_delivered_after_retries_carrying_the_traceparent() -> None:
    refused = AxonFlowFailure(FailureKind.UNAVAILABLE, "AxonFlow is unreachable", unsent=True)
    client, events = Client([refused]), Events()
    audits = sink(client, events)
    audits.submit(record(traceparent="00-" + "1" * 32 + "-" + "2" * 16 + "-01"))
    await audits.drain()
    assert events.seen == ["queued", "retried", "delivered"]
    assert client.traceparents == ["00-" + "1" * 32 + "-" + "2" * 16 + "-01"] * 2


async def test_undeliverable_and_queue_full_are_dropped_with_their_reason() -> None:
    timeout = AxonFlowFailure(FailureKind.UNAVAILABLE, "AxonFlow did not answer in time")
    client, events = Client([timeout]), Events()
    audits = sink(client, events, queue_size=1)
    client.release.clear()
    audits.submit(record("a"))
    await asyncio.sleep(0)  # the worker takes "a" and waits
    audits.submit(record("b"))
    assert audits.submit(record("c")) is False
    client.release.set()
    await audits.drain()
    assert events.seen == [
        "queued",
        "queued",
        "dropped_queue_fullx1",
        "dropped_undeliverablex1",
        "delivered",
    ]


async def test_backlog_depth_and_oldest_age() -> None:
    client, events, clock = Client([]), Events(), Clock()
    audits = sink(client, events, clock=clock)
    assert events.read is not None
    assert events.read() == AuditBacklog(depth=0, oldest_age_seconds=None)
    client.release.clear()
    audits.submit(record("a"))
    await asyncio.sleep(0)  # "a" is taken: in delivery, no longer waiting
    clock.now = 101.0
    audits.submit(record("b"))
    clock.now = 104.0
    audits.submit(record("c"))
    clock.now = 110.0
    assert events.read() == AuditBacklog(depth=2, oldest_age_seconds=9.0)
    client.release.set()
    await audits.drain()
    assert events.read() == AuditBacklog(depth=0, oldest_age_seconds=None)


async def test_records_left_at_shutdown_are_counted() -> None:
    client, events = Client([]), Events()
    audits = sink(client, events, flush_seconds=0.05)
    client.release.clear()  # AxonFlow hangs: the flush cannot finish
    for i in range(3):
        audits.submit(record(f"c{i}"))
    await asyncio.sleep(0)
    for task in list(audits._workers):
        task.cancel()
    await asyncio.gather(*audits._workers, return_exceptions=True)
    assert events.seen[:3] == ["queued"] * 3
    assert "dropped_shutdownx1" in events.seen  # c1 was being flushed; c2 never left
