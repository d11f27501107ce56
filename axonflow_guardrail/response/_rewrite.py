"""Masked output put back into a response, only where that is faithful.

The output check returns masked text for the response's text as a whole; it can replace the
text of one answer (a chat message's content, a Responses `output_text`, an Anthropic text
block). When the response also carries tool or function calls, tool-use input, refusals or
several choices, the masked text cannot be placed faithfully and the caller withholds the
response instead.
"""

from __future__ import annotations

from typing import Any

from axonflow_guardrail.response._fields import get_field, set_field

__all__ = ["replace_response_text"]

#: Responses output items that carry a tool call: masked text cannot be put next to them.
_TOOL_OUTPUT_ITEMS = frozenset({"function_call", "custom_tool_call", "mcp_call"})


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
