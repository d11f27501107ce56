"""The guardrail's own bug never opens the door: it fails closed unless the operator says so.

A bug cannot be provoked through a well-formed request (that would be a bug to fix), so these
tests inject one: the text extractor is replaced by a function that raises. Everything else is
the real guardrail, called in-process the way LiteLLM calls it; no AxonFlow call is reached.
"""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from typing import Any

import pytest
from fastapi import HTTPException
from litellm.proxy._types import UserAPIKeyAuth

from axonflow_guardrail import AxonFlowGuardrail
from axonflow_guardrail.gates import _admission as admission_module


def guardrail(**settings: Any) -> AxonFlowGuardrail:
    return AxonFlowGuardrail(
        guardrail_name="axonflow",
        event_hook=["pre_call", "post_call"],
        default_on=True,
        endpoint="http://127.0.0.1:9",
        client_id="c",
        **settings,
    )


def request() -> dict[str, Any]:
    return {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "litellm_call_id": "call-1",
        "metadata": {},
    }


@pytest.fixture(autouse=True)
def _a_bug_in_the_extractor(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("injected bug")

    monkeypatch.setattr(admission_module, "extract_request_text", broken)


@pytest.mark.parametrize("fail_open", [True, False])
async def test_an_internal_error_fails_closed_whatever_fail_open_says(fail_open: bool) -> None:
    guard = guardrail(fail_open=fail_open)
    with pytest.raises(HTTPException) as refused:
        await guard.async_pre_call_hook(UserAPIKeyAuth(), None, request(), "acompletion")
    assert refused.value.status_code == 503
    assert refused.value.detail["code"] == "guardrail_error"
    assert refused.value.headers == {"Retry-After": "5"}


async def test_the_operator_may_let_fail_open_decide_a_documented_risk() -> None:
    guard = guardrail(fail_open=True, fail_open_on_internal_error=True)
    assert await guard.async_pre_call_hook(UserAPIKeyAuth(), None, request(), "acompletion") is None

    strict = guardrail(fail_open=False, fail_open_on_internal_error=True)
    with pytest.raises(HTTPException) as refused:
        await strict.async_pre_call_hook(UserAPIKeyAuth(), None, request(), "acompletion")
    assert refused.value.detail["code"] == "governance_unavailable"


async def test_audit_mode_never_blocks_not_even_on_a_bug() -> None:
    guard = guardrail(enforcement_mode="audit")
    assert await guard.async_pre_call_hook(UserAPIKeyAuth(), None, request(), "acompletion") is None
