"""The request's W3C trace context, to be carried by every AxonFlow call made for it.

Where it comes from, first found wins: the client's `traceparent` header (a gateway that
forwards its trace context gets one trace from the client to AxonFlow's policy decision; on
MCP tool calls LiteLLM passes the client's headers in the request metadata),
else the span LiteLLM's OpenTelemetry integration opened for the request, else none (the
guardrail never invents one). A header that is not a valid W3C `traceparent` is ignored: it is
client text, and only a well-formed value may be forwarded to AxonFlow.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["TRACEPARENT_HEADER", "traceparent_of", "valid_traceparent"]

TRACEPARENT_HEADER = "traceparent"
# version-traceid-parentid-flags; a future version may append fields after the flags.
_TRACEPARENT = re.compile(
    r"(?P<version>[0-9a-f]{2})-(?P<trace>[0-9a-f]{32})-(?P<parent>[0-9a-f]{16})-"
    r"(?P<flags>[0-9a-f]{2})(?P<rest>-.*)?"
)
_SPAN_KEY = "litellm_parent_otel_span"


def valid_traceparent(value: object) -> str | None:
    """`value` as a W3C traceparent (lower-case, trimmed), or None when it is not one."""
    if not isinstance(value, str) or len(value) > 512:
        return None
    value = value.strip().lower()
    match = _TRACEPARENT.fullmatch(value)
    if match is None:
        return None
    version, rest = match["version"], match["rest"]
    if version == "ff" or (version == "00" and rest):
        return None
    if match["trace"] == "0" * 32 or match["parent"] == "0" * 16:
        return None
    if version != "00":  # a newer version: send what version 00 defines
        return f"00-{match['trace']}-{match['parent']}-{match['flags']}"
    return value


def traceparent_of(data: Mapping[str, Any], auth: Any = None) -> str | None:
    """The traceparent to send with this request's AxonFlow calls, or None."""
    for headers in _header_sources(data):
        for name, value in headers.items():
            if isinstance(name, str) and name.lower() == TRACEPARENT_HEADER:
                header = valid_traceparent(value)
                if header is not None:
                    return header
    for span in _spans(data, auth):
        traceparent = _from_span(span)
        if traceparent is not None:
            return traceparent
    return None


def _header_sources(data: Mapping[str, Any]) -> list[Mapping[Any, Any]]:
    """Where the client's headers are (as `_identity.request_headers` reads them), then the
    copy in the request metadata (the only one on MCP tool calls, whose request LiteLLM
    builds itself). Scanned in place: copying every header of every request costs more."""
    sources = []
    secret = data.get("secret_fields")
    psr = data.get("proxy_server_request")
    for holder, key in ((secret, "raw_headers"), (psr, "headers")):
        headers = holder.get(key) if isinstance(holder, Mapping) else None
        if isinstance(headers, Mapping) and headers:
            sources.append(headers)
            break
    for bucket_name in ("metadata", "litellm_metadata"):
        bucket = data.get(bucket_name)
        headers = bucket.get("headers") if isinstance(bucket, Mapping) else None
        if isinstance(headers, Mapping):
            sources.append(headers)
    return sources


def _spans(data: Mapping[str, Any], auth: Any) -> list[Any]:
    spans = [getattr(auth, "parent_otel_span", None)] if auth is not None else []
    for bucket_name in ("metadata", "litellm_metadata"):
        bucket = data.get(bucket_name)
        if isinstance(bucket, Mapping):
            spans.append(bucket.get(_SPAN_KEY))
    return [span for span in spans if span is not None]


def _from_span(span: Any) -> str | None:
    """An OpenTelemetry span's context as a traceparent (duck-typed: no OTel import)."""
    try:
        context = span.get_span_context()
        trace_id, span_id = int(context.trace_id), int(context.span_id)
        flags = int(context.trace_flags)
    except Exception:
        return None
    if not trace_id or not span_id:
        return None
    return f"00-{trace_id:032x}-{span_id:016x}-{flags & 0xFF:02x}"
