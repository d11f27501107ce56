"""MCP tool calls through LiteLLM's MCP gateway, governed by the guardrail in mode pre_mcp_call.

A real MCP server (`tests/support/mcp_tools_server.py`, streamable HTTP) sits behind the proxy's
`mcp_servers:` entry and logs every call it receives, so "the tool never ran" and "the tool got
the masked argument" are asserted on the tool's side. Calls go through the REST route
(`/mcp-rest/tools/call`) and through the MCP protocol route (`/mcp`) with the `mcp` client.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import eventually
from tests.support import litellm_release as release
from tests.support.dev_agent import DevAgent
from tests.support.mcp_tools_server import read_tool_calls
from tests.support.processes import BIN_DIR, ManagedProcess, free_port
from tests.support.proxy import MASTER_KEY, Proxy, guardrail, mock_model, start_proxy

pytestmark = pytest.mark.e2e

SERVER = "test_tools"
SQLI = "x' UNION SELECT password FROM accounts --"
SSN = "123-45-6789"
MASKED_SSN = "1*********9"


@pytest.fixture(scope="module")
def tool_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mcp-tools") / "calls.jsonl"


@pytest.fixture(autouse=True)
def _clean_tool_log(tool_log: Path) -> None:
    tool_log.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def mcp_server(tool_log: Path) -> Iterator[str]:
    port = free_port()
    argv = [str(BIN_DIR / "python"), "-m", "tests.support.mcp_tools_server"]
    argv += ["--port", str(port), "--log", str(tool_log)]
    with ManagedProcess("mcp-tools", argv) as process:
        process.wait_http_ok(f"http://127.0.0.1:{port}/health", timeout_s=60)
        yield f"http://127.0.0.1:{port}/mcp"


@pytest.fixture(scope="module")
def proxy(agent: DevAgent, mcp_server: str) -> Iterator[Proxy]:
    config = {
        "model_list": [mock_model("mock")],
        "mcp_servers": {SERVER: {"url": mcp_server, "transport": "http", "allow_all_keys": True}},
        "guardrails": [
            guardrail(
                "af-mcp",
                agent.url,
                mode=("pre_mcp_call",),
                default_on=True,
                breaker_failure_threshold=1000,
                audit_concurrency=1,
            )
        ],
    }
    with start_proxy(config) as running:
        yield running


def server_id(proxy: Proxy) -> str:
    """The id the REST route takes for SERVER: its name on newer LiteLLM; older releases
    (1.84) accept only the generated server id, listed by the management route."""
    if release.MCP_REST_TAKES_SERVER_NAME:
        return SERVER
    listed = httpx.get(
        f"{proxy.url}/v1/mcp/server", headers={"Authorization": f"Bearer {MASTER_KEY}"}, timeout=30
    )
    assert listed.status_code == 200, listed.text
    (entry,) = [s for s in listed.json() if SERVER in (s.get("server_name"), s.get("alias"))]
    return str(entry["server_id"])


def call_tool(proxy: Proxy, name: str, arguments: dict[str, Any]) -> httpx.Response:
    return proxy.post(
        "/mcp-rest/tools/call",
        {"server_id": server_id(proxy), "name": name, "arguments": arguments},
    )


def tool_audits(agent: DevAgent, arguments: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Tool-call audits, only those of calls with these (recorded) arguments if given."""
    audits = agent.audits(route="tool-call")
    return [a for a in audits if arguments is None or a["input"]["arguments"] == arguments]


@pytest.mark.compat_core
def test_allowed_tool_call_runs_is_checked_and_audited_once(
    proxy: Proxy, agent: DevAgent, tool_log: Path
) -> None:
    response = call_tool(proxy, "lookup", {"query": "customer 42"})
    assert response.status_code == 200, response.text
    assert response.json()["structuredContent"] == {"result": "results for: customer 42"}
    assert read_tool_calls(tool_log) == [{"tool": "lookup", "arguments": {"query": "customer 42"}}]

    # Older LiteLLM runs the hook twice per call (first before it resolves the server), and
    # older still never names the server to the hook (connector type `mcp`).
    named = SERVER if release.MCP_HOOK_NAMES_SERVER else "mcp"
    passes = 1 if release.MCP_TOOL_CALLS_CHECKED_ONCE else 2
    checks = agent.requests(path="/api/v1/mcp/check-input")
    connectors = [c["body"]["connector_type"] for c in checks]
    assert connectors == ["mcp"] * (passes - 1) + [named], [c["body"] for c in checks]
    check = checks[-1]
    assert check["body"]["tool"] == "lookup"
    assert check["body"]["statement"] == 'Tool: lookup\nArguments: {"query": "customer 42"}'

    # One audit worker delivers in order: once a later call's audit landed, a duplicate would.
    assert call_tool(proxy, "add", {"a": 1, "b": 2}).status_code == 200
    audits = eventually(
        lambda: any(a["tool_name"] == "add" for a in tool_audits(agent)) and tool_audits(agent)
    )
    lookups = [a for a in audits if a["tool_name"] == "lookup"]
    assert sorted(a["input"]["server"] for a in lookups) == sorted(
        ["mcp"] * (passes - 1) + [named]
    ), audits
    lookup = next(a for a in reversed(lookups) if a["input"]["server"] == named)
    assert lookup["success"] is True
    assert lookup["tool_type"] == "mcp"
    assert lookup["input"] == {"server": named, "arguments": {"query": "customer 42"}}


