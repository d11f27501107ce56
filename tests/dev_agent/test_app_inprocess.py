"""The app built in-process (`build_app`): what cannot be provoked from outside."""

from __future__ import annotations

import logging

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from axonflow_guardrail.dev_agent import AgentConfig, build_app


async def test_unexpected_exception_is_a_json_500_with_a_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = build_app(AgentConfig(clients={"acme": "pw"}))

    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("bug")

    app.router.add_post("/api/v1/boom", boom)
    logger = logging.getLogger("axonflow_guardrail.dev_agent")
    logger.propagate = True
    try:
        async with TestClient(TestServer(app)) as client:
            response = await client.post(
                "/api/v1/boom",
                json={},
                headers={"Authorization": aiohttp.encode_basic_auth("acme", "pw")},
            )
            assert response.status == 500
            body = await response.json()
            assert body["success"] is False
            assert "internal error" in body["error"]
            # The agent keeps serving.
            health = await client.get("/health")
            assert health.status == 200
    finally:
        logger.propagate = False
    assert any("internal error route=POST /api/v1/boom" in r.message for r in caplog.records)


async def test_community_config_and_stats_in_process() -> None:
    app = build_app(AgentConfig(edition="community"))
    async with TestClient(TestServer(app)) as client:
        response = await client.post(
            "/api/policy/pre-check", json={"client_id": "c", "query": "wire transfer please"}
        )
        assert (await response.json())["verdict"] == "allow"
        stats = await (await client.get("/__dev/stats")).json()
        assert stats["routes"]["POST /api/policy/pre-check"]["count"] == 1
