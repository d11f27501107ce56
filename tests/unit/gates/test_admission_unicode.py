"""Text that is not valid Unicode is the client's error (400), never a fail-open pass.

`json.loads` turns a `\\ud800` escape into a lone surrogate, and LiteLLM releases before 1.106
pass such a body on. The SDK cannot encode it, so the pre-check would fail before it left the
worker; that failure must not read as AxonFlow being down, which `fail_open: true` lets through.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi import HTTPException
from litellm.proxy._types import UserAPIKeyAuth

from axonflow_guardrail import AxonFlowGuardrail

SQLI = "x UNION SELECT password FROM users"


def body_with_lone_surrogate() -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(
        '{"model": "m", "messages": [{"role": "user", "content": "ok"},'
        ' {"role": "user", "content": "\\ud800 ' + SQLI + '"}]}'
    )
    return {**parsed, "litellm_call_id": "call-1", "metadata": {}}


async def test_a_lone_surrogate_is_refused_as_malformed_even_when_failing_open() -> None:
    guard = AxonFlowGuardrail(
        guardrail_name="axonflow",
        event_hook=["pre_call", "post_call"],
        default_on=True,
        endpoint="http://127.0.0.1:9",  # never reached: the request is refused first
        client_id="c",
        fail_open=True,
    )
    with pytest.raises(HTTPException) as refused:
        await guard.async_pre_call_hook(
            UserAPIKeyAuth(), None, body_with_lone_surrogate(), "acompletion"
        )
    assert refused.value.status_code == 400
    assert refused.value.detail["code"] == "malformed_request"
    assert "messages[1].content" in refused.value.detail["error"]