@pytest.mark.compat_core
def test_sql_injection_in_tool_arguments_is_refused_before_the_tool(
    proxy: Proxy, agent: DevAgent, tool_log: Path
) -> None:
    response = call_tool(proxy, "lookup", {"query": SQLI})
    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert detail["code"] == "policy_denied"
    assert detail["tool"] == "lookup"
    assert "UNION SELECT" in detail["error"]
    assert read_tool_calls(tool_log) == []
    (audit,) = eventually(lambda: tool_audits(agent, {"query": SQLI}))
    assert audit["success"] is False
    assert "UNION SELECT" in audit["error_message"]


def test_ssn_in_tool_arguments_reaches_the_tool_masked(
    proxy: Proxy, agent: DevAgent, tool_log: Path
) -> None:
    response = call_tool(proxy, "lookup", {"query": f"owner of SSN {SSN}"})
    assert response.status_code == 200, response.text
    assert read_tool_calls(tool_log) == [
        {"tool": "lookup", "arguments": {"query": f"owner of SSN {MASKED_SSN}"}}
    ]
    # The audit records the masked arguments, as the tool received them.
    (audit,) = eventually(lambda: tool_audits(agent, {"query": f"owner of SSN {MASKED_SSN}"}))
    assert audit["success"] is True


def test_a_number_that_must_be_masked_fails_closed(proxy: Proxy, tool_log: Path) -> None:
    """A masked number is no longer a number: the call is refused, not sent unmasked."""
    response = call_tool(proxy, "add", {"a": 123456789, "b": 1})
    assert response.status_code == 400, response.text
    assert response.json()["detail"]["code"] == "redaction_failed"
    assert read_tool_calls(tool_log) == []


async def test_the_mcp_protocol_route_is_governed_too(proxy: Proxy, tool_log: Path) -> None:
    # The mcp 2.x client; imported here so the module also collects with mcp 1.x (make compat).
    from mcp.client.client import Client
    from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client

    http = create_mcp_http_client(headers={"Authorization": f"Bearer {MASTER_KEY}"})
    async with Client(streamable_http_client(f"{proxy.url}/mcp", http_client=http)) as client:
        names = [tool.name for tool in (await client.list_tools()).tools]
        assert f"{SERVER}-lookup" in names
        allowed = await client.call_tool(f"{SERVER}-lookup", {"query": "customer 7"})
        blocked = await client.call_tool(f"{SERVER}-lookup", {"query": SQLI})
        masked = await client.call_tool(f"{SERVER}-lookup", {"query": f"SSN {SSN}"})
    assert allowed.is_error is False
    assert blocked.is_error is True
    assert "UNION SELECT" in blocked.content[0].text  # type: ignore[union-attr]
    assert masked.is_error is False
    assert read_tool_calls(tool_log) == [
        {"tool": "lookup", "arguments": {"query": "customer 7"}},
        {"tool": "lookup", "arguments": {"query": f"SSN {MASKED_SSN}"}},
    ]


def test_the_clients_trace_reaches_the_tool_check_and_its_audit(
    proxy: Proxy, agent: DevAgent
) -> None:
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    response = proxy.post(
        "/mcp-rest/tools/call",
        {"server_id": SERVER, "name": "lookup", "arguments": {"query": "traced"}},
        headers={"traceparent": traceparent},
    )
    assert response.status_code == 200, response.text
    (check,) = agent.requests(path="/api/v1/mcp/check-input")
    assert check["headers"].get("traceparent") == traceparent
    (audit,) = eventually(lambda: agent.requests(path="/api/v1/audit/tool-call"))
    assert audit["headers"].get("traceparent") == traceparent


def test_a_tool_call_that_ran_unchecked_is_still_audited(
    proxy: Proxy, agent: DevAgent, tool_log: Path
) -> None:
    """AxonFlow's check answered 503 and `fail_open` let the tool run: the durable outbox keeps
    an audit of the call, marked as unchecked, and delivers it (here at once: only the
    check route fails)."""
    agent.set_fault("/api/v1/mcp/check-input", status=503)
    try:
        arguments = {"query": "unchecked while AxonFlow failed"}
        response = call_tool(proxy, "lookup", arguments)
        assert response.status_code == 200, response.text
        assert read_tool_calls(tool_log) == [{"tool": "lookup", "arguments": arguments}]
        audits = eventually(lambda: tool_audits(agent, arguments))
    finally:
        agent.clear_faults()
    assert {a["input"].get("failed_open") for a in audits} == {"AxonFlow answered HTTP 503"}, audits
    assert all(a["success"] is True and a["tool_name"] == "lookup" for a in audits)
