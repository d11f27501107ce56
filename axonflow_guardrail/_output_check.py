"""Output policies: the model's answer checked with AxonFlow before the client sees it.

Used when the operator sets `check_output: true` (mode `post_call`). A blocked answer becomes
a 400 (`output_blocked`), or a stream's error event; a redacted answer reaches the client
with the engine-masked text. If AxonFlow cannot answer, `fail_open` decides, as for the
pre-check.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from axonflow_guardrail._axonflow_client import AxonFlowClient, AxonFlowFailure, FailureKind
from axonflow_guardrail._call_state import CallState
from axonflow_guardrail._errors import ErrorCode, governance_error
from axonflow_guardrail._log import log
from axonflow_guardrail._settings import GuardrailSettings

__all__ = ["OutputGate", "OutputVerdict", "replace_response_text"]


@dataclass(frozen=True, slots=True)
class OutputVerdict:
    """`masked_text` is set when the answer must be replaced; `failed_open` when unchecked."""

    masked_text: str | None = None
    failed_open: bool = False
    decision_id: str | None = None


class OutputGate:
    def __init__(self, *, client: AxonFlowClient, settings: GuardrailSettings) -> None:
        self._client = client
        self._settings = settings

    async def check(self, text: str, *, state: CallState) -> OutputVerdict:
        """Check `text`; raise the client's error when it is blocked (or unchecked, fail-closed)."""
        if not text.strip():
            return OutputVerdict()
        identity = state.identity
        try:
            decision = await self._client.check_output(
                text=text, user_token=identity.user_token, user_id=identity.user_id
            )
        except AxonFlowFailure as failure:
            if failure.kind is FailureKind.UNAVAILABLE and (
                self._settings.fail_open or state.enforcement == "audit"
            ):
                log.warning(
                    "axonflow FAIL-OPEN on output check: %s; call_id=%s",
                    failure.reason,
                    state.litellm_call_id,
                )
                return OutputVerdict(failed_open=True)
            raise governance_error(
                ErrorCode.GOVERNANCE_UNAVAILABLE
                if failure.kind is FailureKind.UNAVAILABLE
                else ErrorCode.GOVERNANCE_REJECTED,
                f"The response could not be checked by governance ({failure.reason}).",
            ) from None
        if not decision.allowed:
            log.info(
                "axonflow output blocked: decision_id=%s call_id=%s",
                decision.decision_id,
                state.litellm_call_id,
            )
            if state.enforcement == "audit":
                state.would_have_blocked = True
                return OutputVerdict(decision_id=decision.decision_id)
            raise governance_error(
                ErrorCode.OUTPUT_BLOCKED,
                decision.block_reason or "Response blocked by governance policy",
                decision_id=decision.decision_id,
                context_id=state.decision.context_id,
            )
        if decision.masked_text is not None and decision.masked_text != text:
            return OutputVerdict(masked_text=decision.masked_text, decision_id=decision.decision_id)
        return OutputVerdict(decision_id=decision.decision_id)


def _set(container: Any, key: str, value: str) -> None:
    if isinstance(container, MutableMapping):
        container[key] = value
    else:
        setattr(container, key, value)


def _get(container: Any, key: str) -> Any:
    if isinstance(container, Mapping):
        return container.get(key)
    return getattr(container, key, None)


def replace_response_text(response: Any, masked: str) -> bool:
    """Put `masked` in place of the response's text. False if the shape has no single text.

    Handles chat completions (first choice's message), text completions, Responses API
    output text and Anthropic message content. The caller fails closed on False.
    """
    choices = _get(response, "choices")
    if isinstance(choices, list) and choices:
        first = choices[0]
        message = _get(first, "message")
        if message is not None and isinstance(_get(message, "content"), str):
            _set(message, "content", masked)
            for extra in choices[1:]:
                extra_message = _get(extra, "message")
                if extra_message is not None:
                    _set(extra_message, "content", "")
            return True
        if isinstance(_get(first, "text"), str):
            _set(first, "text", masked)
            return True
    return _replace_in_parts(_get(response, "output"), masked) or _replace_in_parts(
        _get(response, "content"), masked
    )


def _replace_in_parts(items: Any, masked: str) -> bool:
    """Responses `output[].content[]` or Anthropic `content[]`: masked text in the first text
    part, the other text parts emptied (the masked text covers all of them)."""
    if not isinstance(items, list):
        return False
    text_parts: list[Any] = []
    for item in items:
        if _get(item, "type") == "text" and isinstance(_get(item, "text"), str):
            text_parts.append(item)
        inner = _get(item, "content")
        if isinstance(inner, list):
            text_parts.extend(
                part
                for part in inner
                if _get(part, "type") in ("output_text", "text")
                and isinstance(_get(part, "text"), str)
            )
    if not text_parts:
        return False
    _set(text_parts[0], "text", masked)
    for part in text_parts[1:]:
        _set(part, "text", "")
    return True
