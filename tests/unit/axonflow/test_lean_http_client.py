"""`LeanHttpClient` under the official SDK: the same requests on the wire, the same answers and
the same errors as the SDK's own httpx client, and httpx itself wherever the lean path does
not apply (proxied origins, arguments it does not handle).

Each test compares against a real dev agent over loopback HTTP: what the agent logged, what
the SDK returned or raised.
"""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.support.processes import TEST_ENV

os.environ.update(TEST_ENV)

import axonflow
from axonflow import exceptions as sdk_errors
from axonflow.types import RetryConfig

from axonflow_guardrail.axonflow._failures import FailureKind, classify_failure
from axonflow_guardrail.axonflow._http_client import LeanHttpClient, install_lean_http_client
from tests.support.dev_agent import DevAgent, start_dev_agent

CLIENT = ("lean-test", "lean-secret")


@pytest.fixture(scope="module")
def agent() -> Iterator[DevAgent]:
    with start_dev_agent(clients=[CLIENT]) as running:
        yield running


@pytest.fixture(autouse=True)
def _reset(agent: DevAgent) -> None:
    agent.reset()


def _sdk(endpoint: str, *, timeout: float = 5.0) -> axonflow.AxonFlow:
    return axonflow.AxonFlow(
        endpoint=endpoint,
        client_id=CLIENT[0],
        client_secret=CLIENT[1],
        timeout=timeout,
        retry_config=RetryConfig(enabled=False),
        cache_enabled=False,
    )


@pytest.fixture
async def pair(agent: DevAgent) -> AsyncIterator[tuple[axonflow.AxonFlow, axonflow.AxonFlow]]:
    """(stock SDK, SDK with the lean client), both on the agent."""
    stock, lean = _sdk(agent.url), _sdk(agent.url)
    assert install_lean_http_client(lean)
    assert isinstance(lean._http_client, LeanHttpClient)
    try:
        yield stock, lean
    finally:
        await stock.close()
        await lean.close()


def _wire(request: dict[str, Any]) -> dict[str, Any]:
    headers = {k.lower(): v for k, v in request["headers"].items()}
    return {
        "method": request["method"],
        "path": request["path"],
        "client": request["auth_client_id"],
        "body": request["body"],
        "content-type": headers.get("content-type"),
        "user-agent": headers.get("user-agent"),
        "x-client-id": headers.get("x-client-id"),
        "extra": headers.get("x-extra"),
    }


async def test_same_requests_and_answers_as_the_sdk_client(
    agent: DevAgent, pair: tuple[axonflow.AxonFlow, axonflow.AxonFlow]
) -> None:
    results = []
    for sdk in pair:
        check = await sdk.pre_check(user_token="u1", query="hello", context={"model": "m"})
        audit = await sdk.audit_llm_call(
            context_id=check.context_id,
            response_summary="hi",
            provider="openai",
            model="m",
            token_usage=axonflow.TokenUsage(prompt_tokens=1, completion_tokens=1, total_tokens=2),
            latency_ms=3,
        )
        masked = await sdk.mcp_check_input(
            "litellm", "SSN 123-45-6789", client_id=CLIENT[0], user_token="u1"
        )
        results.append((check.approved, bool(audit.audit_id), masked.redacted_statement))
    assert results[0] == results[1]
    assert results[1][:2] == (True, True)
    assert results[1][2] is not None
    assert "123-45-6789" not in results[1][2]
    sent = [_wire(r) for r in agent.requests()]
    assert len(sent) == 6
    for stock_sent, lean_sent in zip(sent[:3], sent[3:], strict=True):
        assert stock_sent["body"] is not None
        for key in ("method", "path", "client", "content-type", "user-agent", "x-client-id"):
            assert lean_sent[key] == stock_sent[key], key
        if stock_sent["path"] != "/api/audit/llm-call":  # the audit carries the context id
            assert lean_sent["body"] == stock_sent["body"]
    assert all(s["client"] == CLIENT[0] for s in sent)


async def test_per_call_headers_and_request_hooks_apply(
    agent: DevAgent, pair: tuple[axonflow.AxonFlow, axonflow.AxonFlow]
) -> None:
    _, lean = pair

    async def stamp(request: httpx.Request) -> None:
        request.headers["X-Extra"] = "from-hook"

    lean._http_client.event_hooks["request"].append(stamp)
    await lean.pre_check(user_token="u1", query="hello", extra_headers={"X-Other": "per-call"})
    [sent] = agent.requests()
    headers = {k.lower(): v for k, v in sent["headers"].items()}
    assert headers["x-extra"] == "from-hook"
    assert headers["x-other"] == "per-call"
    assert sent["auth_client_id"] == CLIENT[0]


