"""Reading the request, and refusing what cannot be checked before anything else happens.

Why first: a request that cannot be checked as it is (malformed, a prompt in ``extra_body``,
too large, content that cannot be read) is the client's error, whatever AxonFlow's state; it is
refused before the breaker is looked at, so an outage never lets such a request through.
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException

from axonflow_guardrail._errors import ErrorCode, governance_error
from axonflow_guardrail._log import log
from axonflow_guardrail._settings import GuardrailSettings
from axonflow_guardrail.request._extracted import (
    ExtractedText,
    MalformedRequest,
    RequestNotCheckable,
    show_path,
)
from axonflow_guardrail.request._governed import GovernedRequest
from axonflow_guardrail.request._identity import CallerIdentity
from axonflow_guardrail.request._text import extract_request_text
from axonflow_guardrail.request._trace import traceparent_of

__all__ = ["not_checkable", "read_request"]


def read_request(
    *,
    data: dict[str, Any],
    call_type: str,
    call_id: str,
    route: str | None,
    identity: CallerIdentity,
    settings: GuardrailSettings,
) -> GovernedRequest:
    """The request's text as the provider will receive it, or the client's error.

    Raises `RequestNotCheckable` (the caller turns it into a 400 with `not_checkable`) or the
    refusal for a request too large to check or carrying content that cannot be read.
    """
    text = extract_request_text(data, call_type, max_chars=settings.max_check_chars)
    enforcing = identity.enforcement_mode == "enforce"
    if text.truncated and enforcing:
        raise governance_error(
            ErrorCode.REQUEST_TOO_LARGE,
            f"The request's text ({text.total_chars} characters) exceeds what the governance "
            f"layer checks ({settings.max_check_chars}); it was not sent.",
        )
    refuse_unverifiable = bool(text.unverifiable) and settings.unverifiable_content == "refuse"
    if refuse_unverifiable and enforcing:
        raise governance_error(
            ErrorCode.UNVERIFIABLE_CONTENT,
            "The request carries content governance cannot read as text ("
            + ", ".join(sorted({u.kind for u in text.unverifiable}))
            + "); it was not sent. Send files as text, or ask the operator to allow "
            "placeholders (unverifiable_content: placeholder).",
            fields=[show_path(u.path) for u in text.unverifiable][:20],
        )
    query = text.joined()
    _refuse_unencodable(query, text)
    return GovernedRequest(
        data=data,
        call_type=call_type,
        call_id=call_id,
        model=str(data.get("model") or ""),
        route=route,
        identity=identity,
        text=text,
        query=query,
        unverifiable_refused=refuse_unverifiable,
        traceparent=traceparent_of(data),
    )


def _refuse_unencodable(query: str, text: ExtractedText) -> None:
    """Text that is not valid Unicode (a lone surrogate, which `json.loads` accepts from a
    `\\ud800` escape and some LiteLLM releases pass on) cannot be sent to AxonFlow: the SDK call
    would fail before it left, and that failure must never read as AxonFlow's unavailability,
    which `fail_open` would let through. It is the client's error: 400, naming the field."""
    try:
        query.encode("utf-8")
    except UnicodeEncodeError:
        for segment in text.segments:
            try:
                segment.text.encode("utf-8")
            except UnicodeEncodeError:
                raise MalformedRequest(segment.path, "text is not valid Unicode") from None
        raise MalformedRequest((), "text is not valid Unicode") from None


def not_checkable(exc: RequestNotCheckable, call_id: str) -> HTTPException:
    """A request that cannot be checked as it is: the client's error, whatever `fail_open`."""
    log.info("axonflow refused a request it cannot check: %s; call_id=%s", exc.reason, call_id)
    return governance_error(
        ErrorCode(exc.code),
        f"The request cannot be checked by governance as it is ({exc.reason}); it was not sent.",
        field=show_path(exc.path) or None,
    )
