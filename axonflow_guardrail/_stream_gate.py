"""Streams under governance: no bypass, nothing leaked, audited after the last chunk.

The pre-check already gated the request before the first byte (pre-call hook). Here:
- without output checks, chunks pass straight through and are kept for the audit, which is
  submitted after the last chunk (or when the client goes away, marked as such);
- with output checks, chunks are *held* until the assembled answer passes. A blocked answer
  raises before any chunk went out, which LiteLLM turns into an SSE error event; a masked
  answer is sent as the masked text.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from axonflow_guardrail._errors import ErrorCode, governance_error
from axonflow_guardrail._output_check import _get, _set
from axonflow_guardrail._request_text import extract_response_text

__all__ = ["govern_stream"]


async def govern_stream(
    chunks: AsyncIterator[Any],
    *,
    hold: bool,
    check: Callable[[str], Awaitable[str | None]],
    on_done: Callable[[list[Any], str], None],
) -> AsyncIterator[Any]:
    """Relay `chunks`, holding them first when `hold`.

    `check(text)` returns masked text or None and raises to block. `on_done(chunks, outcome)`
    runs exactly once with what was relayed: outcome is "success", "blocked", "error" or
    "client_disconnected".
    """
    seen: list[Any] = []
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
            masked = await check(extract_response_text(seen))
        except BaseException:
            outcome = "blocked"
            raise
        if masked is not None and not _mask_chunks(seen, masked):
            outcome = "blocked"
            raise governance_error(
                ErrorCode.REDACTION_FAILED,
                "The response must be masked and this stream's format cannot carry the masked "
                "text; it was withheld.",
            )
        for chunk in seen:
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
        on_done(seen, outcome)


def _mask_chunks(chunks: list[Any], masked: str) -> bool:
    """Chat-completion chunks: the masked text in the first content delta, others emptied."""
    deltas = []
    for chunk in chunks:
        choices = _get(chunk, "choices")
        if not isinstance(choices, list):
            continue
        for choice in choices:
            delta = _get(choice, "delta")
            if delta is not None and isinstance(_get(delta, "content"), str):
                deltas.append(delta)
    if not deltas:
        return False
    _set(deltas[0], "content", masked)
    for delta in deltas[1:]:
        _set(delta, "content", "")
    return True
