"""The approval gate: hold-and-poll, resumable approvals, binding, one-time use, failures.

No network and no real sleeping: the gate gets a scripted stand-in for `AxonFlowClient`, and a
fake `sleep` that only moves a fake clock.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from axonflow.hitl import HITLApprovalRequest, HITLCreateInput
from fastapi import HTTPException
from litellm.caching.dual_cache import DualCache
from litellm.proxy._types import UserAPIKeyAuth
from starlette.requests import Request

from axonflow_guardrail import AxonFlowGuardrail
from axonflow_guardrail._errors import ErrorCode
from axonflow_guardrail._settings import GuardrailSettings
from axonflow_guardrail.axonflow._client import AxonFlowClient, PreCheckDecision, Verdict
from axonflow_guardrail.axonflow._failures import AxonFlowFailure, FailureKind
from axonflow_guardrail.gates.approvals._binding import APPROVAL_ID_HEADER, approval_id_from
from axonflow_guardrail.gates.approvals._client_disconnect import find_disconnect_probe
from axonflow_guardrail.gates.approvals._gate import SPENT_KEY_PREFIX, ApprovalGate, GrantedApproval
from axonflow_guardrail.request._identity import CallerIdentity

CLIENT_ID = "litellm-test"
PROMPT = "Please make a wire transfer of $5000 to account 42"

# ---------------------------------------------------------------------- fakes


class FakeTime:
    """A monotonic clock that only `sleep` moves; records every sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)  # still a real suspension point (cancellation lands here)


