"""W3C trace context as the agent uses it: an incoming `traceparent` continues its trace.

AxonFlow's agent reuses an incoming `traceparent` for its decision spans and answers the
pre-check with the `trace_id`; the emulator does the same (a fresh trace id without one) and
echoes the `traceparent` it received on the answer, so tests can follow a trace end to end.
The request log (`/__dev/requests`) keeps every header, `traceparent` included.
"""

from __future__ import annotations

import re
import secrets

TRACEPARENT = "traceparent"
_TRACEPARENT = re.compile(r"[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}(-.*)?")


def incoming_trace_id(traceparent: str | None) -> str | None:
    """The trace id of a valid `traceparent` header, else None."""
    if not traceparent:
        return None
    match = _TRACEPARENT.fullmatch(traceparent.strip().lower())
    if match is None or match[1] == "0" * 32 or match[2] == "0" * 16:
        return None
    return match[1]


def trace_id_for(traceparent: str | None) -> str:
    """The decision's trace id: the caller's, or a new one."""
    return incoming_trace_id(traceparent) or secrets.token_hex(16)
