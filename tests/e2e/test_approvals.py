"""Human approvals end to end: the real proxy CLI, the dev agent, a reviewer using the SDK.

One proxy serves the module, with several guardrail instances picked per request with
`"guardrails": [name]`. Keys come from `tests.support.custom_auth` (`sk-ap-*`). Expiry is
driven with the dev agent's clock, never by sleeping; the only waits are short poll intervals.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from axonflow import AxonFlow
from axonflow.hitl import HITLApprovalRequest, HITLQueueListOptions, HITLReviewInput

from tests.e2e.conftest import details_of, eventually
from tests.support.dev_agent import DevAgent, start_dev_agent
from tests.support.model_calls import read_model_calls
from tests.support.proxy import Proxy, guardrail, mock_model, start_proxy

pytestmark = pytest.mark.e2e

CLIENT = ("litellm-test", "test-secret")
ALICE, ALICE_2, BOB = "sk-ap-alice", "sk-ap-alice-2", "sk-ap-bob"
HEADER = "x-axonflow-approval-id"
REVIEW = HITLReviewInput(reviewer_id="rev-1", reviewer_email="rev@example.com", comment="ok")


@pytest.fixture(scope="module")
def community_agent() -> Iterator[DevAgent]:
    with start_dev_agent(edition="community", clients=[CLIENT]) as running:
        yield running


@pytest.fixture(scope="module")
def proxy(agent: DevAgent, community_agent: DevAgent, model_call_log: Path) -> Iterator[Proxy]:
    config = {
        "model_list": [mock_model("mock")],
        "guardrails": [
            guardrail(
                "ap", agent.url, approval_poll_interval_seconds=0.1, approval_max_wait_seconds=30
            ),
            guardrail(
                "ap-timeout",
                agent.url,
                approval_poll_interval_seconds=0.05,
                approval_max_wait_seconds=0.3,
            ),
            guardrail("ap-off", agent.url, enable_hitl_polling=False),
            guardrail(
                "ap-flaky",
                agent.url,
                fail_open=False,
                breaker_failure_threshold=2,
                approval_poll_interval_seconds=0.05,
                approval_max_wait_seconds=30,
            ),
            guardrail("ap-community", community_agent.url, approval_max_wait_seconds=0),
        ],
        "general_settings": {"custom_auth": "tests.support.custom_auth.user_api_key_auth"},
        "litellm_settings": {"callbacks": "tests.support.model_calls.recorder"},
    }
    env = {"MODEL_CALL_LOG": str(model_call_log), "LITELLM_LOG": "INFO"}
    with start_proxy(config, env=env) as running:
        yield running


# ---------------------------------------------------------------------- helpers


def wire(tag: str) -> str:
    """A prompt the dev agent's `demo_wire_transfer_approval` policy holds; unique per call."""
    return f"Please send a wire transfer of $5000 to account 42 (ref {tag}-{uuid.uuid4().hex[:8]})"


def _request(
    prompt: str,
    *,
    guardrail_name: str,
    key: str,
    approval_id: str | None,
    via_metadata: bool,
) -> tuple[dict[str, Any], dict[str, str]]:
    body: dict[str, Any] = {
        "model": "mock",
        "messages": [{"role": "user", "content": prompt}],
        "guardrails": [guardrail_name],
    }
    headers = {"Authorization": f"Bearer {key}"}
    if approval_id is not None and via_metadata:
        body["metadata"] = {"axonflow_approval_id": approval_id}
    elif approval_id is not None:
        headers[HEADER] = approval_id
    return body, headers


def ask(
    proxy: Proxy,
    prompt: str,
    *,
    guardrail_name: str = "ap",
    key: str = ALICE,
    approval_id: str | None = None,
    via_metadata: bool = False,
) -> httpx.Response:
    """One chat request that is not held (or whose hold ends by itself)."""
    body, headers = _request(
        prompt,
        guardrail_name=guardrail_name,
        key=key,
        approval_id=approval_id,
        via_metadata=via_metadata,
    )
    return httpx.post(f"{proxy.url}/v1/chat/completions", json=body, headers=headers, timeout=30)


async def ask_held(
    proxy: Proxy,
    prompt: str,
    *,
    guardrail_name: str = "ap",
    key: str = ALICE,
    timeout: float = 30.0,
) -> httpx.Response:
    """A chat request that waits for a reviewer, without blocking the test's event loop."""
    body, headers = _request(
        prompt, guardrail_name=guardrail_name, key=key, approval_id=None, via_metadata=False
    )
    async with httpx.AsyncClient(trust_env=False, timeout=timeout) as http:
        return await http.post(f"{proxy.url}/v1/chat/completions", json=body, headers=headers)


def code_of(response: httpx.Response) -> str:
    return str(details_of(response).get("code"))


