"""The audit sink: off the response path, retried only when nothing can have been stored."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from axonflow_guardrail.audit._records import LLMCallAudit
from axonflow_guardrail.audit._sink import AuditSink
from axonflow_guardrail.axonflow._failures import AxonFlowFailure, FailureKind


class FakeClient:
    """Stands in for the SDK wrapper: the sink's only collaborator, no network."""

    def __init__(self, outcomes: list[BaseException | None]) -> None:
        self.outcomes = outcomes
        self.sent: list[dict[str, Any]] = []
        self.closed = False
        self.release = asyncio.Event()
        self.release.set()

    async def audit_llm_call(self, **kwargs: Any) -> str:
        await self.release.wait()
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome
        self.sent.append(kwargs)
        return "audit-1"

    async def close(self) -> None:
        self.closed = True


def record(call_id: str = "call-1") -> LLMCallAudit:
    return LLMCallAudit(
        call_id=call_id,
        context_id="ctx",
        provider="openai",
        model="m",
        usage=(1, 2, 3),
        latency_ms=5,
        response_summary="hi",
        metadata={"outcome": "success"},
    )


def make(client: FakeClient, **kwargs: Any) -> tuple[AuditSink, list[float]]:
    slept: list[float] = []

    async def no_sleep(seconds: float) -> None:
        slept.append(seconds)

    sink = AuditSink(
        client=client,  # type: ignore[arg-type]
        queue_size=kwargs.pop("queue_size", 100),
        concurrency=kwargs.pop("concurrency", 2),
        send_timeout_seconds=1.0,
        sleep=no_sleep,
        **kwargs,
    )
    return sink, slept


async def test_submit_returns_before_delivery() -> None:
    client = FakeClient([])
    client.release.clear()  # the agent "hangs"
    sink, _ = make(client)
    assert sink.submit(record()) is True  # returned at once
    assert client.sent == []
    client.release.set()
    await sink.drain()
    assert len(client.sent) == 1
    assert client.sent[0]["metadata"]["litellm_call_id"] == "call-1"


async def test_connection_refused_is_retried() -> None:
    refused = AxonFlowFailure(FailureKind.UNAVAILABLE, "AxonFlow is unreachable", unsent=True)
    client = FakeClient([refused, refused])
    sink, slept = make(client)
    sink.submit(record())
    await sink.drain()
    assert len(client.sent) == 1
    assert slept == [0.5, 2.0]


async def test_503_is_retried_but_timeout_is_not() -> None:
    client = FakeClient([AxonFlowFailure(FailureKind.UNAVAILABLE, "x", status=503)])
    sink, _ = make(client)
    sink.submit(record())
    await sink.drain()
    assert sink.sent == 1

    client = FakeClient(
        [AxonFlowFailure(FailureKind.UNAVAILABLE, "AxonFlow did not answer in time")]
    )
    sink, slept = make(client)
    sink.submit(record())
    await sink.drain()
    assert sink.sent == 0
    assert sink.failed == 1
    assert slept == []  # the record may have been stored: never sent twice


async def test_400_invalid_context_is_not_retried() -> None:
    client = FakeClient([AxonFlowFailure(FailureKind.UNAVAILABLE, "HTTP 400", status=400)])
    sink, slept = make(client)
    sink.submit(record())
    await sink.drain()
    assert sink.failed == 1
    assert slept == []


async def test_full_queue_drops_loudly(caplog: pytest.LogCaptureFixture) -> None:
    client = FakeClient([])
    client.release.clear()
    sink, _ = make(client, queue_size=1, concurrency=1)
    assert sink.submit(record("a"))
    await asyncio.sleep(0)  # the worker takes "a"
    assert sink.submit(record("b"))
    assert sink.submit(record("c")) is False
    assert sink.dropped == 1
    assert "call_id=c" in caplog.text
    client.release.set()
    await sink.drain()


async def test_cancelled_workers_flush_the_queue_and_close_the_client() -> None:
    """At shutdown asyncio cancels the remaining tasks; queued records still go out."""
    client = FakeClient([])
    client.release.clear()
    sink, _ = make(client, concurrency=1)
    for i in range(3):
        sink.submit(record(f"c{i}"))
    await asyncio.sleep(0)
    client.release.set()
    for task in list(sink._workers):
        task.cancel()
    await asyncio.gather(*sink._workers, return_exceptions=True)
    assert {s["metadata"]["litellm_call_id"] for s in client.sent} >= {"c1", "c2"}
    assert client.closed
