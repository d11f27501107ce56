"""A call that breaks on our side before AxonFlow answers is the guardrail's failure, not
AxonFlow's unavailability: it fails closed whatever `fail_open` says, and never counts
against AxonFlow's breaker. A malformed answer from AxonFlow is still unavailability.

Through the official SDK over real HTTP to the dev agent: the SDK cannot encode a lone
surrogate (which `json.loads` makes of a `\\ud800` escape), so a call carrying one raises
before anything is sent.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest

from tests.support.processes import TEST_ENV

os.environ.update(TEST_ENV)

from axonflow import exceptions as sdk_errors
from fastapi import HTTPException
from litellm.types.utils import ModelResponse

from axonflow_guardrail._settings import GuardrailSettings
from axonflow_guardrail.axonflow._failures import AxonFlowFailure, FailureKind, classify_failure
from axonflow_guardrail.gates._output_check import OutputCall, OutputGate
from axonflow_guardrail.request._identity import CallerIdentity
from tests.support.dev_agent import DevAgent, start_dev_agent
from tests.unit.axonflow.test_trace_context_calls import CLIENT, Recorder, client

LONE_SURROGATE = "drop table users; -- \ud800"


@pytest.fixture(scope="module")
def agent() -> Iterator[DevAgent]:
    with start_dev_agent(clients=[CLIENT]) as running:
        yield running


def _settings(agent: DevAgent) -> GuardrailSettings:
    return GuardrailSettings.from_litellm_params(
        {
            "endpoint": agent.url,
            "client_id": CLIENT[0],
            "client_secret": CLIENT[1],
            "fail_open": True,
            "check_output": True,
        }
    )


@pytest.mark.parametrize(
    ("exc", "answer_seen", "kind"),
    [
        # Broke before any answer, not on the wire: ours.
        (ValueError("cannot encode"), False, FailureKind.BROKEN),
        (TypeError("bad argument"), False, FailureKind.BROKEN),
        (KeyError("field"), False, FailureKind.BROKEN),
        (RuntimeError("bug"), False, FailureKind.BROKEN),
        # The same errors after an answer: AxonFlow's answer was malformed.
        (ValueError("bad JSON"), True, FailureKind.UNAVAILABLE),
        (KeyError("context_id"), True, FailureKind.UNAVAILABLE),
        # Not known whether an answer came (an SDK without hooks): as before.
        (ValueError("?"), None, FailureKind.UNAVAILABLE),
        # The wire and the SDK's own errors are AxonFlow's, answer or not.
        (httpx.ConnectError("refused"), False, FailureKind.UNAVAILABLE),
        (httpx.ReadTimeout("slow"), False, FailureKind.UNAVAILABLE),
        (TimeoutError(), False, FailureKind.UNAVAILABLE),
        (sdk_errors.ConnectionError("down"), False, FailureKind.UNAVAILABLE),
        (sdk_errors.AuthenticationError("no"), False, FailureKind.REJECTED),
    ],
)
def test_who_failed(exc: BaseException, answer_seen: bool | None, kind: FailureKind) -> None:
    assert classify_failure(exc, answer_seen=answer_seen).kind is kind


async def test_a_pre_check_the_sdk_cannot_send_is_broken_and_spares_the_breaker(
    agent: DevAgent,
) -> None:
    agent.reset()
    events = Recorder()
    axonflow = client(agent.url, events=events, threshold=1)
    try:
        with pytest.raises(AxonFlowFailure) as raised:
            await axonflow.pre_check(user_token="anonymous", query=LONE_SURROGATE, context={})
        # With a threshold of 1, an outage would have opened the breaker: the next call
        # would be refused without reaching AxonFlow. It reaches AxonFlow.
        decision = await axonflow.pre_check(user_token="anonymous", query="hello", context={})
    finally:
        await axonflow.close()
    assert raised.value.kind is FailureKind.BROKEN
    assert ("pre_check", "broken") in events.calls
    assert decision.context_id
    assert [r["path"] for r in agent.requests()] == ["/api/policy/pre-check"]


async def test_a_malformed_answer_is_still_unavailability(agent: DevAgent) -> None:
    agent.reset()
    agent.set_fault("/api/policy/pre-check", malformed=True, times=1)
    axonflow = client(agent.url)
    try:
        with pytest.raises(AxonFlowFailure) as raised:
            await axonflow.pre_check(user_token="anonymous", query="hello", context={})
    finally:
        await axonflow.close()
    assert raised.value.kind is FailureKind.UNAVAILABLE


def _output_call() -> OutputCall:
    identity = CallerIdentity(
        user_token="anonymous",
        user_token_source="default",
        enforcement_mode="enforce",
        enforcement_source="guardrail",
    )
    return OutputCall(
        identity=identity, enforcement="enforce", call_id="call-broken", context_id=None
    )


async def test_model_output_that_cannot_be_checked_is_refused_even_with_fail_open(
    agent: DevAgent,
) -> None:
    """`fail_open: true` is for AxonFlow's outages: output the guardrail cannot send to the
    check is not let through unchecked (503 `guardrail_error`)."""
    agent.reset()
    axonflow = client(agent.url)
    try:
        gate = OutputGate(client=axonflow, settings=_settings(agent))
        with pytest.raises(HTTPException) as refused:
            await gate.check(LONE_SURROGATE, call=_output_call())
    finally:
        await axonflow.close()
    assert refused.value.status_code == 503
    assert refused.value.detail["code"] == "guardrail_error"
    assert agent.requests() == []


async def test_a_whole_response_that_cannot_be_checked_is_withheld(agent: DevAgent) -> None:
    response = ModelResponse(
        choices=[{"index": 0, "message": {"role": "assistant", "content": LONE_SURROGATE}}]
    )
    axonflow = client(agent.url)
    try:
        gate = OutputGate(client=axonflow, settings=_settings(agent))
        with pytest.raises(HTTPException) as refused:
            await gate.check_response(response, call=_output_call())
    finally:
        await axonflow.close()
    assert refused.value.detail["code"] == "guardrail_error"
