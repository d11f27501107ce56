"""Call state: exactly-once take, no client forgery, bounded."""

from __future__ import annotations

from typing import Any

from axonflow_guardrail.audit._call_state import REQUEST_ID_KEY, CallState, CallStateStore
from axonflow_guardrail.axonflow._client import PreCheckDecision, Verdict
from axonflow_guardrail.request._identity import CallerIdentity


def state(request_id: str) -> CallState:
    return CallState(
        request_id=request_id,
        litellm_call_id="call",
        call_type="acompletion",
        model="m",
        route="/v1/chat/completions",
        identity=CallerIdentity(
            user_token="t",
            user_token_source="default",
            enforcement_mode="enforce",
            enforcement_source="guardrail",
        ),
        decision=PreCheckDecision(
            verdict=Verdict.ALLOW, context_id="ctx", decision_id="d", policies=(), block_reason=None
        ),
        enforcement="enforce",
    )


def test_take_is_exactly_once() -> None:
    store = CallStateStore()
    data: dict[str, Any] = {"metadata": {}}
    store.put(data, state("r1"))
    assert store.take(data) is not None
    assert store.take(data) is None


def test_a_forged_request_id_is_overwritten() -> None:
    store = CallStateStore()
    data: dict[str, Any] = {"metadata": {REQUEST_ID_KEY: "forged"}}
    store.put(data, state("r2"))
    assert data["metadata"][REQUEST_ID_KEY] == "r2"


def test_unknown_ids_find_nothing() -> None:
    store = CallStateStore()
    assert store.take({"metadata": {REQUEST_ID_KEY: "never-issued"}}) is None
    assert store.take({}) is None


def test_responses_and_messages_keep_metadata_in_litellm_metadata() -> None:
    store = CallStateStore()
    data: dict[str, Any] = {"litellm_metadata": {}}
    store.put(data, state("r3"))
    assert store.take(data) is not None


def test_bounded_by_count_and_age() -> None:
    now = [0.0]
    store = CallStateStore(max_entries=2, max_age_seconds=10, clock=lambda: now[0])
    for i in range(3):
        store.put({"metadata": {}}, state(f"n{i}"))
    assert len(store) == 2
    now[0] = 100
    store.put({"metadata": {}}, state("late"))
    assert len(store) == 1


def test_two_guardrails_on_one_request_each_find_their_own_state() -> None:
    """default_on plus a per-model AxonFlow guardrail: both audit the same request."""
    first = CallStateStore(key=f"{REQUEST_ID_KEY}:a")
    second = CallStateStore(key=f"{REQUEST_ID_KEY}:b")
    data: dict[str, Any] = {"metadata": {}}
    first.put(data, state("ra"))
    second.put(data, state("rb"))
    taken_a, taken_b = first.take(data), second.take(data)
    assert taken_a is not None
    assert taken_a.request_id == "ra"
    assert taken_b is not None
    assert taken_b.request_id == "rb"


def test_a_decided_call_and_a_fail_open_pass_carry_the_same_request_fields() -> None:
    """Both are built from the request by one function: a field added for one (the trace
    context once was) cannot be missing from the other, whose audit is sent much later."""
    from axonflow_guardrail.request._extracted import ExtractedText
    from axonflow_guardrail.request._governed import GovernedRequest

    base = state("unused")
    request = GovernedRequest(
        data={},
        call_type="acompletion",
        call_id="call-9",
        model="m",
        route="/v1/chat/completions",
        identity=base.identity,
        text=ExtractedText(segments=(), truncated=False, total_chars=0),
        query="Summarise the report",
        traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    )
    store = CallStateStore()
    decided = store.remember(
        {},
        request=request,
        decision=base.decision,
        would_have_blocked=False,
        approval_id=None,
        redacted=False,
        keep=False,
    )
    passed = store.remember_failed_open({}, request=request, reason="AxonFlow is unreachable")
    for kept in (decided, passed):
        assert (kept.litellm_call_id, kept.query, kept.traceparent) == (
            "call-9",
            "Summarise the report",
            request.traceparent,
        )
    assert passed.failed_open == "AxonFlow is unreachable"
    assert passed.decision.context_id == ""
