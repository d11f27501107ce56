"""The request's traceparent on every AxonFlow call, AxonFlow's trace id back from the
pre-check, and each call timed and counted, through the official SDK over real HTTP to the
dev agent (whose request log shows the headers the SDK actually sent)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.processes import TEST_ENV, free_port

os.environ.update(TEST_ENV)

import axonflow
from axonflow.types import AuditToolCallRequest, RetryConfig

from axonflow_guardrail.axonflow._breakers import Breakers
from axonflow_guardrail.axonflow._client import AxonFlowClient
from axonflow_guardrail.axonflow._failures import AxonFlowFailure, FailureKind
from axonflow_guardrail.axonflow._trace_headers import (
    TracedCall,
    install_trace_hooks,
    trace_id_of,
    traced,
)
from tests.support.dev_agent import DevAgent, start_dev_agent

CLIENT = ("trace-test", "trace-secret")
TRACE = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE}-b7ad6b7169203331-01"


@pytest.fixture(scope="module")
def agent() -> Iterator[DevAgent]:
    with start_dev_agent(clients=[CLIENT]) as running:
        yield running


@pytest.fixture(autouse=True)
def _reset(agent: DevAgent) -> None:
    agent.reset()


class Recorder:
    """The `AxonFlowCallEvents` the client reports to."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None]] = []

    def call_finished(self, *, function: str, seconds: float, failure: str | None) -> None:
        assert seconds >= 0
        self.calls.append((function, failure))


def client(
    endpoint: str, *, secret: str = CLIENT[1], events: Any = None, threshold: int = 5
) -> AxonFlowClient:
    return AxonFlowClient(
        endpoint=endpoint,
        client_id=CLIENT[0],
        client_secret=secret,
        tenant_id=None,
        call_timeout_seconds=2.0,
        breakers=Breakers.create(failure_threshold=threshold, recovery_seconds=3_600),
        declares_redaction=False,
        **({"events": events} if events is not None else {}),
    )


def sent_traceparents(agent: DevAgent) -> dict[str, list[str | None]]:
    seen: dict[str, list[str | None]] = {}
    for request in agent.requests():
        seen.setdefault(request["path"], []).append(request["headers"].get("traceparent"))
    return seen


async def test_every_call_carries_the_traceparent_and_the_pre_check_answers_its_trace(
    agent: DevAgent,
) -> None:
    af = client(agent.url)
    try:
        decision = await af.pre_check(
            user_token="anonymous", query="hello", context={}, traceparent=TRACEPARENT
        )
        await af.mask_input(
            text="SSN 123-45-6789", user_token="anonymous", user_id=None, traceparent=TRACEPARENT
        )
        await af.check_tool_input(
            server_name="db",
            tool_name="query",
            statement="Tool: query",
            user_token="anonymous",
            user_id=None,
            traceparent=TRACEPARENT,
        )
        await af.check_output(
            text="fine", user_token="anonymous", user_id=None, traceparent=TRACEPARENT
        )
        await af.audit_llm_call(
            context_id=decision.context_id,
            response_summary="ok",
            provider="openai",
            model="m",
            usage=(1, 1, 2),
            latency_ms=1,
            metadata={},
            timeout=2.0,
            traceparent=TRACEPARENT,
        )
        await af.audit_tool_call(
            request=AuditToolCallRequest(tool_name="query"), timeout=2.0, traceparent=TRACEPARENT
        )
    finally:
        await af.close()
    assert decision.trace_id == TRACE
    sent = sent_traceparents(agent)
    assert set(sent) == {
        "/api/policy/pre-check",
        "/api/v1/mcp/check-input",
        "/api/v1/mcp/check-output",
        "/api/audit/llm-call",
        "/api/v1/audit/tool-call",
    }
    assert all(value == TRACEPARENT for values in sent.values() for value in values)


async def test_without_a_traceparent_none_is_sent_and_the_agents_trace_id_is_kept(
    agent: DevAgent,
) -> None:
    af = client(agent.url)
    try:
        decision = await af.pre_check(user_token="anonymous", query="hello", context={})
    finally:
        await af.close()
    assert sent_traceparents(agent) == {"/api/policy/pre-check": [None]}
    assert decision.trace_id is not None
    assert len(decision.trace_id) == 32
    assert decision.trace_id != TRACE


async def test_concurrent_calls_keep_their_own_trace(agent: DevAgent) -> None:
    af = client(agent.url)
    parents = [f"00-{i:032x}-{i:016x}-01" for i in range(1, 21)]
    try:
        decisions = await asyncio.gather(
            *(
                af.pre_check(user_token="anonymous", query=f"q{i}", context={}, traceparent=p)
                for i, p in enumerate(parents)
            )
        )
    finally:
        await af.close()
    assert [d.trace_id for d in decisions] == [p.split("-")[1] for p in parents]
    by_query = {
        r["body"]["query"]: r["headers"].get("traceparent")
        for r in agent.requests(path="/api/policy/pre-check")
    }
    assert by_query == {f"q{i}": p for i, p in enumerate(parents)}


async def test_the_stock_sdk_client_reads_the_trace_id_too(agent: DevAgent) -> None:
    """Without the lean client (a future SDK it cannot wrap), httpx runs the same hooks."""
    sdk = axonflow.AxonFlow(
        endpoint=agent.url,
        client_id=CLIENT[0],
        client_secret=CLIENT[1],
        retry_config=RetryConfig(enabled=False),
    )
    assert install_trace_hooks(sdk)
    call = TracedCall(traceparent=TRACEPARENT, read_trace_id=True)
    try:
        with traced(call):
            await sdk.pre_check(user_token="anonymous", query="hello", context={})
    finally:
        await sdk.close()
    assert call.trace_id == TRACE
    assert sent_traceparents(agent) == {"/api/policy/pre-check": [TRACEPARENT]}


async def test_calls_are_timed_and_failures_counted_by_kind(agent: DevAgent) -> None:
    events = Recorder()
    good, wrong = client(agent.url, events=events), client(agent.url, secret="no", events=events)
    dead = client(f"http://127.0.0.1:{free_port()}", events=events)
    try:
        await good.pre_check(user_token="anonymous", query="hello", context={})
        for af in (wrong, dead):
            with pytest.raises(AxonFlowFailure):
                await af.pre_check(user_token="anonymous", query="hello", context={})
    finally:
        for af in (good, wrong, dead):
            await af.close()
    assert events.calls == [
        ("pre_check", None),
        ("pre_check", "rejected"),
        ("pre_check", "unavailable"),
    ]


def test_trace_id_of_an_answer() -> None:
    assert trace_id_of(b'{"trace_id": "%s"}' % TRACE.upper().encode(), None) == TRACE
    assert trace_id_of(b'{"trace_id": "not-hex"}', TRACEPARENT) == TRACE  # the header then
    assert trace_id_of(b'{"trace_id": "' + b"0" * 32 + b'"}', None) is None
    assert trace_id_of(b"", "garbage") is None


async def test_a_tool_check_with_wrong_credentials_is_a_refusal(agent: DevAgent) -> None:
    """Through the SDK over real HTTP: the MCP check's 401 is not an outage (which `fail_open`
    would let through) but a refusal, whatever error the SDK raised for it."""
    wrong = client(agent.url, secret="not-the-secret")
    try:
        with pytest.raises(AxonFlowFailure) as raised:
            await wrong.check_tool_input(
                server_name="mcp",
                tool_name="lookup",
                statement="Tool: lookup",
                user_token="anonymous",
                user_id=None,
            )
    finally:
        await wrong.close()
    assert raised.value.kind is FailureKind.REJECTED
    assert raised.value.status == 401
