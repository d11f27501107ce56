"""Output policies: the model's answer checked with AxonFlow before the client sees it.

Used when the operator sets `check_output: true` (mode `post_call`). A blocked answer becomes
a 400 (`output_blocked`), or a stream's error event; a redacted answer reaches the client
with the engine-masked text. If AxonFlow cannot answer, `fail_open` decides, as for the
pre-check. In `audit` (shadow) enforcement nothing is blocked or rewritten: a block is recorded
as "would have blocked", a redaction is only recorded by AxonFlow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from axonflow_guardrail._axonflow_client import AxonFlowClient, AxonFlowFailure, FailureKind
from axonflow_guardrail._call_state import CallState
from axonflow_guardrail._errors import ErrorCode, governance_error
from axonflow_guardrail._fields import get_field, set_field
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
            # Shadow mode never refuses; otherwise only unavailability may fail open.
            if state.enforcement == "audit" or (
                failure.kind is FailureKind.UNAVAILABLE and self._settings.fail_open
            ):
                log.warning(
                    "axonflow output check not applied (%s): %s; call_id=%s",
                    "audit mode" if state.enforcement == "audit" else "FAIL-OPEN",
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
            if state.enforcement == "audit":  # shadow mode records, never rewrites
                return OutputVerdict(decision_id=decision.decision_id)
            return OutputVerdict(masked_text=decision.masked_text, decision_id=decision.decision_id)
        return OutputVerdict(decision_id=decision.decision_id)


def replace_response_text(response: Any, masked: str) -> bool:
    """Put `masked` in place of the response's text. False if that cannot be done faithfully.

    `masked` is the output check's answer for `extract_response_text(response)`, i.e. all the
    text the response gives the caller, joined. It can only stand in for text that is one
    answer's plain text: one choice's message content (chat) or text (text completion), or the
    text parts of a Responses output or an Anthropic message (the first part gets the masked
    text, the others are emptied). When the checked text also covers something that cannot
    carry it (tool or function calls and their arguments, tool-use input, refusals, several
    choices), this returns False and leaves the response untouched: the caller withholds it,
    rather than send a masked answer next to unmasked tool arguments.
    """
    choices = get_field(response, "choices")
    if isinstance(choices, list) and choices:
        return len(choices) == 1 and _replace_in_choice(choices[0], masked)
    output = get_field(response, "output")
    if isinstance(output, list):
        return _replace_in_responses_output(output, masked)
    content = get_field(response, "content")
    if isinstance(content, list):
        return _replace_in_blocks(_anthropic_text_blocks(content), masked)
    return False


def _replace_in_choice(choice: Any, masked: str) -> bool:
    message = get_field(choice, "message")
    if message is None:
        if isinstance(get_field(choice, "text"), str):
            set_field(choice, "text", masked)
            return True
        return False
    if (
        get_field(message, "tool_calls")
        or get_field(message, "function_call")
        or get_field(message, "refusal")
    ):
        return False
    if not isinstance(get_field(message, "content"), str):
        return False
    set_field(message, "content", masked)
    return True


_TOOL_OUTPUT_ITEMS = frozenset({"function_call", "custom_tool_call", "mcp_call"})


def _replace_in_responses_output(items: list[Any], masked: str) -> bool:
    parts: list[Any] = []
    for item in items:
        kind = get_field(item, "type")
        if kind in _TOOL_OUTPUT_ITEMS:
            return False
        if kind != "message":
            continue  # reasoning and hosted-tool items carry no checked text
        for part in get_field(item, "content") or ():
            part_kind = get_field(part, "type")
            if part_kind == "refusal":
                return False
            if part_kind in ("output_text", "text") and isinstance(get_field(part, "text"), str):
                parts.append(part)
    return _replace_in_blocks(parts, masked)


def _anthropic_text_blocks(blocks: list[Any]) -> list[Any] | None:
    texts: list[Any] = []
    for block in blocks:
        kind = get_field(block, "type")
        if kind in ("tool_use", "server_tool_use", "mcp_tool_use"):
            return None
        if kind == "text" and isinstance(get_field(block, "text"), str):
            texts.append(block)
    return texts


def _replace_in_blocks(parts: list[Any] | None, masked: str) -> bool:
    """The masked text in the first text part, the others emptied (it covers all of them)."""
    if not parts:
        return False
    set_field(parts[0], "text", masked)
    for part in parts[1:]:
        set_field(part, "text", "")
    return True
