"""The request's W3C `traceparent` on every AxonFlow call, and the trace id AxonFlow answers.

Why the SDK client's event hooks: SDK 9.5 takes per-call headers (`extra_headers`) on the
pre-check and the MCP checks only; `audit_llm_call`, `audit_tool_call` and the approval calls
have no such argument, and `PolicyApprovalResult` drops the `trace_id` the agent answers the
pre-check with. Every call the SDK makes passes its httpx client's request and response hooks
(the lean client in `_http_client` runs them too), so one request hook adds the header to the
call in flight and one response hook reads the trace id back, and the HTTP status: some SDK
calls (the MCP checks) raise an error that drops it, and `classify_failure` needs it to tell a
refusal (401/402/403: fail closed) from an outage.

"The call in flight" is a `ContextVar` holding a `TracedCall`, set by `_client` around one SDK
call: each asyncio task has its own, so concurrent requests never see each other's trace.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

__all__ = ["TRACEPARENT_HEADER", "TracedCall", "install_trace_hooks", "traced"]

TRACEPARENT_HEADER = "traceparent"
_TRACE_ID = re.compile(r"[0-9a-f]{32}")
_INVALID_TRACE_ID = "0" * 32


@dataclass(slots=True)
class TracedCall:
    """One SDK call: the traceparent it sends, the HTTP status of its answer and, for a
    pre-check, the trace id answered."""

    traceparent: str | None
    read_trace_id: bool = False
    trace_id: str | None = None
    status: int | None = None


_current: ContextVar[TracedCall | None] = ContextVar("axonflow_guardrail_call", default=None)


@contextmanager
def traced(call: TracedCall | None) -> Iterator[TracedCall | None]:
    """Make `call` the call in flight for the SDK call awaited inside the block."""
    token = _current.set(call)
    try:
        yield call
    finally:
        _current.reset(token)


async def _add_traceparent(request: httpx.Request) -> None:
    call = _current.get()
    if call is not None and call.traceparent:
        request.headers[TRACEPARENT_HEADER] = call.traceparent


async def _read_answer(response: httpx.Response) -> None:
    call = _current.get()
    if call is None:
        return
    call.status = response.status_code
    if not call.read_trace_id:
        return
    try:
        content = await response.aread()  # the lean client's answers are already read
        call.trace_id = trace_id_of(content, response.headers.get(TRACEPARENT_HEADER))
    except Exception:  # a trace id is worth nothing next to the answer itself
        call.trace_id = None


def trace_id_of(content: bytes, traceparent: str | None) -> str | None:
    """The `trace_id` of a pre-check answer, else the trace id of an answered `traceparent`."""
    body: Any = orjson.loads(content) if content else None
    if isinstance(body, dict):
        value = body.get("trace_id")
        if isinstance(value, str) and _valid(value.lower()):
            return value.lower()
    if traceparent:
        parts = traceparent.strip().lower().split("-")
        if len(parts) >= 4 and _valid(parts[1]):
            return parts[1]
    return None


def _valid(trace_id: str) -> bool:
    return _TRACE_ID.fullmatch(trace_id) is not None and trace_id != _INVALID_TRACE_ID


def install_trace_hooks(sdk: object, attribute: str = "_http_client") -> bool:
    """Add the hooks to the SDK client's httpx client. False (nothing changed) when the SDK
    is not built as expected: calls then carry no trace context, and nothing else changes."""
    client = getattr(sdk, attribute, None)
    if not isinstance(client, httpx.AsyncClient):
        return False
    hooks = client.event_hooks
    hooks.setdefault("request", []).append(_add_traceparent)
    hooks.setdefault("response", []).append(_read_answer)
    client.event_hooks = hooks
    return True