@pytest.mark.parametrize("value", ["a\r\nX-Injected: 1", "a\nX-Injected: 1", "a\rb"])
async def test_a_line_break_in_a_header_is_never_sent_and_fails_closed(
    agent: DevAgent, pair: tuple[axonflow.AxonFlow, axonflow.AxonFlow], value: str
) -> None:
    """httpx keeps such a value as it is, and h11 refused it on the wire; the lean client
    refuses it before a byte is sent, as the guardrail's own failure (broken: fails closed)."""
    _, lean = pair
    with pytest.raises(ValueError, match="line break") as raised:
        await lean.pre_check(user_token="u1", query="hello", extra_headers={"X-Other": value})
    assert agent.requests() == []
    assert classify_failure(raised.value, answer_seen=False).kind is FailureKind.BROKEN


@pytest.mark.parametrize(
    ("fault", "kind", "unsent"),
    [
        ({"status": 503}, FailureKind.UNAVAILABLE, True),
        ({"status": 500}, FailureKind.UNAVAILABLE, False),
        ({"status": 401}, FailureKind.REJECTED, False),
        ({"status": 403}, FailureKind.REJECTED, False),
        ({"non_json": True}, FailureKind.UNAVAILABLE, False),
        ({"drop": True}, FailureKind.UNAVAILABLE, False),
    ],
)
async def test_failures_classify_as_with_the_sdk_client(
    agent: DevAgent,
    pair: tuple[axonflow.AxonFlow, axonflow.AxonFlow],
    fault: dict[str, Any],
    kind: FailureKind,
    unsent: bool,
) -> None:
    seen = []
    for sdk in pair:
        agent.set_fault("/api/policy/pre-check", times=1, **fault)
        try:
            await sdk.pre_check(user_token="u1", query="hello")
        except Exception as exc:  # whatever the SDK raises: compared between the two clients
            failure = classify_failure(exc)
            seen.append((type(exc), failure.kind, failure.unsent, failure.reason))
        else:
            pytest.fail(f"no error for fault {fault}")
    assert seen[0] == seen[1]
    assert seen[1][1:3] == (kind, unsent)


async def test_refused_connection_and_timeout_raise_what_httpx_raises(agent: DevAgent) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed_port = unused.getsockname()[1]
    refused = _sdk(f"http://127.0.0.1:{closed_port}")
    install_lean_http_client(refused)
    slow = _sdk(agent.url, timeout=0.2)
    install_lean_http_client(slow)
    agent.set_fault("/api/policy/pre-check", delay_s=2.0, times=1)
    try:
        with pytest.raises(sdk_errors.ConnectionError) as no_connection:
            await refused.pre_check(user_token="u1", query="hello")
        assert isinstance(no_connection.value.__cause__, httpx.ConnectError)
        assert classify_failure(no_connection.value).unsent
        with pytest.raises(sdk_errors.TimeoutError) as too_slow:
            await slow.pre_check(user_token="u1", query="hello")
        assert isinstance(too_slow.value.__cause__, httpx.TimeoutException)
        assert classify_failure(too_slow.value).reason == "AxonFlow did not answer in time"
    finally:
        await refused.close()
        await slow.close()


async def test_unhandled_arguments_go_to_the_sdk_client(
    agent: DevAgent, pair: tuple[axonflow.AxonFlow, axonflow.AxonFlow]
) -> None:
    _, lean = pair
    client = lean._http_client
    assert isinstance(client, LeanHttpClient)
    response = await client.get(f"{agent.url}/api/v1/hitl/queue", params={"status": "pending"})
    assert response.status_code == 200
    [sent] = agent.requests()
    assert sent["query"] == "status=pending"
    assert client.headers["X-Client-ID"] == CLIENT[0]  # attributes come from the SDK client


async def test_an_environment_proxy_keeps_httpx_in_charge(
    agent: DevAgent, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "")
    monkeypatch.setenv("no_proxy", "")
    proxied = _sdk(agent.url)
    install_lean_http_client(proxied)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    exempt = _sdk(agent.url)
    install_lean_http_client(exempt)
    try:
        assert not proxied._http_client._direct(f"{agent.url}/api/policy/pre-check")
        with pytest.raises(sdk_errors.ConnectionError):  # httpx went to the (dead) proxy
            await proxied.pre_check(user_token="u1", query="hello")
        assert agent.requests() == []
        assert exempt._http_client._direct(f"{agent.url}/api/policy/pre-check")
        assert (await exempt.pre_check(user_token="u1", query="hello")).approved
    finally:
        await proxied.close()
        await exempt.close()


def test_an_unexpected_sdk_shape_changes_nothing() -> None:
    class Other:
        _http_client = object()

    other = Other()
    before = other._http_client
    assert not install_lean_http_client(other)
    assert other._http_client is before
