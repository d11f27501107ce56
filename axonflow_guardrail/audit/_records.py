"""The audit records of a call, built from what the pre-check remembered and the answer.

One `LLMCallAudit` per LLM call (success, blocked answer, failed model call, stream), one
`ToolCallAudit` per MCP tool call. A record never holds a withheld answer (the summary says
`[response withheld by governance]`), never a secret, and carries the ids that trace it: the
LiteLLM call id and the guardrail's own request id.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from axonflow.types import AuditToolCallRequest

from axonflow_guardrail.audit._call_state import CallState
from axonflow_guardrail.request._extracted import RequestNotCheckable
from axonflow_guardrail.request._identity import CallerIdentity
from axonflow_guardrail.request._text import extract_request_text
from axonflow_guardrail.response._text import extract_response_text, response_usage
from axonflow_guardrail.response._usage import estimate_usage

__all__ = [
    "WITHHELD_SUMMARY",
    "AuditRecord",
    "LLMCallAudit",
    "Replay",
    "ToolCallAudit",
    "llm_call_audit",
    "stream_audit",
    "tool_call_audit",
]

#: The audit summary of a response the client never received (it may hold what was blocked).
WITHHELD_SUMMARY = "[response withheld by governance]"
_SUMMARY_CHARS = 500


@dataclass(frozen=True, slots=True, kw_only=True)
class Replay:
    """What a new pre-check of the call needs: for a context that expired before its audit
    was delivered, and for a call that passed on `fail_open` without any (`_retroactive`).

    `user_token` is a secret: the outbox stores it sealed (`_sealing`), or not at all when it
    is the guardrail's `default_user_token`."""

    query: str = field(repr=False)
    user_token: str = field(repr=False)
    user_token_source: str
    identity: Mapping[str, Any]
    model: str
    route: str | None
    call_type: str
    decision_id: str | None
    checked_at: float
    expires_at: float | None
    failed_open: str | None
    enforcement: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LLMCallAudit:
    call_id: str
    context_id: str
    provider: str
    model: str
    usage: tuple[int, int, int]
    latency_ms: int
    response_summary: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
    replay: Replay | None = None
    #: The request's W3C traceparent, sent with the audit call (never in the record's body).
    traceparent: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCallAudit:
    call_id: str
    request: AuditToolCallRequest
    traceparent: str | None = None


AuditRecord = LLMCallAudit | ToolCallAudit


def llm_call_audit(
    state: CallState,
    *,
    guardrail_name: str,
    response: Any,
    outcome: str,
    summary: str | None = None,
    estimated_usage: tuple[int, int, int] | None = None,
) -> LLMCallAudit:
    """The record of one LLM call; `summary` replaces the response's text (withheld, failed)."""
    text = summary if summary is not None else extract_response_text(response)
    usage = response_usage(response) if response is not None else (0, 0, 0)
    if estimated_usage is not None:
        usage = estimated_usage
    metadata: dict[str, Any] = {
        "outcome": outcome,
        "call_type": state.call_type,
        "route": state.route,
        "enforcement": state.enforcement,
        "guardrail": guardrail_name,
        "user_token_source": state.identity.user_token_source,
        "axonflow_request_id": state.request_id,
    }
    if state.would_have_blocked:
        metadata["would_have_blocked"] = True
    if state.approval_id:
        metadata["approval_request_id"] = state.approval_id
    if state.redacted:
        metadata["input_redacted"] = True
    if estimated_usage is not None:
        metadata["usage_estimated"] = True
    if state.failed_open is not None:
        metadata["failed_open"] = True
        metadata["failed_open_reason"] = state.failed_open
    return LLMCallAudit(
        call_id=state.litellm_call_id or state.request_id,
        context_id=state.decision.context_id,
        provider=_encodable(_provider_of(response, state.model)),
        model=_encodable(_model_of(response, state.model)),
        usage=usage,
        latency_ms=int((time.monotonic() - state.checked_at) * 1000),
        response_summary=_encodable(text[:_SUMMARY_CHARS]),
        metadata=metadata,
        replay=_replay_of(state) if state.query else None,
        traceparent=state.traceparent,
    )


def _encodable(text: str) -> str:
    """`text`, with any lone surrogate (a provider's `\\ud800` escape, which `json.loads`
    keeps) as U+FFFD: neither the outbox nor the SDK can encode one, and a record that cannot
    be encoded would be lost. Requests never get here with one (refused at admission)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def _replay_of(state: CallState) -> Replay:
    identity = state.identity
    return Replay(
        query=state.query,
        user_token=identity.user_token,
        user_token_source=identity.user_token_source,
        identity={k: v for k, v in identity.context().items() if v is not None},
        model=state.model,
        route=state.route,
        call_type=state.call_type,
        decision_id=state.decision.decision_id,
        checked_at=state.checked_wall,
        expires_at=state.decision.expires_at,
        failed_open=state.failed_open,
        enforcement=state.enforcement,
    )


def stream_audit(
    state: CallState,
    *,
    guardrail_name: str,
    chunks: list[Any],
    outcome: str,
    request_data: Mapping[str, Any],
) -> LLMCallAudit:
    """The record of a stream: what was relayed, with usage estimated when it reported none."""
    estimated = None
    if chunks and not any(response_usage(chunks)):  # e.g. /v1/completions streams
        estimated = estimate_usage(
            state.model, _prompt_text(request_data, state.call_type), extract_response_text(chunks)
        )
    return llm_call_audit(
        state,
        guardrail_name=guardrail_name,
        response=chunks,
        outcome=outcome,
        summary=WITHHELD_SUMMARY if outcome == "blocked" else None,
        estimated_usage=estimated,
    )


def _prompt_text(data: Mapping[str, Any], call_type: str) -> str:
    """The request's text for a usage estimate (it was checked before; never raises here)."""
    try:
        return extract_request_text(data, call_type, max_chars=0).joined()
    except RequestNotCheckable:
        return ""


def tool_call_audit(
    *,
    call_id: str,
    identity: CallerIdentity,
    tool: str,
    server: str,
    arguments: Any,
    duration_ms: int,
    success: bool,
    error_message: str | None,
    traceparent: str | None = None,
    failed_open: str | None = None,
) -> ToolCallAudit:
    """The record of one MCP tool call, with the arguments as the tool received them;
    `failed_open`: why it ran unchecked (AxonFlow could not answer), shown in its input."""
    recorded: dict[str, Any] = {"server": server, "arguments": arguments}
    if failed_open is not None:
        recorded["failed_open"] = failed_open
    return ToolCallAudit(
        call_id=call_id,
        request=AuditToolCallRequest(
            tool_name=tool or "unknown",
            caller_name="litellm-proxy",
            tool_type="mcp",
            input=recorded,
            user_id=identity.user_id,
            duration_ms=duration_ms,
            policies_applied=None,
            success=success,
            error_message=error_message,
        ),
        traceparent=traceparent,
    )


def _hidden(response: Any) -> Mapping[str, Any]:
    hidden = getattr(response, "_hidden_params", None)
    return hidden if isinstance(hidden, Mapping) else {}


def _provider_of(response: Any, model: str) -> str:
    provider = _hidden(response).get("custom_llm_provider")
    if isinstance(provider, str) and provider:
        return provider
    return model.split("/", 1)[0] if "/" in model else "litellm"


def _model_of(response: Any, model: str) -> str:
    value = getattr(response, "model", None)
    if isinstance(response, Mapping):
        value = response.get("model")
    return value if isinstance(value, str) and value else (model or "unknown")
