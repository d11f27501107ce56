"""Streams under governance: no bypass, nothing leaked, audited after the last chunk.

The pre-check already gated the request before the first byte (pre-call hook). Here:
- without output checks, chunks pass straight through and are kept for the audit, which is
  submitted after the last chunk (or when the client goes away, marked as such);
- with output checks, chunks are *held* until the assembled answer passes. A blocked answer
  raises before any chunk went out, which LiteLLM turns into an error before the first byte
  (see `docs/routes.md` for what each route shows); a masked answer is sent as the masked text,
  rewritten into the route's own chunk shapes (`mask_stream`), or withheld when that is not
  possible faithfully.

Chunk shapes (what `async_post_call_streaming_iterator_hook` receives, LiteLLM 1.106):
- `/v1/chat/completions`: `ModelResponseStream` objects (`choices[].delta.content`, tool calls);
- `/v1/completions`: `TextCompletionResponse` objects (`choices[].text`);
- `/v1/responses`: `response.*` event objects (text deltas, `*.done` events repeating the full
  text, and the terminal `response.completed` carrying the whole response);
- `/v1/messages`: raw Anthropic SSE bytes, one or more `event:`/`data:` frames per chunk.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from fastapi import HTTPException

from axonflow_guardrail._errors import ErrorCode, governance_error
from axonflow_guardrail.response._stream_masking import mask_stream
from axonflow_guardrail.response._text import (
    extract_response_text,
)

__all__ = ["AnthropicStreamRefusal", "anthropic_stream_refusal", "govern_stream"]


async def govern_stream(
    chunks: AsyncIterator[Any],
    *,
    hold: bool,
    check: Callable[[str], Awaitable[str | None]],
    on_done: Callable[[list[Any], str], None],
    refusal: Callable[[HTTPException], Exception] | None = None,
) -> AsyncIterator[Any]:
    """Relay `chunks`, holding them first when `hold`.

    `check(text)` returns masked text or None and raises to block. `on_done(chunks, outcome)`
    runs exactly once with what was relayed (the masked chunks when the answer was masked, what
    was received when it was blocked): outcome is "success", "blocked", "error" or
    "client_disconnected". `refusal` turns a held stream's refusal (raised before its first
    byte) into the route's own error (`anthropic_stream_refusal` on `/v1/messages`).
    """
    seen: list[Any] = []
    relayed = seen
    outcome = "client_disconnected"
    try:
        if not hold:
            async for chunk in chunks:
                seen.append(chunk)
                yield chunk
            outcome = "success"
            return
        async for chunk in chunks:
            seen.append(chunk)
        try:
            relayed = await _checked(seen, check)
        except HTTPException as exc:
            outcome = "blocked"
            if refusal is not None:
                raise refusal(exc) from None
            raise
        for chunk in relayed:
            yield chunk
        outcome = "success"
    except GeneratorExit:
        outcome = "client_disconnected"
        raise
    except Exception:
        if outcome != "blocked":
            outcome = "error"
        raise
    finally:
        on_done(relayed, outcome)


async def _checked(chunks: list[Any], check: Callable[[str], Awaitable[str | None]]) -> list[Any]:
    """The held chunks as they may be relayed (masked), or the refusal raised."""
    masked = await check(extract_response_text(chunks))
    if masked is None:
        return chunks
    replacement = mask_stream(chunks, masked)
    if replacement is None:
        raise governance_error(
            ErrorCode.REDACTION_FAILED,
            "The response must be masked and this stream's content (tool calls, several "
            "choices or refusals) cannot carry the masked text; it was withheld.",
        )
    return replacement


# ------------------------------------------------------------------ chat / text completion


# ------------------------------------------------------------------ /v1/responses


# ------------------------------------------------------------------ /v1/messages (Anthropic SSE)


# ------------------------------------------------------------------ /v1/messages refusals

# Anthropic's error types by HTTP status (https://docs.anthropic.com/en/api/errors).
_ANTHROPIC_ERROR_TYPES: Mapping[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


class AnthropicStreamRefusal(Exception):
    """A held `/v1/messages` stream refused before its first byte, in Anthropic's envelope.

    LiteLLM answers an `HTTPException` raised by a streaming iterator hook with OpenAI-shaped
    SSE frames on every route. For any other exception raised before the first chunk on
    `/v1/messages` it builds an Anthropic error frame from the exception's `message` and
    `status_code` and answers with a JSON error of that status; a `message` that already is an
    Anthropic error body passes through unchanged. So this carries the very body a
    non-streaming refusal gets (including `provider_specific_fields`): the client sees the same
    error, with the same status, whether it streamed or not.
    """

    def __init__(self, status_code: int, body: Mapping[str, Any]) -> None:
        self.status_code = status_code
        self.message = json.dumps(body, ensure_ascii=False)
        super().__init__(self.message)


def anthropic_stream_refusal(
    exc: HTTPException, *, guardrail_name: str | None, mode: Any
) -> AnthropicStreamRefusal:
    detail = dict(exc.detail) if isinstance(exc.detail, Mapping) else {"error": str(exc.detail)}
    if guardrail_name:
        detail.setdefault("guardrail_name", guardrail_name)
    if mode:
        detail.setdefault("guardrail_mode", mode)
    body = {
        "type": "error",
        "error": {
            "type": _ANTHROPIC_ERROR_TYPES.get(exc.status_code, "api_error"),
            "message": str(detail.get("error") or "Response refused by governance"),
            "provider_specific_fields": detail,
        },
    }
    return AnthropicStreamRefusal(exc.status_code, body)