def model_calls_with(log: Path, prompt: str) -> int:
    return sum(
        1
        for call in read_model_calls(log)
        if call["kind"] == "success" and prompt in str(call.get("messages"))
    )


def model_saw(log: Path, prompt: str) -> int:
    """How many calls with `prompt` reached the model. Success events are logged after the
    response, so this first waits for one."""
    eventually(lambda: model_calls_with(log, prompt) >= 1)
    return model_calls_with(log, prompt)


@asynccontextmanager
async def reviewer(agent: DevAgent) -> AsyncIterator[AxonFlow]:
    """The human reviewer, acting through the official SDK."""
    sdk = agent.sdk_client()
    try:
        yield sdk
    finally:
        await sdk.close()


async def pending_rows(
    sdk: AxonFlow, *, count: int = 1, timeout_s: float = 15.0
) -> list[HITLApprovalRequest]:
    deadline = time.monotonic() + timeout_s
    while True:
        listed = await sdk.list_hitl_queue(HITLQueueListOptions(status="pending", limit=100))
        if len(listed.items) >= count:
            return listed.items
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(listed.items)} pending approvals, expected {count}")
        await asyncio.sleep(0.05)


async def override(agent: DevAgent, approval_id: str) -> None:
    """The platform's override route (the SDK has no method for it)."""
    async with httpx.AsyncClient(auth=CLIENT, trust_env=False) as http:
        response = await http.post(
            f"{agent.url}/api/v1/hitl/queue/{approval_id}/override",
            json={
                "justification": "incident bypass",
                "authorized_by_id": "ciso",
                "authorized_by_email": "ciso@example.com",
            },
        )
    response.raise_for_status()


def pending_id(response: httpx.Response) -> str:
    assert response.status_code == 403, response.text
    details = details_of(response)
    assert details["code"] == "approval_pending", details
    return str(details["approval_request_id"])


def polls_of(agent: DevAgent, approval_id: str) -> int:
    return len(agent.requests(path=f"/api/v1/hitl/queue/{approval_id}"))


# ---------------------------------------------------------------------- hold and poll


@pytest.mark.compat_core
async def test_held_request_proceeds_when_approved_and_is_audited_with_a_fresh_context(
    proxy: Proxy, agent: DevAgent, model_call_log: Path
) -> None:
    prompt = wire("approve")
    held = asyncio.create_task(ask_held(proxy, prompt))
    async with reviewer(agent) as sdk:
        (row,) = await pending_rows(sdk)
        assert row.original_query == prompt
        assert row.triggered_policy_id == "demo_wire_transfer_approval"
        assert row.user_id == "ap-alice"
        context = row.request_context or {}
        assert context["key_alias"] == "ap-alice"
        assert context["team_id"] == "ap-payments"
        assert context["model"] == "mock"
        assert context["litellm_call_id"]
        assert len(context["prompt_sha256"]) == 64
        # The first pre-check context expires (5 min) while the reviewer thinks.
        agent.advance_clock(301)
        await sdk.approve_hitl_request(row.request_id, REVIEW)
    response = await held
    assert response.status_code == 200, response.text
    assert model_saw(model_call_log, prompt) == 1

    pre_checks = agent.requests(path="/api/policy/pre-check")
    assert len(pre_checks) == 2
    assert pre_checks[1]["body"]["context"]["approval_request_id"] == row.request_id
    # Audited, so against the fresh context: the first one had expired.
    audits = eventually(
        lambda: [
            a
            for a in agent.audits()
            if (a.get("metadata") or {}).get("approval_request_id") == row.request_id
        ]
    )
    assert len(audits) == 1


async def test_held_request_is_denied_when_rejected(
    proxy: Proxy, agent: DevAgent, model_call_log: Path
) -> None:
    prompt = wire("reject")
    held = asyncio.create_task(ask_held(proxy, prompt))
    async with reviewer(agent) as sdk:
        (row,) = await pending_rows(sdk)
        await sdk.reject_hitl_request(row.request_id, REVIEW)
    response = await held
    assert response.status_code == 403, response.text
    details = details_of(response)
    assert details["code"] == "approval_rejected"
    assert details["approval_request_id"] == row.request_id
    assert model_calls_with(model_call_log, prompt) == 0


async def test_override_proceeds_and_expiry_during_a_hold_denies(
    proxy: Proxy, agent: DevAgent
) -> None:
    first = asyncio.create_task(ask_held(proxy, wire("override")))
    async with reviewer(agent) as sdk:
        (row,) = await pending_rows(sdk)
        await override(agent, row.request_id)
        assert (await first).status_code == 200

        second = asyncio.create_task(ask_held(proxy, wire("expire")))
        await pending_rows(sdk)
        agent.advance_clock(25 * 3600)  # past the row's 24 h expiry
        response = await second
    assert response.status_code == 403, response.text
    assert code_of(response) == "approval_expired"
    assert details_of(response)["approval_request_id"]


