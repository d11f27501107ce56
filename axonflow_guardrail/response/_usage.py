"""Token usage for a stream that reported none, estimated with LiteLLM's tokenizer.

`/v1/completions` streams carry usage only when the client asks for
`stream_options.include_usage`; the audit still needs a count (and says it was estimated).
"""

from __future__ import annotations

from axonflow_guardrail._log import log

__all__ = ["estimate_usage"]


def estimate_usage(model: str, prompt_text: str, completion_text: str) -> tuple[int, int, int]:
    """Token counts estimated with LiteLLM's tokenizer, for a stream that reported no usage.

    `/v1/completions` streams carry usage only when the client asks for
    `stream_options.include_usage`; the audit still needs a count. (0, 0, 0) on any failure.
    """
    try:
        from litellm import token_counter

        prompt = token_counter(model=model, text=prompt_text) if prompt_text else 0
        completion = token_counter(model=model, text=completion_text) if completion_text else 0
    except Exception:
        log.debug("axonflow: could not estimate stream usage", exc_info=True)
        return (0, 0, 0)
    return (prompt, completion, prompt + completion)
