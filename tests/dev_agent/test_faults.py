"""Injected faults, each seen through the SDK exactly as a misbehaving platform would be."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import httpx
import pydantic
import pytest
from axonflow import AxonFlow
from axonflow.exceptions import (
    AuthenticationError,
    AxonFlowError,
    BudgetExceededError,
    ConnectorError,
    PolicyViolationError,
)
from axonflow.exceptions import TimeoutError as AxonFlowTimeoutError
from axonflow.hitl import HITLReviewInput
from axonflow.types import TokenUsage

from tests.support.dev_agent import DevAgent, DevAgentControlError

PRE_CHECK = "/api/policy/pre-check"
USAGE = TokenUsage(prompt_tokens=1, completion_tokens=1, total_tokens=2)


async def test_status_503(sdk: AxonFlow, agent: DevAgent) -> None:
    agent.set_fault(PRE_CHECK, status=503, times=1)
    with pytest.raises(AxonFlowError, match=r"HTTP 503: .*circuit breaker"):
        await sdk.pre_check(user_token="u", query="hi")
    assert (await sdk.pre_check(user_token="u", query="hi")).approved is True
    assert agent.faults() == []


async def test_status_402_is_budget_exceeded(sdk: AxonFlow, agent: DevAgent) -> None:
    agent.set_fault(PRE_CHECK, status=402)
    with pytest.raises(BudgetExceededError) as caught:
        await sdk.pre_check(user_token="u", query="hi")
    assert caught.value.budget_id == "dev-agent-budget"
    assert caught.value.limit_usd == 100.0
    assert caught.value.action == "block"


async def test_status_403_is_policy_violation(sdk: AxonFlow, agent: DevAgent) -> None:
    agent.set_fault(PRE_CHECK, status=403)
    with pytest.raises(PolicyViolationError) as caught:
        await sdk.pre_check(user_token="u", query="hi")
    assert caught.value.block_reason == "Request blocked by policy (dev agent fault)"


async def test_status_401_is_authentication_error(sdk: AxonFlow, agent: DevAgent) -> None:
    agent.set_fault("/api/audit/llm-call", status=401)
    ctx = await sdk.pre_check(user_token="u", query="hi")
    with pytest.raises(AuthenticationError):
        await sdk.audit_llm_call(ctx.context_id, "s", "p", "m", USAGE, 1)


async def test_custom_body(sdk: AxonFlow, agent: DevAgent) -> None:
    agent.set_fault(PRE_CHECK, status=403, body={"block_reason": "custom reason"})
    with pytest.raises(PolicyViolationError, match="custom reason"):
        await sdk.pre_check(user_token="u", query="hi")


async def test_check_input_faults(sdk: AxonFlow, agent: DevAgent) -> None:
    agent.set_fault("/api/v1/mcp/check-input", status=403, times=1)
    result = await sdk.mcp_check_input("llm", "hello")
    assert result.allowed is False
    assert result.block_reason == "Request blocked by policy (dev agent fault)"
    agent.set_fault("/api/v1/mcp/check-input", status=500, times=1)
    with pytest.raises(ConnectorError, match="injected"):
        await sdk.mcp_check_input("llm", "hello")


async def test_non_json_200(sdk: AxonFlow, agent: DevAgent) -> None:
    agent.set_fault(PRE_CHECK, non_json=True)
    with pytest.raises(json.JSONDecodeError):
        await sdk.pre_check(user_token="u", query="hi")


async def test_non_json_with_status(sdk: AxonFlow, agent: DevAgent) -> None:
    agent.set_fault(PRE_CHECK, non_json=True, status=402)
    with pytest.raises(json.JSONDecodeError):
        await sdk.pre_check(user_token="u", query="hi")
    agent.set_fault(PRE_CHECK, non_json=True, status=502)
    with pytest.raises(AxonFlowError, match="HTTP 502: <html>"):
        await sdk.pre_check(user_token="u", query="hi")


async def test_malformed_json(sdk: AxonFlow, agent: DevAgent) -> None:
    agent.set_fault(PRE_CHECK, malformed=True)
    with pytest.raises(KeyError):
        await sdk.pre_check(user_token="u", query="hi")
    agent.set_fault("/api/v1/mcp/check-output", malformed=True)
    with pytest.raises(pydantic.ValidationError):
        await sdk.mcp_check_output("llm", message="hi")
    agent.set_fault("/api/audit/llm-call", malformed=True)
    with pytest.raises(KeyError):
        await sdk.audit_llm_call(str(uuid.uuid4()), "s", "p", "m", USAGE, 1)


async def test_drop(sdk: AxonFlow, agent: DevAgent) -> None:
    agent.set_fault(PRE_CHECK, drop=True, times=1)
    # The SDK only maps connect errors and timeouts; a dropped answer escapes as httpx's own.
    with pytest.raises(httpx.RemoteProtocolError):
        await sdk.pre_check(user_token="u", query="hi")
    assert (await sdk.pre_check(user_token="u", query="hi")).approved is True


async def test_delay_becomes_a_timeout(agent: DevAgent, make_sdk) -> None:
    client = make_sdk(agent, timeout=0.2)
    agent.set_fault(PRE_CHECK, delay_s=1.0, times=1)
    with pytest.raises(AxonFlowTimeoutError):
        await client.pre_check(user_token="u", query="hi")
    # The agent still finishes the abandoned request; wait for it, or it would land in the
    # statistics of a later test (the agent process is shared, reset between tests).
    deadline = time.monotonic() + 10
    while not agent.stats()["routes"].get(f"POST {PRE_CHECK}", {}).get("count"):
        assert time.monotonic() < deadline, "the delayed request never completed"
        await asyncio.sleep(0.02)


async def test_delay_then_normal_answer(sdk: AxonFlow, agent: DevAgent) -> None:
    agent.set_fault(PRE_CHECK, delay_s=0.05)
    assert (await sdk.pre_check(user_token="u", query="hi")).approved is True
    (fault,) = agent.faults()
    assert fault["hits"] == 1


async def test_times_and_several_routes(sdk: AxonFlow, agent: DevAgent) -> None:
    agent.set_fault(PRE_CHECK, status=503, times=2)
    agent.set_fault("/api/v1/mcp/check-input", status=500)
    for _ in range(2):
        with pytest.raises(AxonFlowError, match="HTTP 503"):
            await sdk.pre_check(user_token="u", query="hi")
    assert (await sdk.pre_check(user_token="u", query="hi")).approved is True
    with pytest.raises(ConnectorError):
        await sdk.mcp_check_input("llm", "hi")
    assert [f["route"] for f in agent.faults()] == ["/api/v1/mcp/check-input"]
    agent.clear_faults()
    assert (await sdk.mcp_check_input("llm", "hi")).allowed is True


async def test_prefix_fault_on_hitl_ids(sdk: AxonFlow, agent: DevAgent) -> None:
    agent.set_fault("/api/v1/hitl/queue/*", status=503)
    some_id = str(uuid.uuid4())
    with pytest.raises(AxonFlowError, match="HTTP 503"):
        await sdk.get_hitl_request(some_id)
    review = HITLReviewInput(reviewer_id="r", reviewer_email="r@example.com")
    with pytest.raises(AxonFlowError, match="HTTP 503"):
        await sdk.approve_hitl_request(some_id, review)
    # The exact queue route is not under the prefix.
    assert (await sdk.list_hitl_queue()).total == 0
    agent.set_fault("/api/v1/hitl/queue/*", malformed=True)
    with pytest.raises(pydantic.ValidationError):
        await sdk.get_hitl_request(some_id)


async def test_health_fault(sdk: AxonFlow, agent: DevAgent) -> None:
    agent.set_fault("/health", status=503)
    assert await sdk.health_check() is False


async def test_faults_are_counted_without_service_time(sdk: AxonFlow, agent: DevAgent) -> None:
    agent.set_fault(PRE_CHECK, status=503, times=1)
    with pytest.raises(AxonFlowError):
        await sdk.pre_check(user_token="u", query="hi")
    await sdk.pre_check(user_token="u", query="hi")
    route = agent.stats()["routes"][f"POST {PRE_CHECK}"]
    assert (route["count"], route["faulted"], route["samples"]) == (2, 1, 1)


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 503},
        {"route": "no-slash"},
        {"route": "/__dev/reset"},
        {"route": PRE_CHECK, "status": 99},
        {"route": PRE_CHECK, "delay_s": -1},
        {"route": PRE_CHECK, "times": 0},
        {"route": PRE_CHECK, "drop": "yes"},
        {"route": PRE_CHECK, "drop": True, "non_json": True},
        {"route": PRE_CHECK, "colour": "red"},
    ],
)
def test_invalid_faults_are_refused(agent: DevAgent, fault: dict) -> None:
    with pytest.raises(DevAgentControlError, match="400"):
        agent._control("PUT", "/__dev/faults", json=fault)
    assert agent.faults() == []