async def test_twenty_held_requests_all_proceed_when_approved_together(
    proxy: Proxy, agent: DevAgent, model_call_log: Path
) -> None:
    prompts = [wire(f"batch{i}") for i in range(20)]
    held = [asyncio.create_task(ask_held(proxy, p)) for p in prompts]
    async with reviewer(agent) as sdk:
        rows = await pending_rows(sdk, count=20, timeout_s=30)
        assert {r.original_query for r in rows} == set(prompts)
        await asyncio.gather(*(sdk.approve_hitl_request(r.request_id, REVIEW) for r in rows))
    responses = await asyncio.gather(*held)
    assert [r.status_code for r in responses] == [200] * 20, [r.text for r in responses]
    assert all(model_saw(model_call_log, p) == 1 for p in prompts)


# ---------------------------------------------------------------------- resumable approvals


@pytest.mark.compat_core
async def test_timeout_answers_pending_and_the_retry_with_the_id_proceeds_once(
    proxy: Proxy, agent: DevAgent, model_call_log: Path
) -> None:
    prompt = wire("resume")
    approval_id = pending_id(ask(proxy, prompt, guardrail_name="ap-timeout"))

    # While the reviewer has not decided: pending again, same id, nothing created.
    again = ask(proxy, prompt, guardrail_name="ap-timeout", approval_id=approval_id)
    assert pending_id(again) == approval_id

    async with reviewer(agent) as sdk:
        await sdk.approve_hitl_request(approval_id, REVIEW)
    response = ask(proxy, prompt, guardrail_name="ap-timeout", approval_id=approval_id)
    assert response.status_code == 200, response.text
    assert model_saw(model_call_log, prompt) == 1

    spent = ask(proxy, prompt, guardrail_name="ap-timeout", approval_id=approval_id)
    assert spent.status_code == 403
    assert code_of(spent) == "approval_invalid"
    assert details_of(spent)["reason"] == "spent"
    assert details_of(spent)["approval_request_id"] == approval_id
    assert model_saw(model_call_log, prompt) == 1


@pytest.mark.compat_core
async def test_an_approval_is_bound_to_its_prompt_and_key_and_spent_once(
    proxy: Proxy, agent: DevAgent, model_call_log: Path
) -> None:
    prompt = wire("bound")
    approval_id = pending_id(ask(proxy, prompt, guardrail_name="ap-timeout"))
    async with reviewer(agent) as sdk:
        await sdk.approve_hitl_request(approval_id, REVIEW)

    other_prompt = ask(proxy, wire("other"), guardrail_name="ap-timeout", approval_id=approval_id)
    assert code_of(other_prompt) == "approval_invalid"
    assert details_of(other_prompt)["reason"] == "prompt_mismatch"
    for key in (BOB, ALICE_2):
        other_key = ask(
            proxy, prompt, guardrail_name="ap-timeout", key=key, approval_id=approval_id
        )
        assert other_key.status_code == 403
        assert code_of(other_key) == "approval_invalid"
        assert details_of(other_key)["reason"] == "caller_mismatch"

    # None of that spent it: the owner, with the same prompt (id in metadata this time).
    ok = ask(proxy, prompt, guardrail_name="ap-timeout", approval_id=approval_id, via_metadata=True)
    assert ok.status_code == 200, ok.text
    replay = ask(proxy, prompt, guardrail_name="ap-timeout", approval_id=approval_id)
    assert details_of(replay)["reason"] == "spent"
    assert model_saw(model_call_log, prompt) == 1


async def test_a_rejected_or_expired_id_is_denied_distinctly(proxy: Proxy, agent: DevAgent) -> None:
    rejected_prompt, expired_prompt = wire("rejected"), wire("expired")
    rejected = pending_id(ask(proxy, rejected_prompt, guardrail_name="ap-timeout"))
    expired = pending_id(ask(proxy, expired_prompt, guardrail_name="ap-timeout"))
    async with reviewer(agent) as sdk:
        await sdk.reject_hitl_request(rejected, REVIEW)
    agent.advance_clock(25 * 3600)

    response = ask(proxy, rejected_prompt, guardrail_name="ap-timeout", approval_id=rejected)
    assert response.status_code == 403
    assert code_of(response) == "approval_rejected"
    assert details_of(response)["approval_request_id"] == rejected
    response = ask(proxy, expired_prompt, guardrail_name="ap-timeout", approval_id=expired)
    assert response.status_code == 403
    assert code_of(response) == "approval_expired"
    assert details_of(response)["approval_request_id"] == expired

    unknown = ask(proxy, expired_prompt, guardrail_name="ap-timeout", approval_id=str(uuid.uuid4()))
    assert code_of(unknown) == "approval_invalid"
    garbage = ask(proxy, expired_prompt, guardrail_name="ap-timeout", approval_id="../stats")
    assert code_of(garbage) == "approval_invalid"


