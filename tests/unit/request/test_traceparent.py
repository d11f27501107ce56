"""The request's trace context: the client's valid `traceparent`, else LiteLLM's OTel span,
else none; malformed client headers are never forwarded."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.trace import INVALID_SPAN, NonRecordingSpan, SpanContext, TraceFlags

from axonflow_guardrail.request._trace import traceparent_of, valid_traceparent

TRACE = "0af7651916cd43dd8448eb211c80319c"
PARENT = "b7ad6b7169203331"
GOOD = f"00-{TRACE}-{PARENT}-01"


def request(headers: dict[str, str] | None = None, span: Any = None) -> dict[str, Any]:
    data: dict[str, Any] = {"proxy_server_request": {"headers": headers or {}}, "metadata": {}}
    if span is not None:
        data["metadata"]["litellm_parent_otel_span"] = span
    return data


def span(trace_id: int, span_id: int, flags: int = 1) -> NonRecordingSpan:
    context = SpanContext(
        trace_id=trace_id, span_id=span_id, is_remote=False, trace_flags=TraceFlags(flags)
    )
    return NonRecordingSpan(context)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (GOOD, GOOD),
        (f"  {GOOD.upper()} ", GOOD),
        (f"01-{TRACE}-{PARENT}-01-later-fields", f"00-{TRACE}-{PARENT}-01"),
        (f"00-{TRACE}-{PARENT}-01-extra", None),  # version 00 has exactly four fields
        (f"ff-{TRACE}-{PARENT}-01", None),
        (f"00-{'0' * 32}-{PARENT}-01", None),
        (f"00-{TRACE}-{'0' * 16}-01", None),
        (f"00-{TRACE[:-1]}-{PARENT}-01", None),
        (f"00-{TRACE}-{PARENT}-01\r\nx-injected: 1", None),
        ("", None),
        (None, None),
        (42, None),
    ],
)
def test_valid_traceparent(value: Any, expected: str | None) -> None:
    assert valid_traceparent(value) == expected


def test_the_clients_header_comes_first() -> None:
    other = span(0x1234, 0x5678)
    assert traceparent_of(request({"traceparent": GOOD}, span=other)) == GOOD


def test_litellms_otel_span_when_the_client_sent_none_or_garbage() -> None:
    expected = f"00-{TRACE}-{PARENT}-01"
    otel = span(int(TRACE, 16), int(PARENT, 16))
    assert traceparent_of(request(span=otel)) == expected
    assert traceparent_of(request({"traceparent": "garbage"}, span=otel)) == expected
    unsampled = span(int(TRACE, 16), int(PARENT, 16), flags=0)
    assert traceparent_of(request(span=unsampled)) == f"00-{TRACE}-{PARENT}-00"


def test_mcp_tool_calls_carry_the_clients_headers_in_metadata() -> None:
    data: dict[str, Any] = {"metadata": {"headers": {"Traceparent": GOOD}}}
    assert traceparent_of(data) == GOOD


def test_the_span_on_the_auth_object() -> None:
    class Auth:
        parent_otel_span = span(int(TRACE, 16), int(PARENT, 16))

    assert traceparent_of(request(), Auth()) == GOOD


def test_none_when_there_is_no_trace() -> None:
    assert traceparent_of(request()) is None
    assert traceparent_of(request(span=INVALID_SPAN)) is None
    assert traceparent_of(request(span=object())) is None  # not a span: ignored