def _ts(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def make_row(
    *,
    request_id: str | None = None,
    status: str = "pending",
    context: dict[str, Any] | None = None,
    client_id: str = CLIENT_ID,
    expires_in: timedelta = timedelta(hours=24),
) -> HITLApprovalRequest:
    now = datetime.now(UTC)
    return HITLApprovalRequest(
        request_id=request_id or str(uuid.uuid4()),
        org_id="org",
        tenant_id=CLIENT_ID,
        client_id=client_id,
        original_query=PROMPT,
        request_type="llm_chat",
        request_context=context,
        triggered_policy_id="demo_wire_transfer_approval",
        triggered_policy_name="demo_wire_transfer_approval",
        trigger_reason="needs approval",
        severity="high",
        status=status,
        expires_at=_ts(now + expires_in),
        created_at=_ts(now),
        updated_at=_ts(now),
    )


class FakeClient:
    """Scripted `create_approval` / `get_approval`.

    `polls` is consumed one item per poll: a status string, or an exception to raise.
    Rows created here keep the context the gate sent, like the real queue.
    """

    client_id = CLIENT_ID

    def __init__(self, polls: Iterable[str | BaseException] = ()) -> None:
        self.polls = list(polls)
        self.created: list[HITLCreateInput] = []
        self.gets: list[str] = []
        self.rows: dict[str, HITLApprovalRequest] = {}
        self.create_error: BaseException | None = None
        self.get_error: BaseException | None = None

    async def create_approval(self, *, request: HITLCreateInput) -> HITLApprovalRequest:
        self.created.append(request)
        if self.create_error is not None:
            raise self.create_error
        row = make_row(context=request.request_context)
        self.rows[row.request_id] = row
        return row

    async def get_approval(self, *, approval_id: str) -> HITLApprovalRequest:
        self.gets.append(approval_id)
        if self.get_error is not None:
            raise self.get_error
        row = self.rows.get(approval_id)
        if row is None:
            raise AxonFlowFailure(FailureKind.UNAVAILABLE, "AxonFlow answered HTTP 404", status=404)
        if self.polls:
            step = self.polls.pop(0)
            if isinstance(step, BaseException):
                raise step
            row = row.model_copy(update={"status": step})
            self.rows[approval_id] = row
        return row

    def set_status(self, approval_id: str, status: str) -> None:
        self.rows[approval_id] = self.rows[approval_id].model_copy(update={"status": status})


def settings(**overrides: Any) -> GuardrailSettings:
    values: dict[str, Any] = {
        "endpoint": "http://127.0.0.1:9",
        "client_id": CLIENT_ID,
        "approval_poll_interval_seconds": 2.0,
        "approval_max_wait_seconds": 10.0,
        "breaker_failure_threshold": 3,
        **overrides,
    }
    return GuardrailSettings.from_litellm_params(values)


def make_gate(client: FakeClient, fake_time: FakeTime, **overrides: Any) -> ApprovalGate:
    return ApprovalGate(
        client=cast(AxonFlowClient, client),
        settings=settings(**overrides),
        sleep=fake_time.sleep,
        clock=fake_time.clock,
    )


def identity(key: str = "hash-of-alice-key", **extra: Any) -> CallerIdentity:
    values: dict[str, Any] = {
        "user_token": "tok",
        "user_token_source": "default",
        "enforcement_mode": "enforce",
        "enforcement_source": "guardrail",
        "user_id": "alice",
        "team_id": "team-a",
        "key_alias": "alice-key",
        "api_key_hash": key,
        **extra,
    }
    return CallerIdentity(**values)


DECISION = PreCheckDecision(
    verdict=Verdict.NEEDS_APPROVAL,
    context_id="ctx-1",
    decision_id="dec-1",
    policies=("hitl_enterprise", "demo_wire_transfer_approval"),
    block_reason="require_approval",
)


async def hold(gate: ApprovalGate, *, who: CallerIdentity | None = None, **kw: Any) -> Any:
    args: dict[str, Any] = {
        "decision": DECISION,
        "identity": who or identity(),
        "prompt": PROMPT,
        "model": "gpt-4o-mini",
        "call_id": "call-1",
        "call_type": "acompletion",
        **kw,
    }
    return await gate.hold(**args)


def detail(exc: HTTPException) -> dict[str, Any]:
    assert isinstance(exc.detail, dict)
    return exc.detail


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


# ---------------------------------------------------------------------- hold


async def test_polling_disabled_denies_at_once_without_a_queue_entry(fake_time: FakeTime) -> None:
    client = FakeClient()
    gate = make_gate(client, fake_time, enable_hitl_polling=False)
    with pytest.raises(HTTPException) as caught:
        await hold(gate)
    assert caught.value.status_code == 403
    assert detail(caught.value)["code"] == ErrorCode.APPROVAL_REQUIRED
    assert detail(caught.value)["policies"] == list(DECISION.policies)
    assert client.created == []


async def test_create_carries_what_the_server_requires_and_the_binding(
    fake_time: FakeTime,
) -> None:
    client = FakeClient(polls=["approved"])
    gate = make_gate(client, fake_time)
    who = identity(end_user_id="customer-7")
    await hold(gate, who=who)
    (created,) = client.created
    assert created.client_id == CLIENT_ID
    assert created.original_query == PROMPT
    assert created.request_type == "llm_chat"
    assert created.severity == "high"
    assert created.user_id == "alice"
    # The server refuses the row without these, though the SDK marks them optional.
    assert created.triggered_policy_id == "demo_wire_transfer_approval"
    assert created.triggered_policy_name
    assert created.trigger_reason
    assert "demo_wire_transfer_approval" in created.trigger_reason
    ctx = created.request_context or {}
    assert ctx["model"] == "gpt-4o-mini"
    assert ctx["key_alias"] == "alice-key"
    assert ctx["team_id"] == "team-a"
    assert ctx["litellm_call_id"] == "call-1"
    assert ctx["end_user_id"] == "customer-7"
    assert ctx["prompt_sha256"] == hashlib.sha256(PROMPT.encode()).hexdigest()
    assert len(ctx["caller_binding_sha256"]) == 64
    assert "hash-of-alice-key" not in str(ctx)
    assert "tok" not in ctx.values()


async def test_block_reason_becomes_the_trigger_reason_when_it_says_something(
    fake_time: FakeTime,
) -> None:
    client = FakeClient(polls=["approved"])
    gate = make_gate(client, fake_time)
    decision = PreCheckDecision(
        verdict=Verdict.NEEDS_APPROVAL,
        context_id="c",
        decision_id=None,
        policies=("hitl_enterprise",),
        block_reason="Payments above the limit need a manager",
    )
    await hold(gate, decision=decision)
    (created,) = client.created
    assert created.trigger_reason == "Payments above the limit need a manager"
    assert created.triggered_policy_id  # a default, never empty


async def test_user_id_falls_back_to_the_end_user(fake_time: FakeTime) -> None:
    client = FakeClient(polls=["approved"])
    gate = make_gate(client, fake_time)
    await hold(gate, who=identity(user_id=None, end_user_id="customer-7"))
    assert client.created[0].user_id == "customer-7"


@pytest.mark.parametrize("status", ["approved", "overridden"])
async def test_approved_or_overridden_proceeds(fake_time: FakeTime, status: str) -> None:
    client = FakeClient(polls=["pending", "pending", status])
    gate = make_gate(client, fake_time)
    granted = await hold(gate)
    assert isinstance(granted, GrantedApproval)
    assert granted.approval_id in client.rows
    assert granted.status == status
    assert granted.spent_ttl_seconds >= 24 * 3600
    assert fake_time.sleeps == [2.0, 2.0, 2.0]
    assert len(client.gets) == 3


@pytest.mark.parametrize(
    ("status", "code"),
    [("rejected", ErrorCode.APPROVAL_REJECTED), ("expired", ErrorCode.APPROVAL_EXPIRED)],
)
async def test_rejected_or_expired_denies_with_the_id(
    fake_time: FakeTime, status: str, code: ErrorCode
) -> None:
    client = FakeClient(polls=["pending", status])
    gate = make_gate(client, fake_time)
    with pytest.raises(HTTPException) as caught:
        await hold(gate)
    body = detail(caught.value)
    assert caught.value.status_code == 403
    assert body["code"] == code
    assert body["approval_request_id"] in client.rows


async def test_timeout_answers_pending_with_the_id(fake_time: FakeTime) -> None:
    client = FakeClient()
    gate = make_gate(client, fake_time, approval_max_wait_seconds=5.0)
    with pytest.raises(HTTPException) as caught:
        await hold(gate)
    body = detail(caught.value)
    assert caught.value.status_code == 403
    assert body["code"] == ErrorCode.APPROVAL_PENDING
    assert body["approval_request_id"] in client.rows
    assert body["retry_header"] == APPROVAL_ID_HEADER
    # Polls at 2, 4, and one last time at the deadline (5): the wait is never exceeded.
    assert fake_time.sleeps == [2.0, 2.0, 1.0]
    assert len(client.gets) == 3


async def test_max_wait_zero_creates_the_row_and_answers_pending_without_polling(
    fake_time: FakeTime,
) -> None:
    client = FakeClient()
    gate = make_gate(client, fake_time, approval_max_wait_seconds=0)
    with pytest.raises(HTTPException) as caught:
        await hold(gate)
    assert detail(caught.value)["code"] == ErrorCode.APPROVAL_PENDING
    assert len(client.created) == 1
    assert client.gets == []
    assert fake_time.sleeps == []


async def test_consecutive_poll_failures_end_the_hold(fake_time: FakeTime) -> None:
    down = AxonFlowFailure(FailureKind.UNAVAILABLE, "AxonFlow is unreachable")
    client = FakeClient(polls=[down, down, down, "approved"])
    gate = make_gate(client, fake_time, breaker_failure_threshold=3, approval_max_wait_seconds=60)
    with pytest.raises(HTTPException) as caught:
        await hold(gate)
    body = detail(caught.value)
    assert caught.value.status_code == 403  # never a retried 5xx: the row exists
    assert body["code"] == ErrorCode.APPROVAL_PENDING
    assert body["status_unavailable"] is True
    assert body["approval_request_id"] in client.rows
    assert len(client.gets) == 3


async def test_a_good_poll_resets_the_failure_count(fake_time: FakeTime) -> None:
    down = AxonFlowFailure(FailureKind.UNAVAILABLE, "AxonFlow did not answer in time")
    client = FakeClient(polls=[down, down, "pending", down, down, "approved"])
    gate = make_gate(client, fake_time, breaker_failure_threshold=3, approval_max_wait_seconds=60)
    granted = await hold(gate)
    assert granted.status == "approved"


async def test_polling_does_not_touch_the_circuit_breaker(fake_time: FakeTime) -> None:
    """The real client's approval calls bypass the breaker; the gate counts on its own."""
    from axonflow_guardrail.axonflow._breakers import Breakers
    from axonflow_guardrail.axonflow._circuit_breaker import BreakerState

    breakers = Breakers.create(failure_threshold=1, recovery_seconds=30)
    client = AxonFlowClient(
        endpoint="http://127.0.0.1:9",
        client_id=CLIENT_ID,
        client_secret="",
        tenant_id=None,
        call_timeout_seconds=0.5,
        breakers=breakers,
        declares_redaction=False,
    )
    gate = ApprovalGate(
        client=client,
        settings=settings(breaker_failure_threshold=2),
        sleep=fake_time.sleep,
        clock=fake_time.clock,
    )
    with pytest.raises(HTTPException) as caught:
        await gate.redeem(
            approval_id=str(uuid.uuid4()), identity=identity(), prompt=PROMPT, cache=None
        )
    assert detail(caught.value)["code"] == ErrorCode.GOVERNANCE_UNAVAILABLE
    for gate_ in (breakers.pre_check, breakers.check_input, breakers.check_output):
        assert gate_.state is BreakerState.CLOSED
    await client.close()


@pytest.mark.parametrize("status", [403, 404])
async def test_community_edition_fails_closed_with_approvals_unsupported(
    fake_time: FakeTime, status: int
) -> None:
    client = FakeClient()
    kind = FailureKind.REJECTED if status == 403 else FailureKind.UNAVAILABLE
    client.create_error = AxonFlowFailure(kind, f"HTTP {status}", status=status)
    gate = make_gate(client, fake_time)
    with pytest.raises(HTTPException) as caught:
        await hold(gate)
    body = detail(caught.value)
    assert caught.value.status_code == 403
    assert body["code"] == ErrorCode.APPROVALS_UNSUPPORTED
    assert "Enterprise" in body["error"]


@pytest.mark.parametrize(
    ("failure", "code", "http"),
    [
        (AxonFlowFailure(FailureKind.REJECTED, "creds", status=401), "governance_rejected", 403),
        (
            AxonFlowFailure(FailureKind.UNAVAILABLE, "HTTP 429", status=429),
            "governance_unavailable",
            503,
        ),
        (AxonFlowFailure(FailureKind.UNAVAILABLE, "down"), "governance_unavailable", 503),
    ],
)
async def test_create_failures_fail_closed(
    fake_time: FakeTime, failure: AxonFlowFailure, code: str, http: int
) -> None:
    client = FakeClient()
    client.create_error = failure
    gate = make_gate(client, fake_time, fail_open=True)  # fail_open does not apply here
    with pytest.raises(HTTPException) as caught:
        await hold(gate)
    assert detail(caught.value)["code"] == code
    assert caught.value.status_code == http


async def test_an_unexpected_error_fails_closed(fake_time: FakeTime) -> None:
    client = FakeClient()
    client.create_error = ZeroDivisionError()
    gate = make_gate(client, fake_time)
    with pytest.raises(HTTPException) as caught:
        await hold(gate)
    assert detail(caught.value)["code"] == ErrorCode.GOVERNANCE_UNAVAILABLE


async def test_a_malformed_approval_id_from_the_platform_fails_closed(
    fake_time: FakeTime,
) -> None:
    client = FakeClient()

    async def bad_create(*, request: HITLCreateInput) -> HITLApprovalRequest:
        return make_row(request_id="../../etc/passwd")

    client.create_approval = bad_create  # type: ignore[method-assign]
    gate = make_gate(client, fake_time)
    with pytest.raises(HTTPException) as caught:
        await hold(gate)
    assert detail(caught.value)["code"] == ErrorCode.GOVERNANCE_UNAVAILABLE
    assert client.gets == []


# ---------------------------------------------------------------------- client disconnects


async def test_a_vanished_client_stops_the_polling(fake_time: FakeTime) -> None:
    client = FakeClient(polls=["pending"] * 100)
    gate = make_gate(client, fake_time, approval_max_wait_seconds=300)
    probes: list[bool] = []

    async def gone() -> bool:
        probes.append(len(probes) >= 2)
        return probes[-1]

    with pytest.raises(HTTPException) as caught:
        await hold(gate, client_gone=gone)
    body = detail(caught.value)
    assert body["client_disconnected"] is True
    assert body["code"] == ErrorCode.APPROVAL_PENDING
    assert len(client.gets) == 2  # no poll after the client was seen gone
    assert fake_time.now - 1000.0 == pytest.approx(6.0)


async def test_a_failing_disconnect_probe_is_ignored(fake_time: FakeTime) -> None:
    client = FakeClient(polls=["approved"])
    gate = make_gate(client, fake_time)

    async def broken() -> bool:
        raise RuntimeError("receive() blew up")

    assert (await hold(gate, client_gone=broken)).status == "approved"


async def test_cancelling_a_hold_leaves_no_task_behind() -> None:
    """A cancelled request task (server shutdown, SSE keepalive mode) ends its hold cleanly."""
    client = FakeClient(polls=["pending"] * 1000)
    gate = ApprovalGate(
        client=cast(AxonFlowClient, client),
        settings=settings(approval_poll_interval_seconds=0.01, approval_max_wait_seconds=30),
    )
    before = asyncio.all_tasks()
    task = asyncio.create_task(hold(gate))
    while len(client.gets) < 3:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    polls = len(client.gets)
    await asyncio.sleep(0.05)
    assert len(client.gets) == polls
    assert asyncio.all_tasks() == before


def test_the_disconnect_probe_is_found_up_the_stack() -> None:
    scope = {"type": "http", "method": "POST", "path": "/v1/chat/completions", "headers": []}

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    request = Request(scope, receive)

    def endpoint(request: Request) -> Any:  # the proxy's endpoint holds `request`
        return find_disconnect_probe()

    probe = endpoint(request)
    assert probe is not None
    assert asyncio.run(probe()) is True


def test_without_a_request_on_the_stack_there_is_no_probe() -> None:
    assert find_disconnect_probe() is None


# ---------------------------------------------------------------------- redeem and spend


async def _approved_row(
    client: FakeClient, fake_time: FakeTime, *, status: str = "approved"
) -> str:
    """A row created by a hold that timed out (max_wait 0), then decided by a reviewer."""
    gate = make_gate(client, fake_time, approval_max_wait_seconds=0)
    with pytest.raises(HTTPException) as caught:
        await hold(gate)
    approval_id = str(detail(caught.value)["approval_request_id"])
    client.set_status(approval_id, status)
    return approval_id


async def test_redeem_then_spend_once(fake_time: FakeTime) -> None:
    client = FakeClient()
    approval_id = await _approved_row(client, fake_time)
    gate = make_gate(client, fake_time)
    cache = DualCache()
    granted = await gate.redeem(
        approval_id=approval_id, identity=identity(), prompt=PROMPT, cache=cache
    )
    assert granted.approval_id == approval_id
    await gate.spend(granted, cache=cache)
    with pytest.raises(HTTPException) as caught:
        await gate.redeem(approval_id=approval_id, identity=identity(), prompt=PROMPT, cache=cache)
    assert detail(caught.value)["code"] == ErrorCode.APPROVAL_INVALID
    assert detail(caught.value)["reason"] == "spent"
    assert detail(caught.value)["approval_request_id"] == approval_id


async def test_redeem_accepts_an_upper_case_id(fake_time: FakeTime) -> None:
    client = FakeClient()
    approval_id = await _approved_row(client, fake_time)
    gate = make_gate(client, fake_time)
    granted = await gate.redeem(
        approval_id=approval_id.upper(), identity=identity(), prompt=PROMPT, cache=None
    )
    assert granted.approval_id == approval_id


async def test_a_concurrent_double_spend_lets_exactly_one_through(fake_time: FakeTime) -> None:
    client = FakeClient()
    approval_id = await _approved_row(client, fake_time)
    gate = make_gate(client, fake_time)
    cache = DualCache()
    grants = await asyncio.gather(
        *(
            gate.redeem(approval_id=approval_id, identity=identity(), prompt=PROMPT, cache=cache)
            for _ in range(5)
        )
    )
    results = await asyncio.gather(
        *(gate.spend(g, cache=cache) for g in grants), return_exceptions=True
    )
    assert sum(r is None for r in results) == 1
    assert all(isinstance(r, HTTPException) for r in results if r is not None)


async def test_spent_is_shared_through_the_cache_across_instances(fake_time: FakeTime) -> None:
    """Two gates (two workers or instances) share the proxy's DualCache (Redis in production)."""
    client = FakeClient()
    approval_id = await _approved_row(client, fake_time)
    shared = DualCache()
    first, second = make_gate(client, fake_time), make_gate(client, fake_time)
    granted = await first.redeem(
        approval_id=approval_id, identity=identity(), prompt=PROMPT, cache=shared
    )
    await first.spend(granted, cache=shared)
    with pytest.raises(HTTPException):
        await second.redeem(
            approval_id=approval_id, identity=identity(), prompt=PROMPT, cache=shared
        )
    # Even if the early check were skipped, the atomic spend refuses the second use.
    with pytest.raises(HTTPException) as caught:
        await second.spend(granted, cache=shared)
    assert detail(caught.value)["reason"] == "spent"


async def test_spend_marker_outlives_the_row(fake_time: FakeTime) -> None:
    client = FakeClient()
    approval_id = await _approved_row(client, fake_time)
    gate = make_gate(client, fake_time)
    seen: dict[str, Any] = {}

    class RecordingCache(DualCache):
        async def async_increment_cache(self, key: Any, value: float, **kwargs: Any) -> Any:
            seen.update(key=key, **kwargs)
            return await super().async_increment_cache(key, value, **kwargs)

    cache = RecordingCache()
    granted = await gate.redeem(
        approval_id=approval_id, identity=identity(), prompt=PROMPT, cache=cache
    )
    await gate.spend(granted, cache=cache)
    assert seen["key"] == SPENT_KEY_PREFIX + approval_id
    assert seen["ttl"] >= 24 * 3600


async def test_without_a_cache_the_process_ledger_still_spends(fake_time: FakeTime) -> None:
    client = FakeClient()
    approval_id = await _approved_row(client, fake_time)
    gate = make_gate(client, fake_time)
    granted = await gate.redeem(
        approval_id=approval_id, identity=identity(), prompt=PROMPT, cache=None
    )
    await gate.spend(granted, cache=None)
    with pytest.raises(HTTPException):
        await gate.spend(granted, cache=None)


async def test_a_marker_evicted_from_the_cache_is_still_spent_here(fake_time: FakeTime) -> None:
    client = FakeClient()
    approval_id = await _approved_row(client, fake_time)
    gate = make_gate(client, fake_time)
    cache = DualCache()
    granted = await gate.redeem(
        approval_id=approval_id, identity=identity(), prompt=PROMPT, cache=cache
    )
    await gate.spend(granted, cache=cache)
    cache.flush_cache()
    with pytest.raises(HTTPException):
        await gate.redeem(approval_id=approval_id, identity=identity(), prompt=PROMPT, cache=cache)


async def test_a_cache_that_fails_does_not_burn_the_id(fake_time: FakeTime) -> None:
    client = FakeClient()
    approval_id = await _approved_row(client, fake_time)
    gate = make_gate(client, fake_time)

    class BrokenCache:
        async def async_get_cache(self, **kwargs: Any) -> Any:
            return None

        async def async_increment_cache(self, **kwargs: Any) -> Any:
            raise ConnectionError("cache down")

    granted = await gate.redeem(
        approval_id=approval_id, identity=identity(), prompt=PROMPT, cache=None
    )
    with pytest.raises(HTTPException) as caught:
        await gate.spend(granted, cache=BrokenCache())
    assert caught.value.status_code == 503
    await gate.spend(granted, cache=DualCache())  # the retry works


async def test_redeem_with_another_prompt_is_denied_and_not_spent(fake_time: FakeTime) -> None:
    client = FakeClient()
    approval_id = await _approved_row(client, fake_time)
    gate = make_gate(client, fake_time)
    with pytest.raises(HTTPException) as caught:
        await gate.redeem(
            approval_id=approval_id,
            identity=identity(),
            prompt=PROMPT + " and 9000 more",
            cache=None,
        )
    assert detail(caught.value)["reason"] == "prompt_mismatch"
    # The original prompt still works afterwards.
    await gate.redeem(approval_id=approval_id, identity=identity(), prompt=PROMPT, cache=None)


async def test_redeem_by_another_key_is_denied(fake_time: FakeTime) -> None:
    client = FakeClient()
    approval_id = await _approved_row(client, fake_time)
    gate = make_gate(client, fake_time)
    with pytest.raises(HTTPException) as caught:
        await gate.redeem(
            approval_id=approval_id, identity=identity("hash-of-bob-key"), prompt=PROMPT, cache=None
        )
    assert detail(caught.value)["code"] == ErrorCode.APPROVAL_INVALID
    assert detail(caught.value)["reason"] == "caller_mismatch"


async def test_another_caller_learns_nothing_about_the_status(fake_time: FakeTime) -> None:
    client = FakeClient()
    approval_id = await _approved_row(client, fake_time, status="pending")
    gate = make_gate(client, fake_time)
    with pytest.raises(HTTPException) as caught:
        await gate.redeem(
            approval_id=approval_id, identity=identity("other"), prompt=PROMPT, cache=None
        )
    assert detail(caught.value)["code"] == ErrorCode.APPROVAL_INVALID
    assert "status" not in detail(caught.value)


@pytest.mark.parametrize(
    ("status", "code"),
    [
        ("pending", ErrorCode.APPROVAL_PENDING),
        ("rejected", ErrorCode.APPROVAL_REJECTED),
        ("expired", ErrorCode.APPROVAL_EXPIRED),
        ("cancelled", ErrorCode.APPROVAL_INVALID),
    ],
)
async def test_redeem_answers_the_row_status(
    fake_time: FakeTime, status: str, code: ErrorCode
) -> None:
    client = FakeClient()
    approval_id = await _approved_row(client, fake_time, status=status)
    gate = make_gate(client, fake_time)
    with pytest.raises(HTTPException) as caught:
        await gate.redeem(approval_id=approval_id, identity=identity(), prompt=PROMPT, cache=None)
    assert caught.value.status_code == 403
    assert detail(caught.value)["code"] == code
    assert detail(caught.value)["approval_request_id"] == approval_id


async def test_an_approval_past_its_expiry_is_not_honoured(fake_time: FakeTime) -> None:
    client = FakeClient()
    approval_id = await _approved_row(client, fake_time)
    gate = ApprovalGate(
        client=cast(AxonFlowClient, client),
        settings=settings(),
        sleep=fake_time.sleep,
        clock=fake_time.clock,
        wall_clock=lambda: time.time() + 25 * 3600,
    )
    with pytest.raises(HTTPException) as caught:
        await gate.redeem(approval_id=approval_id, identity=identity(), prompt=PROMPT, cache=None)
    assert detail(caught.value)["code"] == ErrorCode.APPROVAL_EXPIRED


@pytest.mark.parametrize("bad", ["nope", "../hitl/stats", "1234", "' OR 1=1", "x" * 36])
async def test_a_malformed_id_is_invalid_without_asking_the_platform(
    fake_time: FakeTime, bad: str
) -> None:
    client = FakeClient()
    gate = make_gate(client, fake_time)
    with pytest.raises(HTTPException) as caught:
        await gate.redeem(approval_id=bad, identity=identity(), prompt=PROMPT, cache=None)
    assert detail(caught.value)["code"] == ErrorCode.APPROVAL_INVALID
    assert "approval_request_id" not in detail(caught.value)
    assert client.gets == []


@pytest.mark.parametrize("status", [400, 404])
async def test_an_unknown_id_is_invalid(fake_time: FakeTime, status: int) -> None:
    client = FakeClient()
    client.get_error = AxonFlowFailure(FailureKind.UNAVAILABLE, f"HTTP {status}", status=status)
    gate = make_gate(client, fake_time)
    with pytest.raises(HTTPException) as caught:
        await gate.redeem(
            approval_id=str(uuid.uuid4()), identity=identity(), prompt=PROMPT, cache=None
        )
    assert detail(caught.value)["code"] == ErrorCode.APPROVAL_INVALID
    assert detail(caught.value)["reason"] == "unknown"


async def test_a_row_not_made_by_this_gateway_is_invalid(fake_time: FakeTime) -> None:
    client = FakeClient()
    row = make_row(status="approved", context={"prompt_sha256": "x"})
    client.rows[row.request_id] = row
    other = make_row(status="approved", client_id="someone-else", context=None)
    client.rows[other.request_id] = other
    gate = make_gate(client, fake_time)
    for approval_id in (row.request_id, other.request_id):
        with pytest.raises(HTTPException) as caught:
            await gate.redeem(
                approval_id=approval_id, identity=identity(), prompt=PROMPT, cache=None
            )
        assert detail(caught.value)["reason"] == "foreign"


async def test_redeem_while_the_platform_is_down_is_retryable_and_never_passes(
    fake_time: FakeTime,
) -> None:
    client = FakeClient()
    client.get_error = AxonFlowFailure(FailureKind.UNAVAILABLE, "AxonFlow is unreachable")
    gate = make_gate(client, fake_time, fail_open=True)
    with pytest.raises(HTTPException) as caught:
        await gate.redeem(
            approval_id=str(uuid.uuid4()), identity=identity(), prompt=PROMPT, cache=None
        )
    assert caught.value.status_code == 503
    assert detail(caught.value)["code"] == ErrorCode.GOVERNANCE_UNAVAILABLE


def test_no_approval_error_is_a_status_clients_retry_on_their_own() -> None:
    from axonflow_guardrail._errors import status_of

    for code in ErrorCode:
        if code.value.startswith("approval"):
            status = status_of(code)
            assert 400 <= status < 500
            assert status not in (408, 409, 429)


def test_approval_id_from_header_or_metadata() -> None:
    approval_id = str(uuid.uuid4())
    with_header = {"proxy_server_request": {"headers": {"X-AxonFlow-Approval-Id": approval_id}}}
    assert approval_id_from(with_header) == approval_id
    assert (
        approval_id_from({"metadata": {"axonflow_approval_id": f" {approval_id} "}}) == approval_id
    )
    assert (
        approval_id_from({"litellm_metadata": {"axonflow_approval_id": approval_id}}) == approval_id
    )
    assert approval_id_from({"metadata": {"axonflow_approval_id": ""}}) is None
    assert approval_id_from({}) is None


# ---------------------------------------------------------------------- through the guardrail


class ScriptedGuardrail:
    """An `AxonFlowGuardrail` whose AxonFlow calls are scripted (no network)."""

    def __init__(self, verdicts: list[Verdict], fake_time: FakeTime, **params: Any) -> None:
        self.guardrail = AxonFlowGuardrail(
            guardrail_name="axonflow",
            event_hook=["pre_call", "post_call"],
            default_on=True,
            endpoint="http://127.0.0.1:9",
            client_id=CLIENT_ID,
            **{
                "approval_poll_interval_seconds": 1.0,
                "approval_max_wait_seconds": 5.0,
                **params,
            },
        )
        self.verdicts = list(verdicts)
        self.pre_checks: list[dict[str, Any]] = []
        self.approvals = FakeClient(polls=["approved"])
        client = self.guardrail.client
        client.pre_check = self._pre_check  # type: ignore[method-assign]
        client.create_approval = self.approvals.create_approval  # type: ignore[method-assign]
        client.get_approval = self.approvals.get_approval  # type: ignore[method-assign]
        self.guardrail.approvals = ApprovalGate(
            client=client,
            settings=self.guardrail.settings,
            sleep=fake_time.sleep,
            clock=fake_time.clock,
        )

    async def _pre_check(
        self,
        *,
        user_token: str,
        query: str,
        context: dict[str, Any],
        traceparent: str | None = None,
    ) -> PreCheckDecision:
        self.pre_checks.append(dict(context))
        verdict = self.verdicts.pop(0)
        policies = ("demo_wire_transfer_approval", "hitl_enterprise")
        return PreCheckDecision(
            verdict=verdict,
            context_id=f"ctx-{len(self.pre_checks)}",
            decision_id=f"dec-{len(self.pre_checks)}",
            policies=policies if verdict is Verdict.NEEDS_APPROVAL else (),
            block_reason="require_approval" if verdict is Verdict.NEEDS_APPROVAL else None,
        )

    async def call(
        self, *, key: str = "sk-alice", approval_id: str | None = None, cache: Any = None
    ) -> Any:
        headers = {APPROVAL_ID_HEADER: approval_id} if approval_id else {}
        data: dict[str, Any] = {
            "model": "mock",
            "messages": [{"role": "user", "content": PROMPT}],
            "litellm_call_id": str(uuid.uuid4()),
            "proxy_server_request": {"headers": headers},
        }
        auth = UserAPIKeyAuth(api_key=key, user_id="alice", team_id="team-a", key_alias=key)
        await self.guardrail.async_pre_call_hook(auth, cache, data, "acompletion")
        return data


async def test_the_fresh_pre_check_answering_require_approval_again_does_not_loop(
    fake_time: FakeTime,
) -> None:
    scripted = ScriptedGuardrail([Verdict.NEEDS_APPROVAL, Verdict.NEEDS_APPROVAL], fake_time)
    data = await scripted.call(cache=DualCache())
    assert len(scripted.approvals.created) == 1
    assert len(scripted.pre_checks) == 2
    approval_id = next(iter(scripted.approvals.rows))
    assert scripted.pre_checks[1]["approval_request_id"] == approval_id
    state = scripted.guardrail.calls.take(data)
    assert state is not None
    assert state.decision.context_id == "ctx-2"  # audited against the fresh context
    assert state.approval_id == approval_id


async def test_a_held_request_spends_its_approval(fake_time: FakeTime) -> None:
    scripted = ScriptedGuardrail([Verdict.NEEDS_APPROVAL, Verdict.ALLOW, Verdict.ALLOW], fake_time)
    cache = DualCache()
    await scripted.call(cache=cache)
    approval_id = next(iter(scripted.approvals.rows))
    with pytest.raises(HTTPException) as caught:
        await scripted.call(approval_id=approval_id, cache=cache)
    assert detail(caught.value)["reason"] == "spent"


async def test_a_resent_request_goes_through_once_and_is_not_held_again(
    fake_time: FakeTime,
) -> None:
    scripted = ScriptedGuardrail(
        [Verdict.NEEDS_APPROVAL, Verdict.NEEDS_APPROVAL, Verdict.NEEDS_APPROVAL],
        fake_time,
        approval_max_wait_seconds=0,
    )
    cache = DualCache()
    with pytest.raises(HTTPException) as caught:
        await scripted.call(cache=cache)
    approval_id = str(detail(caught.value)["approval_request_id"])
    scripted.approvals.set_status(approval_id, "approved")
    await scripted.call(approval_id=approval_id, cache=cache)
    assert len(scripted.approvals.created) == 1
    with pytest.raises(HTTPException) as caught:
        await scripted.call(approval_id=approval_id, cache=cache)
    assert detail(caught.value)["reason"] == "spent"


async def test_a_resent_request_denied_by_policy_does_not_spend(fake_time: FakeTime) -> None:
    scripted = ScriptedGuardrail(
        [Verdict.NEEDS_APPROVAL, Verdict.DENY, Verdict.ALLOW],
        fake_time,
        approval_max_wait_seconds=0,
    )
    cache = DualCache()
    with pytest.raises(HTTPException) as caught:
        await scripted.call(cache=cache)
    approval_id = str(detail(caught.value)["approval_request_id"])
    scripted.approvals.set_status(approval_id, "approved")
    with pytest.raises(HTTPException) as caught:
        await scripted.call(approval_id=approval_id, cache=cache)
    assert detail(caught.value)["code"] == ErrorCode.POLICY_DENIED
    await scripted.call(approval_id=approval_id, cache=cache)  # still usable once


# ---------------------------------------------------------------------- hold events (metrics)


class HoldEvents:
    def __init__(self) -> None:
        self.seen: list[tuple[str, float | None]] = []

    def hold_started(self) -> None:
        self.seen.append(("held", None))

    def hold_ended(self, *, outcome: str, seconds: float) -> None:
        self.seen.append((outcome, seconds))


@pytest.mark.parametrize(
    ("polls", "outcome"),
    [
        (["pending", "approved"], "approved"),
        (["overridden"], "approved"),
        (["pending", "rejected"], "rejected"),
        (["expired"], "expired"),
        (["pending"] * 10, "pending"),
    ],
)
async def test_each_hold_reports_its_start_end_and_duration(
    fake_time: FakeTime, polls: list[str], outcome: str
) -> None:
    events = HoldEvents()
    gate = ApprovalGate(
        client=cast(AxonFlowClient, FakeClient(polls=polls)),
        settings=settings(),
        sleep=fake_time.sleep,
        clock=fake_time.clock,
        events=events,
    )
    try:
        await hold(gate)
    except HTTPException:
        assert outcome != "approved"
    expected_wait = 10.0 if outcome == "pending" else 2.0 * len(polls)
    assert events.seen == [("held", None), (outcome, expected_wait)]


async def test_no_row_no_hold_reported(fake_time: FakeTime) -> None:
    events = HoldEvents()
    client = FakeClient()
    client.create_error = AxonFlowFailure(FailureKind.REJECTED, "HTTP 403", status=403)
    gate = ApprovalGate(
        client=cast(AxonFlowClient, client),
        settings=settings(),
        sleep=fake_time.sleep,
        clock=fake_time.clock,
        events=events,
    )
    with pytest.raises(HTTPException):
        await hold(gate)
    assert events.seen == []