# ---------------------------------------------------------------------- switches and editions


def test_polling_disabled_denies_at_once_without_a_queue_entry(
    proxy: Proxy, agent: DevAgent
) -> None:
    response = ask(proxy, wire("off"), guardrail_name="ap-off")
    assert response.status_code == 403, response.text
    details = details_of(response)
    assert details["code"] == "approval_required"
    assert "demo_wire_transfer_approval" in details["policies"]
    assert agent.requests(path="/api/v1/hitl/queue") == []


@pytest.mark.parametrize("status", [403, 404])
def test_community_edition_fails_closed_and_says_so(
    proxy: Proxy, agent: DevAgent, status: int
) -> None:
    # What a Community agent answers on the queue (an Enterprise pre-check is needed to get
    # a require_approval in the first place: Community auto-approves those policies).
    message = "HITL approval queue is not available on the community tier"
    agent.set_fault(
        "/api/v1/hitl/queue",
        status=status,
        body={"success": False, "error": message, "message": message},
    )
    response = ask(proxy, wire("community"))
    assert response.status_code == 403, response.text
    details = details_of(response)
    assert details["code"] == "approvals_unsupported"
    assert "Enterprise" in details["error"]


def test_a_community_agent_knows_no_approval_ids(proxy: Proxy, community_agent: DevAgent) -> None:
    response = ask(proxy, wire("ce"), guardrail_name="ap-community", approval_id=str(uuid.uuid4()))
    assert response.status_code == 403, response.text
    assert code_of(response) == "approval_invalid"


# ---------------------------------------------------------------------- failures and clients


def test_polling_failures_end_the_hold_apart_from_the_breaker(
    proxy: Proxy, agent: DevAgent
) -> None:
    agent.set_fault("/api/v1/hitl/queue/*", status=503)
    response = ask(proxy, wire("flaky"), guardrail_name="ap-flaky")
    assert response.status_code == 403, response.text
    details = details_of(response)
    assert details["code"] == "approval_pending"
    assert details["status_unavailable"] is True
    approval_id = str(details["approval_request_id"])
    assert polls_of(agent, approval_id) == 2
    agent.clear_faults()
    # Two failed polls with a threshold of 2 did not open the (fail-closed) breaker.
    plain = ask(proxy, "What is the capital of France?", guardrail_name="ap-flaky")
    assert plain.status_code == 200, plain.text


async def test_a_client_that_disconnects_stops_the_polling(
    proxy: Proxy, agent: DevAgent, model_call_log: Path
) -> None:
    prompt = wire("gone")
    with pytest.raises(httpx.TimeoutException):
        await ask_held(proxy, prompt, timeout=1.0)
    async with reviewer(agent) as sdk:
        (row,) = await pending_rows(sdk)
        approval_id = row.request_id
        # The hold notices within one poll interval (0.1 s) and polls no more.
        await asyncio.sleep(0.5)
        settled = polls_of(agent, approval_id)
        await asyncio.sleep(0.6)
        assert polls_of(agent, approval_id) == settled
        assert "abandoned: the client disconnected" in proxy.output()

        # A reviewer approving later neither wakes it nor sends anything to the model ...
        await sdk.approve_hitl_request(approval_id, REVIEW)
    await asyncio.sleep(0.3)
    assert model_calls_with(model_call_log, prompt) == 0
    # ... and the approval was not spent: the client can still come back with the id.
    response = ask(proxy, prompt, approval_id=approval_id)
    assert response.status_code == 200, response.text
    assert model_saw(model_call_log, prompt) == 1


async def test_an_openai_sdk_client_resumes_with_the_id(proxy: Proxy, agent: DevAgent) -> None:
    """What docs/approvals.md tells a client to do, with the OpenAI SDK and its own retries on."""
    client = proxy.openai(api_key=ALICE, max_retries=2)
    prompt = wire("sdk")
    messages: Any = [{"role": "user", "content": prompt}]
    extra = {"guardrails": ["ap-timeout"]}
    with pytest.raises(openai.PermissionDeniedError) as caught:
        client.chat.completions.create(model="mock", messages=messages, extra_body=extra)
    assert len(agent.requests(path="/api/v1/hitl/queue")) == 1  # the SDK did not retry
    body = caught.value.body
    assert isinstance(body, dict)
    fields = body["provider_specific_fields"]
    assert fields["code"] == "approval_pending"
    approval_id = fields["approval_request_id"]

    async with reviewer(agent) as sdk:
        await sdk.approve_hitl_request(approval_id, REVIEW)
    completion = client.chat.completions.create(
        model="mock",
        messages=messages,
        extra_body=extra,
        extra_headers={fields["retry_header"]: approval_id},
    )
    assert completion.choices[0].message.content
