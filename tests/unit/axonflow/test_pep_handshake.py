"""The PEP handshake the guardrail presents: only with an audience, `field_redact@1` only when
masked text really replaces the original (redact_input on, and a mode that can rewrite).

The guardrail is built as LiteLLM builds it and its client talks to a real dev agent, whose
request log shows the headers the official SDK actually sent.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.processes import TEST_ENV

os.environ.update(TEST_ENV)

from axonflow_guardrail import AxonFlowGuardrail
from tests.support.dev_agent import DevAgent, start_dev_agent

HEADER = "x-axonflow-pep-handshake"


@pytest.fixture(scope="module")
def agent() -> Iterator[DevAgent]:
    with start_dev_agent(clients=[("litellm-test", "test-secret")]) as running:
        yield running


@pytest.fixture(autouse=True)
def _reset(agent: DevAgent) -> None:
    agent.reset()


def build(agent: DevAgent, mode: list[str], **settings: Any) -> AxonFlowGuardrail:
    return AxonFlowGuardrail(
        guardrail_name="pep-test",
        event_hook=mode,
        default_on=False,
        endpoint=agent.url,
        client_id="litellm-test",
        client_secret="test-secret",
        **settings,
    )


async def sent_handshakes(agent: DevAgent, guard: AxonFlowGuardrail) -> list[dict[str, Any] | None]:
    """Run the calls that carry the handshake; the decoded header each one sent (or None)."""
    try:
        await guard.client.pre_check(user_token="anonymous", query="hello", context={})
        await guard.client.mask_input(text="SSN 123-45-6789", user_token="anonymous", user_id=None)
        await guard.client.check_output(text="fine", user_token="anonymous", user_id=None)
    finally:
        await guard.client.close()
    found: list[dict[str, Any] | None] = []
    for request in agent.requests():
        headers = {k.lower(): v for k, v in request["headers"].items()}
        raw = headers.get(HEADER)
        if raw is None:
            found.append(None)
            continue
        padded = raw + "=" * (-len(raw) % 4)
        found.append(json.loads(base64.urlsafe_b64decode(padded)))
    assert len(found) == 3
    return found


async def test_no_audience_no_header(agent: DevAgent, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AXONFLOW_PEP_AUDIENCE", raising=False)
    guard = build(agent, ["pre_call", "post_call"])
    assert await sent_handshakes(agent, guard) == [None, None, None]


async def test_audience_and_redaction_declare_field_redact(
    agent: DevAgent, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AXONFLOW_PEP_AUDIENCE", "litellm.example/gateway")
    guard = build(agent, ["pre_call", "post_call"])
    for handshake in await sent_handshakes(agent, guard):
        assert handshake is not None
        assert handshake["audience"] == "litellm.example/gateway"
        assert handshake["pep_id"] == "litellm-proxy"
        assert handshake["capabilities"] == [{"type": "field_redact", "version": 1}]


@pytest.mark.parametrize(
    ("mode", "settings"),
    [
        (["pre_call", "post_call"], {"redact_input": False}),
        # during_call runs beside the LLM call: it never substitutes masked text.
        (["during_call", "post_call"], {}),
    ],
    ids=["redact_input-off", "during_call-only"],
)
async def test_audience_without_substitution_declares_nothing(
    agent: DevAgent, monkeypatch: pytest.MonkeyPatch, mode: list[str], settings: dict[str, Any]
) -> None:
    monkeypatch.setenv("AXONFLOW_PEP_AUDIENCE", "litellm.example/gateway")
    guard = build(agent, mode, **settings)
    for handshake in await sent_handshakes(agent, guard):
        assert handshake is not None  # still a declaration: it discharges nothing
        assert handshake["capabilities"] == []


async def test_mcp_argument_masking_declares_field_redact(
    agent: DevAgent, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AXONFLOW_PEP_AUDIENCE", "litellm.example/gateway")
    monkeypatch.setenv("AXONFLOW_PEP_ID", "gw-7")
    guard = build(agent, ["pre_mcp_call"])
    for handshake in await sent_handshakes(agent, guard):
        assert handshake is not None
        assert handshake["pep_id"] == "gw-7"
        assert handshake["capabilities"] == [{"type": "field_redact", "version": 1}]
