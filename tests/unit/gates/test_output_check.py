"""Masked output text put back into non-streaming responses, or refused when not faithful."""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.support.processes import TEST_ENV

os.environ.update(TEST_ENV)

from fastapi import HTTPException
from litellm.types.utils import ModelResponse, TextCompletionResponse

from axonflow_guardrail._settings import GuardrailSettings
from axonflow_guardrail.axonflow._client import OutputDecision
from axonflow_guardrail.axonflow._failures import AxonFlowFailure, FailureKind
from axonflow_guardrail.gates._output_check import OutputCall, OutputGate
from axonflow_guardrail.request._identity import CallerIdentity
from axonflow_guardrail.response._rewrite import replace_response_text
from axonflow_guardrail.response._text import extract_response_text

MASKED = "SSN 1*********9"


def chat(**message: Any) -> ModelResponse:
    return ModelResponse(choices=[{"index": 0, "message": {"role": "assistant", **message}}])


def test_chat_content_is_replaced() -> None:
    response = chat(content="SSN 123-45-6789")
    assert replace_response_text(response, MASKED)
    assert extract_response_text(response) == MASKED


def test_text_completion_is_replaced() -> None:
    response = TextCompletionResponse(choices=[{"index": 0, "text": "SSN 123-45-6789"}])
    assert replace_response_text(response, MASKED)
    assert response.choices[0].text == MASKED


def test_responses_output_text_parts_are_replaced() -> None:
    response: dict[str, Any] = {
        "output": [
            {"type": "reasoning", "summary": []},
            {
                "type": "message",
                "content": [
                    {"type": "output_text", "text": "SSN 123-"},
                    {"type": "output_text", "text": "45-6789"},
                ],
            },
        ]
    }
    assert replace_response_text(response, MASKED)
    parts = response["output"][1]["content"]
    assert [p["text"] for p in parts] == [MASKED, ""]


def test_anthropic_text_blocks_are_replaced() -> None:
    response: dict[str, Any] = {
        "content": [{"type": "thinking", "thinking": "hm"}, {"type": "text", "text": "SSN 1234"}]
    }
    assert replace_response_text(response, MASKED)
    assert response["content"][1]["text"] == MASKED


@pytest.mark.parametrize(
    "response",
    [
        pytest.param(
            chat(
                content="calling",
                tool_calls=[
                    {
                        "id": "c",
                        "type": "function",
                        "function": {"name": "f", "arguments": '{"ssn": "123-45-6789"}'},
                    }
                ],
            ),
            id="chat-tool-call",
        ),
        pytest.param(
            ModelResponse(
                choices=[
                    {"index": 0, "message": {"role": "assistant", "content": "a"}},
                    {"index": 1, "message": {"role": "assistant", "content": "b"}},
                ]
            ),
            id="two-choices",
        ),
        pytest.param(
            {"output": [{"type": "function_call", "name": "f", "arguments": "{}"}]},
            id="responses-function-call",
        ),
        pytest.param(
            {"output": [{"type": "message", "content": [{"type": "refusal", "refusal": "no"}]}]},
            id="responses-refusal",
        ),
        pytest.param(
            {"content": [{"type": "text", "text": "x"}, {"type": "tool_use", "name": "f"}]},
            id="anthropic-tool-use",
        ),
        pytest.param({"data": [{"embedding": [0.1]}]}, id="no-text"),
    ],
)
def test_shapes_that_cannot_carry_the_masked_text_are_refused(response: Any) -> None:
    before = repr(response)
    assert replace_response_text(response, MASKED) is False
    assert repr(response) == before  # untouched: the caller withholds it


# ------------------------------------------------------------------ OutputGate verdicts


class _FakeClient:
    def __init__(self, decision: Any) -> None:
        self.decision = decision

    async def check_output(self, **_: Any) -> Any:
        return self.decision


def _call(enforcement: str) -> OutputCall:
    return OutputCall(
        identity=CallerIdentity(
            user_token="t",
            user_token_source="default",
            enforcement_mode=enforcement,  # type: ignore[arg-type]
            enforcement_source="guardrail",
        ),
        enforcement=enforcement,
        call_id="c",
        context_id="ctx",
    )


