"""A held stream's chunks rewritten to carry the masked answer, in each route's own shapes.

Chat and text-completion chunks (`choices[].delta`, `choices[].text`), Responses events (text
deltas and every `*.done` / terminal copy of the text) and Anthropic SSE frames (re-encoded, one
chunk per frame). No original text may survive anywhere in the stream; when a stream carries
checked text that cannot hold the masked text (tool calls, refusals, several choices) the
caller withholds it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from axonflow_guardrail.response._fields import get_field, set_field
from axonflow_guardrail.response._text import stream_format

__all__ = ["mask_stream"]


def mask_stream(chunks: list[Any], masked: str) -> list[Any] | None:
    """The held `chunks` rewritten to carry `masked` instead of their text, or None.

    `masked` is the output check's answer for `extract_response_text(chunks)`. It replaces the
    streamed text of one answer: the first text delta gets it, every later text delta (and, on
    `/v1/responses`, every `*.done` / terminal event's copy of the text) is set accordingly, so
    no original text survives anywhere in the stream. None when the stream carries checked text
    that cannot hold the masked text (tool or function calls, tool-use input, refusals, several
    choices): the caller then withholds the stream. Chat and Responses chunks are changed in
    place; Anthropic SSE bytes are re-encoded, one chunk per frame.
    """
    kind = stream_format(chunks)
    if kind == "anthropic":
        return _mask_anthropic(chunks, masked)
    if kind == "responses":
        return chunks if _mask_responses(chunks, masked) else None
    return chunks if _mask_chat(chunks, masked) else None


def _mask_chat(chunks: list[Any], masked: str) -> bool:
    """Chat `delta.content` or text-completion `choices[].text`, of a single choice."""
    slots: list[tuple[Any, str]] = []
    indexes: set[Any] = set()
    for chunk in chunks:
        for choice in get_field(chunk, "choices") or ():
            indexes.add(get_field(choice, "index") or 0)
            delta = get_field(choice, "delta")
            if delta is not None:
                if (
                    get_field(delta, "tool_calls")
                    or get_field(delta, "function_call")
                    or get_field(delta, "refusal")
                ):
                    return False
                if isinstance(get_field(delta, "content"), str):
                    slots.append((delta, "content"))
            if isinstance(get_field(choice, "text"), str):
                slots.append((choice, "text"))
    if len(indexes) > 1 or not slots:
        return False
    container, key = slots[0]
    set_field(container, key, masked)
    for container, key in slots[1:]:
        set_field(container, key, "")
    return True


_RESPONSES_TOOL_EVENTS = (
    "response.function_call_arguments.",
    "response.custom_tool_call_input.",
    "response.mcp_call_arguments.",
    "response.refusal.",
)


_RESPONSES_TOOL_ITEMS = frozenset({"function_call", "custom_tool_call", "mcp_call"})


def _event_type(event: Any) -> str:
    kind = get_field(event, "type")
    value = getattr(kind, "value", kind)
    return value if isinstance(value, str) else ""


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _mask_responses(events: list[Any], masked: str) -> bool:
    """Every copy of the output text: deltas, `*.done` events, items and the final response.

    Text slots are `(output_index, content_index)`; the first slot gets `masked`, all others
    become empty, and within the first slot only the first delta carries it.
    """
    slots: set[tuple[int, int]] = set()
    for event in events:
        kind = _event_type(event)
        if kind.startswith(_RESPONSES_TOOL_EVENTS):
            return False
        item = get_field(event, "item")
        if item is not None and get_field(item, "type") in _RESPONSES_TOOL_ITEMS:
            return False
        if kind in ("response.output_text.delta", "response.output_text.done"):
            slots.add(
                (_int(get_field(event, "output_index")), _int(get_field(event, "content_index")))
            )
    for event in events:
        response = get_field(event, "response")
        if response is not None:
            output = get_field(response, "output") or ()
            for index, item in enumerate(output):
                if get_field(item, "type") in _RESPONSES_TOOL_ITEMS:
                    return False
                for part_index in range(len(_text_parts(item))):
                    slots.add((index, part_index))
    if not slots:
        return False
    first = min(slots)

    def text_for(slot: tuple[int, int]) -> str:
        return masked if slot == first else ""

    placed = False
    for event in events:
        kind = _event_type(event)
        output_index = _int(get_field(event, "output_index"))
        content_index = _int(get_field(event, "content_index"))
        slot = (output_index, content_index)
        if kind == "response.output_text.delta":
            set_field(event, "delta", masked if slot == first and not placed else "")
            placed = placed or slot == first
        elif kind == "response.output_text.done":
            set_field(event, "text", text_for(slot))
        elif kind in ("response.content_part.added", "response.content_part.done"):
            part = get_field(event, "part")
            if get_field(part, "type") == "output_text" and isinstance(
                get_field(part, "text"), str
            ):
                set_field(part, "text", "" if kind.endswith(".added") else text_for(slot))
        elif kind == "response.output_item.added":
            _mask_item(get_field(event, "item"), output_index, lambda _slot: "")
        elif kind == "response.output_item.done":
            _mask_item(get_field(event, "item"), output_index, text_for)
        elif get_field(event, "response") is not None:  # created / in_progress / terminal events
            output = get_field(get_field(event, "response"), "output") or ()
            for index, item in enumerate(output):
                _mask_item(item, index, text_for)
    return True


def _text_parts(item: Any) -> list[Any]:
    if get_field(item, "type") != "message":
        return []
    return [
        part
        for part in get_field(item, "content") or ()
        if get_field(part, "type") == "output_text" and isinstance(get_field(part, "text"), str)
    ]


def _mask_item(item: Any, output_index: int, text_for: Callable[[tuple[int, int]], str]) -> None:
    if item is None or get_field(item, "type") != "message":
        return
    for content_index, part in enumerate(get_field(item, "content") or ()):
        if get_field(part, "type") == "output_text" and isinstance(get_field(part, "text"), str):
            set_field(part, "text", text_for((output_index, content_index)))


_ANTHROPIC_TOOL_BLOCKS = frozenset({"tool_use", "server_tool_use", "mcp_tool_use"})


def _mask_anthropic(chunks: list[Any], masked: str) -> list[Any] | None:
    """Re-encode the SSE frames with the masked text in the first text block."""
    as_text = all(isinstance(chunk, str) for chunk in chunks)
    raw = "".join(
        chunk if isinstance(chunk, str) else bytes(chunk).decode("utf-8", "replace")
        for chunk in chunks
    )
    frames = _split_frames(raw)
    parsed = [_parse_frame(frame) for frame in frames]
    text_blocks: list[int] = []
    delta_blocks: set[int] = set()
    for parsed_frame in parsed:
        if parsed_frame is None:
            continue
        _, event = parsed_frame
        kind = event.get("type")
        if kind == "content_block_start":
            block = event.get("content_block")
            block_kind = block.get("type") if isinstance(block, Mapping) else None
            if block_kind in _ANTHROPIC_TOOL_BLOCKS:
                return None
            if block_kind == "text":
                text_blocks.append(_int(event.get("index")))
        elif kind == "content_block_delta":
            delta = event.get("delta")
            delta_kind = delta.get("type") if isinstance(delta, Mapping) else None
            if delta_kind == "input_json_delta":
                return None
            if delta_kind == "text_delta":
                delta_blocks.add(_int(event.get("index")))
    if not text_blocks:
        return None
    first = min(text_blocks)
    placed = False
    out: list[str] = []
    for raw_frame, parsed_frame in zip(frames, parsed, strict=True):
        if parsed_frame is None:
            out.append(raw_frame)
            continue
        name, event = parsed_frame
        kind = event.get("type")
        index = _int(event.get("index"))
        block = event.get("content_block")
        delta = event.get("delta")
        is_text_start = isinstance(block, dict) and block.get("type") == "text"
        if kind == "content_block_start" and isinstance(block, dict) and is_text_start:
            carries = index == first and first not in delta_blocks
            block["text"] = masked if carries else ""
        elif (
            kind == "content_block_delta"
            and isinstance(delta, dict)
            and delta.get("type") == "text_delta"
        ):
            delta["text"] = masked if index == first and not placed else ""
            placed = placed or index == first
        else:
            out.append(raw_frame)
            continue
        head = f"event: {name}\n" if name else ""
        out.append(f"{head}data: {json.dumps(event, ensure_ascii=False)}\n\n")
    return out if as_text else [frame.encode("utf-8") for frame in out]


def _split_frames(raw: str) -> list[str]:
    """SSE frames, each with its terminating blank line (a torn last frame is kept as is)."""
    normalised = raw.replace("\r\n", "\n")
    frames: list[str] = []
    start = 0
    while True:
        end = normalised.find("\n\n", start)
        if end < 0:
            break
        frames.append(normalised[start : end + 2])
        start = end + 2
    if start < len(normalised):
        frames.append(normalised[start:])
    return frames


def _parse_frame(frame: str) -> tuple[str | None, dict[str, Any]] | None:
    name: str | None = None
    data: list[str] = []
    for line in frame.split("\n"):
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())
    if not data:
        return None
    try:
        event = json.loads("\n".join(data))
    except ValueError:
        return None
    return (name, event) if isinstance(event, dict) else None
