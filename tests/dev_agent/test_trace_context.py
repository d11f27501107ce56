"""The dev agent continues an incoming W3C trace: the pre-check answers its trace id (a fresh
one without a valid traceparent), every AxonFlow route echoes the traceparent it received, and
the request log records it."""

from __future__ import annotations

import aiohttp
from aiohttp.test_utils import TestClient, TestServer

from axonflow_guardrail.dev_agent import AgentConfig, build_app

AUTH = {"Authorization": aiohttp.encode_basic_auth("acme", "pw")}
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE}-00f067aa0ba902b7-01"
BODY = {"client_id": "acme", "query": "hello"}


async def test_trace_id_echo_and_record() -> None:
    app = build_app(AgentConfig(clients={"acme": "pw"}))
    async with TestClient(TestServer(app)) as client:
        traced = await client.post(
            "/api/policy/pre-check", json=BODY, headers={**AUTH, "traceparent": TRACEPARENT}
        )
        assert (await traced.json())["trace_id"] == TRACE
        assert traced.headers["traceparent"] == TRACEPARENT

        fresh = await client.post("/api/policy/pre-check", json=BODY, headers=AUTH)
        fresh_id = (await fresh.json())["trace_id"]
        assert len(fresh_id) == 32
        assert fresh_id != TRACE
        assert "traceparent" not in fresh.headers

        bad = await client.post(
            "/api/policy/pre-check",
            json=BODY,
            headers={**AUTH, "traceparent": f"00-{'0' * 32}-00f067aa0ba902b7-01"},
        )
        assert (await bad.json())["trace_id"] != "0" * 32
        assert "traceparent" not in bad.headers

        audit = await client.post(
            "/api/v1/audit/tool-call",
            json={"tool_name": "t"},
            headers={**AUTH, "traceparent": TRACEPARENT},
        )
        assert audit.headers["traceparent"] == TRACEPARENT

        log = await (await client.get("/__dev/requests")).json()
        assert [entry["headers"].get("traceparent") for entry in log] == [
            TRACEPARENT,
            None,
            f"00-{'0' * 32}-00f067aa0ba902b7-01",
            TRACEPARENT,
        ]