def _gate(decision: Any) -> Any:

    settings = GuardrailSettings(endpoint="http://agent", client_id="c", check_output=True)
    return OutputGate(client=_FakeClient(decision), settings=settings)  # type: ignore[arg-type]


async def test_a_redacted_answer_is_masked_in_enforce_mode_only() -> None:

    decision = OutputDecision(
        allowed=True, masked_text=MASKED, block_reason=None, decision_id="d-1"
    )
    enforced = await _gate(decision).check("SSN 123-45-6789", call=_call("enforce"))
    assert enforced.masked_text == MASKED
    shadow = await _gate(decision).check("SSN 123-45-6789", call=_call("audit"))
    assert shadow.masked_text is None  # shadow mode never rewrites


async def test_a_blocked_answer_is_refused_in_enforce_and_recorded_in_audit_mode() -> None:

    decision = OutputDecision(allowed=False, masked_text=None, block_reason="no", decision_id="d")
    with pytest.raises(HTTPException) as caught:
        await _gate(decision).check("key", call=_call("enforce"))
    assert caught.value.detail["code"] == "output_blocked"
    verdict = await _gate(decision).check("key", call=_call("audit"))
    assert verdict.masked_text is None
    assert verdict.would_have_blocked is True


class _FailingClient:
    def __init__(self, failure: AxonFlowFailure) -> None:
        self.failure = failure

    async def check_output(self, **_: Any) -> Any:
        raise self.failure


@pytest.mark.parametrize(
    ("failure", "fail_open", "enforce_code"),
    [
        (AxonFlowFailure(FailureKind.REJECTED, "creds", status=401), True, "governance_rejected"),
        (AxonFlowFailure(FailureKind.UNAVAILABLE, "down"), False, "governance_unavailable"),
        # Broken on the guardrail's side: not an outage, so fail_open does not let it out.
        (AxonFlowFailure(FailureKind.BROKEN, "bug"), True, "guardrail_error"),
    ],
)
async def test_shadow_mode_never_withholds_an_answer_it_could_not_check(
    failure: AxonFlowFailure, fail_open: bool, enforce_code: str
) -> None:
    settings = GuardrailSettings(
        endpoint="http://agent", client_id="c", check_output=True, fail_open=fail_open
    )
    gate = OutputGate(client=_FailingClient(failure), settings=settings)  # type: ignore[arg-type]
    with pytest.raises(HTTPException) as caught:
        await gate.check("answer", call=_call("enforce"))
    assert caught.value.detail["code"] == enforce_code
    verdict = await gate.check("answer", call=_call("audit"))
    assert verdict.failed_open is True


class _BuggyClient:
    async def check_output(self, **_: Any) -> Any:
        raise RuntimeError("a bug in the guardrail, not AxonFlow's answer")


@pytest.mark.parametrize(
    ("fail_open", "on_internal_error", "enforcement", "withheld"),
    [
        (True, False, "enforce", True),  # fail_open covers AxonFlow's outages, not bugs
        (False, False, "enforce", True),
        (True, True, "enforce", False),  # the operator accepted the risk
        (False, True, "enforce", True),  # ... and fail_open still decides
        (False, False, "audit", False),  # shadow mode never withholds
    ],
)
async def test_a_bug_while_checking_a_response_is_decided_as_a_broken_call(
    fail_open: bool, on_internal_error: bool, enforcement: str, withheld: bool
) -> None:
    settings = GuardrailSettings(
        endpoint="http://agent",
        client_id="c",
        check_output=True,
        fail_open=fail_open,
        fail_open_on_internal_error=on_internal_error,
    )
    gate = OutputGate(client=_BuggyClient(), settings=settings)  # type: ignore[arg-type]
    response = chat(content="the answer")
    if withheld:
        with pytest.raises(HTTPException) as caught:
            await gate.check_response(response, call=_call(enforcement))
        assert caught.value.status_code == 503
        assert caught.value.detail["code"] == "guardrail_error"
    else:
        verdict = await gate.check_response(response, call=_call(enforcement))
        assert verdict.failed_open is True
