"""Every AxonFlow route of the dev agent, driven through the official SDK.

The SDK parses each success with its own models and raises its documented exception for each
error; that is the contract the guardrail relies on, so these tests never hand-make HTTP for
what the SDK has a method for.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from axonflow import AxonFlow
from axonflow.exceptions import (
    AuthenticationError,
    AxonFlowError,
    ConnectorError,
    PolicyViolationError,
)
from axonflow.types import AuditToolCallRequest, TokenUsage

from tests.support.dev_agent import DevAgent

from .conftest import CLIENT_ID, CLIENT_SECRET, OTHER_ID, OTHER_SECRET

USAGE = TokenUsage(prompt_tokens=10, completion_tokens=5, total_tokens=15)


def _is_uuid(value: str | None) -> bool:
    try:
        return value is not None and str(uuid.UUID(value)) == value
    except ValueError:
        return False


# ---------------------------------------------------------------------- health


async def test_health_parses_and_says_it_is_an_emulator(sdk: AxonFlow, agent: DevAgent) -> None:
    health = await sdk.health_check_detailed()
    assert health.status == "healthy"
    assert health.service == "axonflow-agent"
    assert health.has_capability("policy_pre_check")
    assert health.has_capability("hitl_queue")
    assert health.sdk_compatibility is not None
    assert await sdk.health_check() is True
    raw = await sdk._request("GET", "/health")
    assert raw["edition"] == "enterprise"
    assert "not AxonFlow" in raw["emulator"]["notice"]


# ---------------------------------------------------------------------- pre-check


async def test_pre_check_allow(sdk: AxonFlow) -> None:
    result = await sdk.pre_check(user_token="user-1", query="What is the capital of France?")
    assert result.approved is True
    assert result.verdict == "allow"
    assert result.policies == []
    assert result.requires_redaction is False
    assert result.block_reason is None
    assert _is_uuid(result.context_id)
    assert _is_uuid(result.decision_id)
    ttl = result.expires_at - datetime.now(UTC)
    assert timedelta(minutes=4) < ttl <= timedelta(minutes=5, seconds=5)


async def test_pre_check_never_sends_null_approved_data(sdk: AxonFlow) -> None:
    raw = await sdk._request(
        "POST", "/api/policy/pre-check", json_data={"client_id": CLIENT_ID, "query": "hello"}
    )
    assert "approved_data" not in raw
    assert {"context_id", "approved", "expires_at", "decision_id", "verdict"} <= raw.keys()
    assert raw["policies"] is None  # the platform's nil slice; the SDK maps it to []


@pytest.mark.parametrize(
    ("query", "policy_id"),
    [
        ("SELECT name FROM users UNION SELECT password FROM admins", "sys_sqli_union_select"),
        ("SELECT * FROM users WHERE name = 'x' OR '1'='1'", "sys_sqli_or_true"),
        ("Robert'); DROP TABLE students;--", "sys_sqli_drop_table"),
    ],
)
async def test_pre_check_block(sdk: AxonFlow, query: str, policy_id: str) -> None:
    result = await sdk.pre_check(user_token="u", query=query)
    assert result.approved is False
    assert result.verdict == "deny"
    assert result.policies == [policy_id]
    assert result.block_reason is not None
    assert result.block_reason.startswith("SQL injection attempt detected")
    assert _is_uuid(result.context_id)
    assert _is_uuid(result.decision_id)


async def test_pre_check_redact_returns_no_masked_text(sdk: AxonFlow) -> None:
    query = "My SSN is 123-45-6789, please check it"
    raw = await sdk._request(
        "POST", "/api/policy/pre-check", json_data={"client_id": CLIENT_ID, "query": query}
    )
    assert "1*********9" not in json.dumps(raw)
    result = await sdk.pre_check(user_token="u", query=query)
    assert result.approved is True
    assert result.requires_redaction is True
    assert result.policies == ["sys_pii_ssn"]
    assert result.verdict == "allow"


@pytest.mark.parametrize(
    ("card", "redacted"),
    [("4111 1111 1111 1111", True), ("4111-1111-1111-1112", False), ("5500005555555559", True)],
)
async def test_pre_check_credit_card_needs_luhn(sdk: AxonFlow, card: str, redacted: bool) -> None:
    result = await sdk.pre_check(user_token="u", query=f"charge card {card} today")
    assert result.approved is True
    assert result.requires_redaction is redacted
    assert result.policies == (["sys_pii_credit_card"] if redacted else [])


async def test_pre_check_log_policy_is_recorded_but_allows(sdk: AxonFlow) -> None:
    result = await sdk.pre_check(user_token="u", query="mail jane.doe@example.com the report")
    assert result.approved is True
    assert result.requires_redaction is False
    assert result.policies == ["sys_pii_email"]


async def test_pre_check_require_approval(sdk: AxonFlow) -> None:
    result = await sdk.pre_check(user_token="u", query="Please make a wire transfer of $5,000")
    assert result.approved is False
    assert result.block_reason == "require_approval"
    assert result.policies == ["demo_wire_transfer_approval", "hitl_enterprise"]
    assert result.verdict == "needs_approval"
    assert _is_uuid(result.context_id)


async def test_require_approval_outranks_block(sdk: AxonFlow) -> None:
    result = await sdk.pre_check(user_token="u", query="wire transfer; x UNION SELECT secrets")
    assert result.verdict == "needs_approval"


def _policy(policy_id: str, action: str, priority: int, pattern: str = "(?i)trigger") -> dict:
    return {
        "id": policy_id,
        "description": f"{policy_id} matched",
        "pattern": pattern,
        "action": action,
        "priority": priority,
    }


async def test_first_block_ends_evaluation(sdk: AxonFlow, agent: DevAgent) -> None:
    agent.set_policies([_policy("b", "block", 10), _policy("a", "require_approval", 5)])
    result = await sdk.pre_check(user_token="u", query="trigger")
    assert result.verdict == "deny"
    assert result.policies == ["b"]
    assert result.block_reason == "b matched"

    agent.set_policies([_policy("b", "block", 5), _policy("a", "require_approval", 10)])
    result = await sdk.pre_check(user_token="u", query="trigger")
    assert result.verdict == "needs_approval"
    assert result.policies == ["a", "hitl_enterprise"]


async def test_block_outranks_redact_and_warn_allows(sdk: AxonFlow, agent: DevAgent) -> None:
    agent.set_policies([_policy("r", "redact", 10), _policy("b", "block", 5)])
    assert (await sdk.pre_check(user_token="u", query="trigger")).verdict == "deny"

    agent.set_policies([_policy("w", "warn", 10), _policy("l", "log", 5)])
    result = await sdk.pre_check(user_token="u", query="trigger")
    assert result.approved is True
    assert result.policies == ["w", "l"]


async def test_pre_check_missing_query_is_400(sdk: AxonFlow) -> None:
    with pytest.raises(AxonFlowError, match=r"HTTP 400: .*query field is required"):
        await sdk.pre_check(user_token="u", query="")


async def test_pre_check_records_what_the_sdk_sent(sdk: AxonFlow, agent: DevAgent) -> None:
    await sdk.pre_check(user_token="user-42", query="hi", context={"k": "v"})
    (entry,) = agent.requests(path="/api/policy/pre-check")
    assert entry["method"] == "POST"
    assert entry["body"] == {
        "user_token": "user-42",
        "client_id": CLIENT_ID,
        "query": "hi",
        "data_sources": [],
        "context": {"k": "v"},
    }
    headers = {k.lower(): v for k, v in entry["headers"].items()}
    assert headers["authorization"] == "<redacted>"
    assert headers["x-client-id"] == CLIENT_ID
    assert entry["auth_client_id"] == CLIENT_ID


# ---------------------------------------------------------------------- audits


async def test_audit_llm_call(sdk: AxonFlow, agent: DevAgent) -> None:
    ctx = await sdk.pre_check(user_token="u", query="hello")
    result = await sdk.audit_llm_call(
        context_id=ctx.context_id,
        response_summary="said hello",
        provider="openai",
        model="gpt-4o",
        token_usage=USAGE,
        latency_ms=120,
        metadata={"litellm_call_id": "call-1"},
    )
    assert result.success is True
    assert _is_uuid(result.audit_id)
    (record,) = agent.audits()
    assert record["audit_id"] == result.audit_id
    assert record["route"] == "llm-call"
    assert record["context_id"] == ctx.context_id
    assert record["model"] == "gpt-4o"
    assert record["token_usage"] == {
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "total_tokens": 15,
    }
    assert record["metadata"] == {"litellm_call_id": "call-1"}


async def test_audit_replay_creates_a_second_row(sdk: AxonFlow, agent: DevAgent) -> None:
    ctx = await sdk.pre_check(user_token="u", query="hello")
    for _ in range(2):
        await sdk.audit_llm_call(ctx.context_id, "s", "openai", "gpt-4o", USAGE, 1)
    assert len(agent.audits(route="llm-call")) == 2


async def test_audit_unknown_context_is_400(sdk: AxonFlow) -> None:
    with pytest.raises(AxonFlowError, match=r"HTTP 400: .*Invalid or expired context"):
        await sdk.audit_llm_call(str(uuid.uuid4()), "s", "openai", "gpt-4o", USAGE, 1)


async def test_audit_expired_context_is_400(sdk: AxonFlow, agent: DevAgent) -> None:
    ctx = await sdk.pre_check(user_token="u", query="hello")
    agent.advance_clock(299)
    await sdk.audit_llm_call(ctx.context_id, "s", "openai", "gpt-4o", USAGE, 1)
    agent.advance_clock(2)
    with pytest.raises(AxonFlowError, match=r"HTTP 400: .*Invalid or expired context"):
        await sdk.audit_llm_call(ctx.context_id, "s", "openai", "gpt-4o", USAGE, 1)


async def test_audit_of_another_clients_context_is_400(
    sdk: AxonFlow, agent: DevAgent, make_sdk
) -> None:
    ctx = await sdk.pre_check(user_token="u", query="hello")
    other = make_sdk(agent, OTHER_ID, OTHER_SECRET)
    with pytest.raises(AxonFlowError, match="Invalid or expired context"):
        await other.audit_llm_call(ctx.context_id, "s", "openai", "gpt-4o", USAGE, 1)


async def test_audit_body_client_mismatch_is_403(sdk: AxonFlow) -> None:
    ctx = await sdk.pre_check(user_token="u", query="hello")
    body = {"context_id": ctx.context_id, "client_id": OTHER_ID, "provider": "p", "model": "m"}
    with pytest.raises(PolicyViolationError, match="client_id does not match"):
        await sdk._request("POST", "/api/audit/llm-call", json_data=body)


@pytest.mark.parametrize("missing", ["context_id", "provider", "model"])
async def test_audit_missing_field_is_400(sdk: AxonFlow, missing: str) -> None:
    ctx = await sdk.pre_check(user_token="u", query="hello")
    body = {"context_id": ctx.context_id, "client_id": CLIENT_ID, "provider": "p", "model": "m"}
    del body[missing]
    with pytest.raises(AxonFlowError, match=f"HTTP 400: .*{missing} field is required"):
        await sdk._request("POST", "/api/audit/llm-call", json_data=body)


async def test_audit_tool_call(sdk: AxonFlow, agent: DevAgent) -> None:
    result = await sdk.audit_tool_call(
        AuditToolCallRequest(
            tool_name="get_weather",
            caller_name="litellm",
            input={"city": "Paris"},
            output={"temp": 21},
            duration_ms=45,
            success=True,
        )
    )
    assert _is_uuid(result.audit_id)
    assert result.status == "recorded"
    assert datetime.fromisoformat(result.timestamp.replace("Z", "+00:00"))
    (record,) = agent.audits(route="tool-call")
    assert record["tool_name"] == "get_weather"
    assert record["input"] == {"city": "Paris"}
    assert record["audit_id"] == result.audit_id


# ---------------------------------------------------------------------- check-input


async def test_check_input_clean(sdk: AxonFlow) -> None:
    result = await sdk.mcp_check_input("llm", "Tell me a joke", content_type="text/plain")
    assert result.allowed is True
    assert result.redaction_evaluated is True
    assert result.redacted is False
    assert result.redacted_statement is None
    assert result.risk_level == "low"
    assert _is_uuid(result.decision_id)


async def test_check_input_masks_ssn(sdk: AxonFlow) -> None:
    result = await sdk.mcp_check_input("llm", "My SSN is 123-45-6789", content_type="text/plain")
    assert result.allowed is True
    assert result.redacted is True
    assert result.redaction_evaluated is True
    assert result.redacted_statement == "My SSN is 1*********9"
    assert result.risk_level == "high"
    assert result.policy_matches is not None
    assert [m.policy_id for m in result.policy_matches] == ["sys_pii_ssn"]


async def test_check_input_mask_formats_are_per_policy(sdk: AxonFlow, agent: DevAgent) -> None:
    agent.set_policies(
        [
            {"id": "p", "pattern": r"\bpartial-\d+\b", "action": "redact", "mask": "partial"},
            {
                "id": "r",
                "pattern": r"\bremove-\d+\b",
                "action": "redact",
                "mask": "remove",
                "pii_type": "ticket",
            },
            {"id": "h", "pattern": r"\bhash-\d+\b", "action": "redact", "mask": "hash"},
        ]
    )
    result = await sdk.mcp_check_input("llm", "partial-123456 remove-1 hash-9")
    assert result.redacted_statement is not None
    words = result.redacted_statement.split()
    assert words[0] == "pa**********56"
    assert words[1] == "[REDACTED:ticket]"
    assert words[2].startswith("HASH_")
    assert len(words[2]) == 13


async def test_check_input_block_is_a_normal_return(sdk: AxonFlow) -> None:
    result = await sdk.mcp_check_input("postgres", "SELECT a FROM t UNION SELECT b FROM u")
    assert result.allowed is False
    assert result.block_reason == "SQL injection attempt detected: UNION SELECT"
    assert result.risk_level == "critical"
    assert result.policy_matches is not None
    assert result.policy_matches[0].policy_id == "sys_sqli_union_select"
    assert result.policy_matches[0].allow_override is False
    assert _is_uuid(result.decision_id)


async def test_check_input_ignores_output_only_policies(sdk: AxonFlow) -> None:
    result = await sdk.mcp_check_input("llm", "-----BEGIN PRIVATE KEY----- abc")
    assert result.allowed is True


async def test_check_input_unknown_content_type_is_415(sdk: AxonFlow) -> None:
    with pytest.raises(ConnectorError, match="unsupported content_type"):
        await sdk.mcp_check_input("llm", "hello", content_type="image/png")


async def test_check_input_empty_statement_is_400(sdk: AxonFlow) -> None:
    with pytest.raises(ConnectorError, match="statement field is required"):
        await sdk.mcp_check_input("llm", "")


# ---------------------------------------------------------------------- check-output


async def test_check_output_clean(sdk: AxonFlow) -> None:
    result = await sdk.mcp_check_output("llm", message="The weather is fine.")
    assert result.allowed is True
    assert result.redacted_data is None
    assert result.redaction_evaluated is True


async def test_check_output_masks_message(sdk: AxonFlow) -> None:
    result = await sdk.mcp_check_output("llm", message="Your SSN is 123-45-6789.")
    assert result.allowed is True
    assert result.redacted_data == "Your SSN is 1*********9."
    assert result.redacted_message == "Your SSN is 1*********9."
    assert result.redaction_evaluated is True


async def test_check_output_masks_rows(sdk: AxonFlow) -> None:
    rows = [{"name": "Ann", "ssn": "123-45-6789", "n": 1}, {"name": "Bob", "ssn": None}]
    result = await sdk.mcp_check_output("postgres", response_data=rows, row_count=2)
    assert result.allowed is True
    assert result.redacted_data == [
        {"name": "Ann", "ssn": "1*********9", "n": 1},
        {"name": "Bob", "ssn": None},
    ]


async def test_check_output_block(sdk: AxonFlow) -> None:
    key = "-----BEGIN PRIVATE KEY-----\nMIIEv...\n-----END PRIVATE KEY-----"
    result = await sdk.mcp_check_output("llm", message=f"Here it is: {key}")
    assert result.allowed is False
    assert result.block_reason == "Response blocked: A private key must not leave the system"
    assert _is_uuid(result.decision_id)
    assert result.policy_matches is not None
    assert result.policy_matches[0].policy_id == "demo_output_private_key"


async def test_check_output_without_content_is_400(sdk: AxonFlow) -> None:
    with pytest.raises(ConnectorError, match="message or response_data field is required"):
        await sdk.mcp_check_output("llm")


# ---------------------------------------------------------------------- credentials


async def test_wrong_secret_is_401_everywhere(agent: DevAgent, make_sdk) -> None:
    bad = make_sdk(agent, CLIENT_ID, "wrong-secret")
    with pytest.raises(AuthenticationError):
        await bad.pre_check(user_token="u", query="hi")
    with pytest.raises(AuthenticationError):
        await bad.audit_llm_call(str(uuid.uuid4()), "s", "p", "m", USAGE, 1)
    with pytest.raises(ConnectorError):
        await bad.mcp_check_input("llm", "hi")
    with pytest.raises(ConnectorError):
        await bad.mcp_check_output("llm", message="hi")
    assert await bad.health_check() is True  # /health needs no auth
    assert (await bad._request("GET", "/api/v1/hitl/status"))["enabled"] is True


async def test_unknown_client_and_no_credentials_are_401(agent: DevAgent, make_sdk) -> None:
    with pytest.raises(AuthenticationError):
        await make_sdk(agent, "nobody", "x").pre_check(user_token="u", query="hi")
    with pytest.raises(AuthenticationError):
        await make_sdk(agent, anonymous=True).pre_check(user_token="u", query="hi")


async def test_second_configured_client_works(agent: DevAgent, make_sdk) -> None:
    other = make_sdk(agent, OTHER_ID, OTHER_SECRET)
    assert (await other.pre_check(user_token="u", query="hi")).approved is True


async def test_community_style_accepts_any_client(community_agent: DevAgent, make_sdk) -> None:
    for args in [("any-client", "any-secret"), ("x", None), ()]:
        client = make_sdk(community_agent, *args)
        ctx = await client.pre_check(user_token="u", query="hi")
        audit = await client.audit_llm_call(ctx.context_id, "s", "p", "m", USAGE, 1)
        assert audit.success is True
    ids = [r["auth_client_id"] for r in community_agent.requests(path="/api/policy/pre-check")]
    assert ids == ["any-client", "x", "community"]


async def test_user_token_enforcement(special_agent: DevAgent, make_sdk) -> None:
    client = make_sdk(special_agent, CLIENT_ID, CLIENT_SECRET)
    for token in ["", "anonymous"]:
        with pytest.raises(AuthenticationError):
            await client.pre_check(user_token=token, query="hi")
    assert (await client.pre_check(user_token="jwt-abc", query="hi")).approved is True


async def test_secrets_and_tokens_never_reach_the_log(sdk: AxonFlow, agent: DevAgent) -> None:
    await sdk.pre_check(user_token="user-token-XYZZY", query="prompt-text-PLUGH")
    await sdk.mcp_check_input("llm", "statement-text-PLUGH")
    output = agent.output()
    assert "decision route=POST /api/policy/pre-check" in output
    encoded = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    for secret in [CLIENT_SECRET, OTHER_SECRET, "user-token-XYZZY", "PLUGH", encoded]:
        assert secret not in output
    dumped = json.dumps(agent.requests())
    assert CLIENT_SECRET not in dumped
