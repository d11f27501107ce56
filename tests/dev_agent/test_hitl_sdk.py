"""The approval queue through the official SDK: reviewer flows, expiry, caps, editions.

Routes the SDK has no method for (override, history, expire, status) go through the SDK's own
transport, `client._request`, so they still see the SDK's error mapping. Expiry is always
reached by moving the agent's clock, never by sleeping.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest
from axonflow import AxonFlow
from axonflow.exceptions import AxonFlowError, PolicyViolationError
from axonflow.hitl import (
    HITLApprovalRequest,
    HITLCreateInput,
    HITLQueueListOptions,
    HITLReviewInput,
)

from tests.support.dev_agent import DevAgent

from .conftest import CLIENT_ID, CLIENT_SECRET, OTHER_ID, OTHER_SECRET, SPECIAL_PENDING_CAP

REVIEW = HITLReviewInput(reviewer_id="rev-1", reviewer_email="rev@example.com", comment="ok")
QUEUE = "/api/v1/hitl/queue"


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _create_input(**overrides: object) -> HITLCreateInput:
    fields: dict[str, object] = {
        "client_id": CLIENT_ID,
        "original_query": "Please make a wire transfer of $5,000",
        "request_type": "llm_chat",
        "triggered_policy_id": "demo_wire_transfer_approval",
        "triggered_policy_name": "Wire transfer needs approval (demo)",
        "trigger_reason": "require_approval",
        "severity": "high",
    }
    fields.update(overrides)
    return HITLCreateInput(**fields)  # type: ignore[arg-type]


async def _gate(sdk: AxonFlow) -> HITLApprovalRequest:
    """What the guardrail does: pre-check says require_approval, so enqueue a row."""
    result = await sdk.pre_check(user_token="u", query="Please make a wire transfer of $5,000")
    assert result.approved is False
    assert result.block_reason == "require_approval"
    assert result.verdict == "needs_approval"
    policy_id = result.policies[0] if result.policies else ""
    row = await sdk.create_hitl_request(
        _create_input(triggered_policy_id=policy_id, request_context={"ctx": result.context_id})
    )
    assert row.status == "pending"
    assert row.triggered_policy_id == "demo_wire_transfer_approval"
    assert row.request_context == {"ctx": result.context_id}
    return row


async def test_approve_flow(sdk: AxonFlow) -> None:
    row = await _gate(sdk)
    assert str(uuid.UUID(row.request_id)) == row.request_id
    assert row.client_id == CLIENT_ID
    assert row.tenant_id
    assert row.org_id
    pending = await sdk.list_hitl_queue(HITLQueueListOptions(status="pending"))
    assert [item.request_id for item in pending.items] == [row.request_id]
    assert (await sdk.get_hitl_stats()).total_pending == 1

    await sdk.approve_hitl_request(row.request_id, REVIEW)

    after = await sdk.get_hitl_request(row.request_id)
    assert after.status == "approved"
    assert after.reviewer_id == "rev-1"
    assert after.reviewer_email == "rev@example.com"
    assert after.review_comment == "ok"
    assert after.reviewed_at is not None
    assert (await sdk.get_hitl_stats()).total_pending == 0


async def test_reject_flow(sdk: AxonFlow) -> None:
    row = await _gate(sdk)
    await sdk.reject_hitl_request(row.request_id, REVIEW)
    assert (await sdk.get_hitl_request(row.request_id)).status == "rejected"
    rejected = await sdk.list_hitl_queue(HITLQueueListOptions(status="rejected"))
    assert [item.request_id for item in rejected.items] == [row.request_id]


async def test_override_flow(sdk: AxonFlow) -> None:
    row = await _gate(sdk)
    answer = await sdk._request(
        "POST",
        f"{QUEUE}/{row.request_id}/override",
        json_data={
            "justification": "CFO authorised by phone",
            "authorized_by_id": "cfo-1",
            "authorized_by_email": "cfo@example.com",
        },
    )
    assert answer == {
        "success": True,
        "data": {"request_id": row.request_id, "status": "overridden"},
    }
    after = await sdk.get_hitl_request(row.request_id)
    assert after.status == "overridden"
    assert after.reviewer_id == "cfo-1"
    assert after.review_comment == "CFO authorised by phone"


async def test_expiry_flow(sdk: AxonFlow, agent: DevAgent) -> None:
    row = await sdk.create_hitl_request(_create_input(expires_in_seconds=60))
    assert (_ts(row.expires_at) - _ts(row.created_at)).total_seconds() == 60
    agent.advance_clock(61)
    assert (await sdk.get_hitl_request(row.request_id)).status == "expired"
    with pytest.raises(AxonFlowError, match=r"HTTP 409: .*request has expired"):
        await sdk.approve_hitl_request(row.request_id, REVIEW)
    history = await sdk._request("GET", f"{QUEUE}/{row.request_id}/history")
    assert [event["action"] for event in history["data"]] == ["created", "expired"]


async def test_review_past_expiry_is_409_even_unread(sdk: AxonFlow, agent: DevAgent) -> None:
    row = await sdk.create_hitl_request(_create_input(expires_in_seconds=10))
    agent.advance_clock(11)
    with pytest.raises(AxonFlowError, match=r"HTTP 409: .*request has expired"):
        await sdk.reject_hitl_request(row.request_id, REVIEW)
    with pytest.raises(AxonFlowError, match=r"HTTP 409: .*request has expired"):
        await sdk._request(
            "POST",
            f"{QUEUE}/{row.request_id}/override",
            json_data={"justification": "j", "authorized_by_id": "a"},
        )


async def test_default_expiry_is_24h(sdk: AxonFlow, agent: DevAgent) -> None:
    row = await sdk.create_hitl_request(_create_input())
    assert (_ts(row.expires_at) - _ts(row.created_at)).total_seconds() == 24 * 3600
    agent.advance_clock(24 * 3600 - 5)
    assert (await sdk.get_hitl_request(row.request_id)).status == "pending"
    agent.advance_clock(10)
    assert (await sdk.get_hitl_request(row.request_id)).status == "expired"


async def test_expire_route(sdk: AxonFlow, agent: DevAgent) -> None:
    rows = [await sdk.create_hitl_request(_create_input(expires_in_seconds=30)) for _ in range(2)]
    keep = await sdk.create_hitl_request(_create_input(expires_in_seconds=3600))
    agent.advance_clock(31)
    answer = await sdk._request("POST", "/api/v1/hitl/expire")
    assert answer["expired_count"] == 2
    assert (await sdk._request("POST", "/api/v1/hitl/expire"))["expired_count"] == 0
    for row in rows:
        assert (await sdk.get_hitl_request(row.request_id)).status == "expired"
    assert (await sdk.get_hitl_request(keep.request_id)).status == "pending"


@pytest.mark.parametrize("first", ["approve", "reject", "override"])
async def test_second_decision_is_409(sdk: AxonFlow, first: str) -> None:
    row = await sdk.create_hitl_request(_create_input())

    async def decide(action: str) -> None:
        if action == "approve":
            await sdk.approve_hitl_request(row.request_id, REVIEW)
        elif action == "reject":
            await sdk.reject_hitl_request(row.request_id, REVIEW)
        else:
            await sdk._request(
                "POST",
                f"{QUEUE}/{row.request_id}/override",
                json_data={"justification": "j", "authorized_by_id": "a"},
            )

    await decide(first)
    for action in ["approve", "reject", "override"]:
        with pytest.raises(AxonFlowError, match=r"HTTP 409: .*not pending"):
            await decide(action)


@pytest.mark.parametrize(
    "missing", ["triggered_policy_id", "triggered_policy_name", "trigger_reason"]
)
async def test_server_side_required_fields(sdk: AxonFlow, missing: str) -> None:
    # The SDK's model marks these optional; the platform's handler does not.
    with pytest.raises(AxonFlowError, match=f"HTTP 400: .*{missing} field is required"):
        await sdk.create_hitl_request(_create_input(**{missing: None}))


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"severity": "urgent"}, "severity must be one of"),
        ({"expires_in_seconds": 168 * 3600 + 1}, "expires_in_seconds must be at most"),
        ({"notify_url": "ftp://example.com/hook"}, "notify_url must be"),
    ],
)
async def test_create_validation(sdk: AxonFlow, overrides: dict, error: str) -> None:
    with pytest.raises(AxonFlowError, match=f"HTTP 400: .*{error}"):
        await sdk.create_hitl_request(_create_input(**overrides))


async def test_max_expiry_and_default_severity(sdk: AxonFlow) -> None:
    row = await sdk.create_hitl_request(_create_input(expires_in_seconds=168 * 3600, severity=None))
    assert row.severity == "high"
    assert (_ts(row.expires_at) - _ts(row.created_at)).total_seconds() == 168 * 3600


async def test_idempotency_key(sdk: AxonFlow, agent: DevAgent, make_sdk) -> None:
    body = _create_input().model_dump(exclude_none=True)

    async def create(client: AxonFlow, key: str | None) -> str:
        headers = {"Idempotency-Key": key} if key else None
        answer = await client._request("POST", QUEUE, json_data=body, extra_headers=headers)
        return str(answer["data"]["request_id"])

    first = await create(sdk, "key-1")
    assert await create(sdk, "key-1") == first
    assert await create(sdk, "key-2") != first
    assert await create(make_sdk(agent, OTHER_ID, OTHER_SECRET), "key-1") != first
    assert await create(sdk, None) != await create(sdk, None)
    assert (await sdk.list_hitl_queue()).total == 5


async def test_pending_cap_is_429(special_agent: DevAgent, make_sdk) -> None:
    client = make_sdk(special_agent, CLIENT_ID, CLIENT_SECRET)
    rows = [await client.create_hitl_request(_create_input()) for _ in range(SPECIAL_PENDING_CAP)]
    with pytest.raises(AxonFlowError, match=r"HTTP 429: .*pending approval cap"):
        await client.create_hitl_request(_create_input())
    await client.approve_hitl_request(rows[0].request_id, REVIEW)
    await client.create_hitl_request(_create_input())
    # An expired row stops counting too.
    special_agent.advance_clock(25 * 3600)
    await client.create_hitl_request(_create_input())


async def test_list_filters_and_pagination(sdk: AxonFlow) -> None:
    created = [
        await sdk.create_hitl_request(_create_input(severity=severity))
        for severity in ["low", "critical", "critical"]
    ]
    page = await sdk.list_hitl_queue(HITLQueueListOptions(limit=2))
    assert page.total == 3
    assert page.has_more is True
    assert [i.request_id for i in page.items] == [created[2].request_id, created[1].request_id]
    last = await sdk.list_hitl_queue(HITLQueueListOptions(limit=2, offset=2))
    assert [i.request_id for i in last.items] == [created[0].request_id]
    assert last.has_more is False
    critical = await sdk.list_hitl_queue(HITLQueueListOptions(severity="critical"))
    assert critical.total == 2
    stats = await sdk.get_hitl_stats()
    assert (stats.total_pending, stats.critical_priority, stats.high_priority) == (3, 2, 0)
    assert stats.oldest_pending_hours is not None


async def test_get_unknown_and_malformed_ids(sdk: AxonFlow) -> None:
    with pytest.raises(AxonFlowError, match="HTTP 404"):
        await sdk.get_hitl_request(str(uuid.uuid4()))
    with pytest.raises(AxonFlowError, match=r"HTTP 400: .*must be a UUID"):
        await sdk.get_hitl_request("hitl-req-123")
    with pytest.raises(AxonFlowError, match="HTTP 404"):
        await sdk.approve_hitl_request(str(uuid.uuid4()), REVIEW)


async def test_status_route(sdk: AxonFlow) -> None:
    status = await sdk._request("GET", "/api/v1/hitl/status")
    assert status["enabled"] is True


async def test_queue_needs_credentials(agent: DevAgent, make_sdk) -> None:
    from axonflow.exceptions import AuthenticationError

    with pytest.raises(AuthenticationError):
        await make_sdk(agent, CLIENT_ID, "nope").create_hitl_request(_create_input())
    with pytest.raises(AuthenticationError):
        await make_sdk(agent, CLIENT_ID, "nope").list_hitl_queue()


# ---------------------------------------------------------------------- community edition


async def test_community_has_no_queue(community_sdk: AxonFlow) -> None:
    with pytest.raises(PolicyViolationError, match="community"):
        await community_sdk.create_hitl_request(_create_input())
    some_id = str(uuid.uuid4())
    for call in [
        community_sdk.get_hitl_request(some_id),
        community_sdk.list_hitl_queue(),
        community_sdk.approve_hitl_request(some_id, REVIEW),
        community_sdk.reject_hitl_request(some_id, REVIEW),
        community_sdk.get_hitl_stats(),
        community_sdk._request("POST", "/api/v1/hitl/expire"),
        community_sdk._request("GET", f"{QUEUE}/{some_id}/history"),
    ]:
        with pytest.raises(AxonFlowError, match="HTTP 404"):
            await call
    assert await community_sdk._request("GET", "/api/v1/hitl/status") == {
        "enabled": False,
        "edition": "community",
    }


async def test_community_auto_approves_require_approval(community_sdk: AxonFlow) -> None:
    result = await community_sdk.pre_check(user_token="u", query="make a wire transfer now")
    assert result.approved is True
    assert result.verdict == "allow"
    assert result.policies == ["demo_wire_transfer_approval"]
    health = await community_sdk.health_check_detailed()
    assert not health.has_capability("hitl_queue")


async def test_community_still_blocks(community_sdk: AxonFlow) -> None:
    result = await community_sdk.pre_check(user_token="u", query="wire transfer; DROP TABLE x")
    assert result.approved is False
    assert result.verdict == "deny"
    assert result.policies == ["sys_sqli_drop_table"]


# ---------------------------------------------------------------------- v11 approvals


async def _raw_pre_check(client: AxonFlow, query: str) -> dict:
    body = {"user_token": "jwt", "client_id": CLIENT_ID, "query": query}
    answer: dict = await client._request("POST", "/api/policy/pre-check", json_data=body)
    return answer


async def test_v11_pre_check_enqueues_and_admits_one_retry(
    special_agent: DevAgent, make_sdk
) -> None:
    client = make_sdk(special_agent, CLIENT_ID, CLIENT_SECRET)
    query = "wire transfer $900 to ACME"
    first = await _raw_pre_check(client, query)
    assert first["verdict"] == "needs_approval"
    request_id = first["approval_request_id"]
    row = await client.get_hitl_request(request_id)
    assert (row.status, row.original_query) == ("pending", query)
    assert row.triggered_policy_id == "demo_wire_transfer_approval"
    # While pending, the same request reuses the same row.
    assert (await _raw_pre_check(client, query))["approval_request_id"] == request_id
    # SDK 9.5 ignores the field but still parses the answer.
    assert (await client.pre_check(user_token="jwt", query=query)).approved is False

    await client.approve_hitl_request(request_id, REVIEW)
    retry = await _raw_pre_check(client, query)
    assert (retry["approved"], retry["verdict"]) == (True, "allow")
    assert retry["approval_request_id"] == request_id
    assert "block_reason" not in retry
    # Exactly one retry: the next one needs a new approval.
    again = await _raw_pre_check(client, query)
    assert again["verdict"] == "needs_approval"
    assert again["approval_request_id"] != request_id


async def test_v11_rejection_is_not_admitted(special_agent: DevAgent, make_sdk) -> None:
    client = make_sdk(special_agent, CLIENT_ID, CLIENT_SECRET)
    first = await _raw_pre_check(client, "wire transfer now")
    await client.reject_hitl_request(first["approval_request_id"], REVIEW)
    retry = await _raw_pre_check(client, "wire transfer now")
    assert retry["verdict"] == "needs_approval"
    assert retry["approval_request_id"] != first["approval_request_id"]


async def test_without_v11_no_row_is_enqueued(sdk: AxonFlow) -> None:
    answer = await sdk._request(
        "POST",
        "/api/policy/pre-check",
        json_data={"client_id": CLIENT_ID, "query": "wire transfer"},
    )
    assert "approval_request_id" not in answer
    assert (await sdk.list_hitl_queue()).total == 0
