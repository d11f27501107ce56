"""Bad input of every kind gets the platform's JSON error shape and status, never a 500.

Raw httpx here: the point is to send what the SDK never would.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.support.dev_agent import DevAgent

from .conftest import CLIENT_ID, CLIENT_SECRET

AUTH = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
POST_ROUTES = [
    "/api/policy/pre-check",
    "/api/audit/llm-call",
    "/api/v1/audit/tool-call",
    "/api/v1/mcp/check-input",
    "/api/v1/mcp/check-output",
    "/api/v1/hitl/queue",
]
ROW = f"/api/v1/hitl/queue/{uuid.uuid4()}"


@pytest.fixture
def http(agent: DevAgent) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=agent.url, headers={"Authorization": AUTH}, trust_env=False, timeout=10
    ) as client:
        yield client


def _error(response: httpx.Response, status: int, text: str | None = None) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["success"] is False
    assert isinstance(body["error"], str)
    assert body["error"]
    if text is not None:
        assert text in body["error"]
    return str(body["error"])


@pytest.mark.parametrize("route", [*POST_ROUTES, f"{ROW}/approve", f"{ROW}/override"])
@pytest.mark.parametrize("raw", [b"{not json", b"", b"[1, 2]", b"null", b'"text"', b"\xff\xfe"])
def test_malformed_or_non_object_bodies(http: httpx.Client, route: str, raw: bytes) -> None:
    response = http.post(route, content=raw, headers={"Content-Type": "application/json"})
    # Unknown rows are still 400 here: the body is checked before the row is looked up.
    _error(response, 400, "Invalid request body")


@pytest.mark.parametrize(
    ("route", "body", "text"),
    [
        ("/api/policy/pre-check", {"client_id": "acme"}, "query field is required"),
        ("/api/policy/pre-check", {"client_id": "acme", "query": "  "}, "query field is required"),
        ("/api/policy/pre-check", {"query": "hi"}, "client_id field is required"),
        ("/api/policy/pre-check", {"client_id": "acme", "query": 5}, "query must be a string"),
        (
            "/api/policy/pre-check",
            {"client_id": "acme", "query": "q", "context": []},
            "context must be an object",
        ),
        (
            "/api/policy/pre-check",
            {"client_id": "acme", "query": "q", "data_sources": [1]},
            "data_sources must be a list of strings",
        ),
        ("/api/audit/llm-call", {"provider": "p", "model": "m"}, "context_id field is required"),
        (
            "/api/audit/llm-call",
            {"context_id": "c", "provider": "p", "model": "m", "token_usage": "x"},
            "token_usage must be an object",
        ),
        (
            "/api/audit/llm-call",
            {"context_id": "c", "provider": "p", "model": "m", "latency_ms": -1},
            "latency_ms must be at least 0",
        ),
        ("/api/v1/audit/tool-call", {"tool_name": ""}, "tool_name field is required"),
        (
            "/api/v1/audit/tool-call",
            {"tool_name": "t", "success": "yes"},
            "success must be a boolean",
        ),
        ("/api/v1/mcp/check-input", {"statement": "s"}, "connector_type field is required"),
        ("/api/v1/mcp/check-input", {"connector_type": "c"}, "statement field is required"),
        (
            "/api/v1/mcp/check-output",
            {"connector_type": "c"},
            "message or response_data field is required",
        ),
        (
            "/api/v1/mcp/check-output",
            {"connector_type": "c", "response_data": [1]},
            "response_data must be a list of objects",
        ),
        (
            "/api/v1/mcp/check-output",
            {"connector_type": "c", "response_data": {"a": 1}},
            "response_data must be a list",
        ),
        ("/api/v1/hitl/queue", {"client_id": "acme"}, "original_query field is required"),
        (
            "/api/v1/hitl/queue",
            {
                "client_id": "a",
                "original_query": "q",
                "request_type": "t",
                "triggered_policy_id": "p",
                "triggered_policy_name": "n",
                "trigger_reason": "r",
                "expires_in_seconds": "soon",
            },
            "expires_in_seconds must be an integer",
        ),
    ],
)
def test_missing_or_mistyped_fields(http: httpx.Client, route: str, body: dict, text: str) -> None:
    _error(http.post(route, json=body), 400, text)


def test_deeply_nested_rows(http: httpx.Client) -> None:
    value: object = "123-45-6789"
    for _ in range(200):
        value = {"a": value}
    body = {"connector_type": "c", "response_data": [value]}
    _error(http.post("/api/v1/mcp/check-output", json=body), 400, "nested")


def test_review_needs_reviewer(http: httpx.Client) -> None:
    _error(http.post(f"{ROW}/approve", json={"comment": "x"}), 400, "reviewer_id field is required")
    _error(http.post(f"{ROW}/override", json={"justification": "j"}), 400)


def test_body_over_one_mib_is_413(http: httpx.Client, agent: DevAgent) -> None:
    big = b'{"query": "' + b"a" * (1024 * 1024) + b'", "client_id": "acme"}'
    _error(http.post("/api/policy/pre-check", content=big), 413, "too large")
    (entry,) = agent.requests(path="/api/policy/pre-check")
    assert entry["body"] is None
    assert entry["body_truncated"] is True
    # Just under the limit is fine.
    ok = b'{"query": "' + b"a" * (1024 * 1024 - 100) + b'", "client_id": "acme"}'
    assert http.post("/api/policy/pre-check", content=ok).status_code == 200


def test_unknown_route_and_method(http: httpx.Client) -> None:
    _error(http.get("/api/v1/nothing-here"), 404, "route not found")
    _error(http.post("/"), 404)
    response = http.get("/api/policy/pre-check")
    _error(response, 405, "method not allowed")
    assert "POST" in response.headers["Allow"]


@pytest.mark.parametrize("bad_id", ["123", "hitl-req-1", "not-a-uuid-at-all-0000000000000000"])
@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("GET", ""),
        ("POST", "/approve"),
        ("POST", "/reject"),
        ("POST", "/override"),
        ("GET", "/history"),
    ],
)
def test_non_uuid_ids(http: httpx.Client, bad_id: str, method: str, suffix: str) -> None:
    body = {"reviewer_id": "r", "justification": "j", "authorized_by_id": "a"}
    response = http.request(
        method, f"/api/v1/hitl/queue/{bad_id}{suffix}", json=body if method == "POST" else None
    )
    _error(response, 400, "must be a UUID")


@pytest.mark.parametrize(
    "query", ["status=nope", "severity=urgent", "limit=abc", "limit=0", "offset=-1"]
)
def test_bad_list_parameters(http: httpx.Client, query: str) -> None:
    _error(http.get(f"/api/v1/hitl/queue?{query}"), 400)


@pytest.mark.parametrize(
    "header",
    [
        "Bearer abc",
        "Basic !!!notbase64",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),
        "Basic",
    ],
)
def test_bad_authorization_headers(agent: DevAgent, header: str) -> None:
    with httpx.Client(base_url=agent.url, trust_env=False) as client:
        response = client.post(
            "/api/policy/pre-check",
            json={"client_id": "acme", "query": "hi"},
            headers={"Authorization": header},
        )
    _error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_no_authorization_header_is_401_with_clients(agent: DevAgent) -> None:
    with httpx.Client(base_url=agent.url, trust_env=False) as client:
        _error(client.post("/api/policy/pre-check", json={"client_id": "a", "query": "q"}), 401)
        assert client.get("/health").status_code == 200
        assert client.get("/api/v1/hitl/status").json()["enabled"] is True


def test_control_api_bad_input(agent: DevAgent) -> None:
    with httpx.Client(base_url=agent.url, trust_env=False) as client:
        _error(client.put("/__dev/policies", content=b"{bad"), 400, "Invalid request body")
        _error(client.put("/__dev/policies", json={"policies": [{"id": "x"}]}), 400, "action")
        _error(client.post("/__dev/clock", json={"advance_s": -5}), 400)
        _error(client.post("/__dev/clock", json={"advance_s": "1"}), 400)
        _error(client.get("/__dev/requests?limit=x"), 400)
        _error(client.get("/__dev/nothing"), 404)
        _error(client.delete("/__dev/reset"), 405)


def test_no_internal_errors_were_logged(agent: DevAgent) -> None:
    # Runs after the tests above in this module (same session agent).
    output = agent.output()
    assert "Traceback" not in output
    assert "internal error" not in output
    assert agent.running
