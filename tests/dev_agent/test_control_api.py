"""The `/__dev/` control API: what tests see and change."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from axonflow import AxonFlow
from axonflow.exceptions import AxonFlowError
from axonflow.types import TokenUsage

from tests.support.dev_agent import DevAgent, DevAgentControlError

from .conftest import CLIENT_SECRET

USAGE = TokenUsage(prompt_tokens=1, completion_tokens=1, total_tokens=2)


async def test_requests_are_recorded_with_auth_redacted(sdk: AxonFlow, agent: DevAgent) -> None:
    await sdk.pre_check(user_token="u", query="one")
    await sdk.mcp_check_input("llm", "two")
    agent.stats()  # control calls are not recorded
    entries = agent.requests()
    assert [(e["method"], e["path"]) for e in entries] == [
        ("POST", "/api/policy/pre-check"),
        ("POST", "/api/v1/mcp/check-input"),
    ]
    assert entries[0]["seq"] < entries[1]["seq"]
    assert entries[1]["body"]["statement"] == "two"
    for entry in entries:
        headers = {k.lower(): v for k, v in entry["headers"].items()}
        assert headers["authorization"] == "<redacted>"
    assert CLIENT_SECRET not in json.dumps(entries)
    assert agent.requests(limit=1) == entries[-1:]
    assert agent.requests(path="/api/v1/mcp/check-input") == entries[-1:]


def test_non_json_bodies_are_recorded_as_text(agent: DevAgent) -> None:
    with httpx.Client(base_url=agent.url, trust_env=False) as client:
        client.post("/api/policy/pre-check", content=b"query=hi")
        client.get("/unknown/route?x=1")
    first, second = agent.requests()
    assert first["body"] is None
    assert first["body_text"] == "query=hi"
    assert (second["path"], second["query"]) == ("/unknown/route", "x=1")


async def test_policies_replace_and_reset(sdk: AxonFlow, agent: DevAgent) -> None:
    default_ids = [p["id"] for p in agent.policies()]
    agent.set_policies(
        [{"id": "no_cats", "description": "No cats", "pattern": "(?i)cat", "action": "block"}]
    )
    assert [p["id"] for p in agent.policies()] == ["no_cats"]
    assert (await sdk.pre_check(user_token="u", query="a cat")).block_reason == "No cats"
    assert (await sdk.pre_check(user_token="u", query="UNION SELECT")).approved is True
    agent.reset()
    assert [p["id"] for p in agent.policies()] == default_ids


def test_invalid_policies_are_refused_with_the_reason(agent: DevAgent) -> None:
    with pytest.raises(DevAgentControlError, match="not a valid regex"):
        agent.set_policies([{"id": "x", "pattern": "(", "action": "block"}])
    assert len(agent.policies()) >= 8


async def test_reset_clears_everything(sdk: AxonFlow, agent: DevAgent) -> None:
    from axonflow.hitl import HITLCreateInput

    ctx = await sdk.pre_check(user_token="u", query="hi")
    await sdk.audit_llm_call(ctx.context_id, "s", "p", "m", USAGE, 1)
    row = await sdk.create_hitl_request(
        HITLCreateInput(
            client_id="acme",
            original_query="q",
            request_type="t",
            triggered_policy_id="p",
            triggered_policy_name="n",
            trigger_reason="r",
        )
    )
    agent.set_fault("/api/v1/mcp/check-input", status=500)
    agent.advance_clock(10)

    agent.reset()

    assert agent.requests() == []
    assert agent.audits() == []
    assert agent.faults() == []
    assert agent.stats()["routes"] == {}
    assert agent._control("GET", "/__dev/clock")["offset_s"] == 0
    with pytest.raises(AxonFlowError, match="Invalid or expired context"):
        await sdk.audit_llm_call(ctx.context_id, "s", "p", "m", USAGE, 1)
    with pytest.raises(AxonFlowError, match="HTTP 404"):
        await sdk.get_hitl_request(row.request_id)
    assert (await sdk.mcp_check_input("llm", "hi")).allowed is True


def test_clock(agent: DevAgent) -> None:
    agent.advance_clock(301)
    agent.advance_clock(0.5)
    assert agent._control("GET", "/__dev/clock")["offset_s"] == 301.5


async def test_stats(sdk: AxonFlow, agent: DevAgent) -> None:
    for _ in range(5):
        await sdk.pre_check(user_token="u", query="hi")
    with pytest.raises(AxonFlowError):
        await sdk.get_hitl_request(str(uuid.uuid4()))
    routes = agent.stats()["routes"]
    pre = routes["POST /api/policy/pre-check"]
    assert pre["count"] == 5
    assert pre["samples"] == 5
    assert pre["faulted"] == 0
    assert 0 < pre["p50_us"] <= pre["p95_us"] <= pre["p99_us"] <= pre["max_us"]
    # Routes with ids are grouped by their template.
    assert routes["GET /api/v1/hitl/queue/{request_id}"]["count"] == 1
    agent.clear_stats()
    assert agent.stats()["routes"] == {}


def test_request_log_is_bounded() -> None:
    from axonflow_guardrail.dev_agent._state import RequestLog

    log = RequestLog(max_entries=3)
    for index in range(5):
        log.record(
            method="GET",
            path=f"/p{index}",
            query="",
            headers={"Authorization": "Basic c2VjcmV0", "Proxy-Authorization": "x"},
            raw_size=0,
            body=None,
            raw=b"",
            auth_client_id=None,
            now=0.0,
        )
    entries = log.entries()
    assert [e["path"] for e in entries] == ["/p2", "/p3", "/p4"]
    assert entries[0]["headers"] == {
        "Authorization": "<redacted>",
        "Proxy-Authorization": "<redacted>",
    }
