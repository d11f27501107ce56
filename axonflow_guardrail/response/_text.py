"""Text and token usage out of LiteLLM responses, for output checks and audits.

Handles every shape the proxy's post-call hooks see: chat completions, text completions,
embeddings (no text), Responses API objects, Anthropic messages (dicts), and streams as the list
of chunks relayed so far: chat `ModelResponseStream` chunks, Responses `response.*` events and
raw Anthropic SSE bytes. Pure and linear, like the request side (`_request_text`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from axonflow_guardrail.response._fields import get_field

#: Anthropic blocks that carry a tool call (the request side reads the same kinds).
TOOL_USE_TYPES: Final = frozenset({"tool_use", "server_tool_use", "mcp_tool_use"})

__all__ = ["extract_response_text", "response_usage", "stream_format"]


def extract_response_text(response: Any) -> str:
    """The text a response gives the caller, for the audit: content plus tool calls.

    Handles chat (``choices[].message``), text completion (``choices[].text``), embeddings (no
    text: ``""``), Responses API (``output[]``), Anthropic messages (``content`` blocks), their
    plain-dict forms, and a list of streaming chunks: chat ``ModelResponseStream`` / dict
    chunks (deltas assembled in order per choice), ``/v1/responses`` ``response.*`` events (the
    terminal event's response, else the deltas seen so far) and ``/v1/messages`` raw SSE bytes.
    Reasoning and thinking are not included. Pieces are joined with newlines.
    """
    if response is None:
        return ""
    if isinstance(response, str):
        return response
    if isinstance(response, list | tuple):
        return _stream_text(response)
    pieces: list[str] = []
    choices = get_field(response, "choices")
    if isinstance(choices, list | tuple):
        for choice in choices:
            _choice_text(choice, pieces)
    output = get_field(response, "output")
    if isinstance(output, list | tuple):
        for item in output:
            _output_item_text(item, pieces)
    content = get_field(response, "content")
    if isinstance(content, list | tuple):
        for block in content:
            _block_text(block, pieces)
    elif isinstance(content, str):
        pieces.append(content)
    return "\n".join(pieces)


def _choice_text(choice: Any, pieces: list[str]) -> None:
    message = get_field(choice, "message")
    if message is None:
        message = get_field(choice, "delta")
    if message is not None:
        _message_text(message, pieces)
    text = get_field(choice, "text")
    if isinstance(text, str) and text:
        pieces.append(text)


def _message_text(message: Any, pieces: list[str]) -> None:
    content = get_field(message, "content")
    if isinstance(content, str):
        if content:
            pieces.append(content)
    elif isinstance(content, list | tuple):
        for block in content:
            _block_text(block, pieces)
    refusal = get_field(message, "refusal")
    if isinstance(refusal, str) and refusal:
        pieces.append(refusal)
    for call in get_field(message, "tool_calls") or ():
        _call_text(get_field(call, "function"), pieces)
    _call_text(get_field(message, "function_call"), pieces)


def _call_text(call: Any, pieces: list[str]) -> None:
    if call is None:
        return
    for key in ("name", "arguments"):
        value = get_field(call, key)
        if isinstance(value, str) and value:
            pieces.append(value)


def _block_text(block: Any, pieces: list[str]) -> None:
    """An Anthropic block or a chat / Responses content part of a response."""
    kind = get_field(block, "type")
    if kind in ("text", "output_text"):
        text = get_field(block, "text")
        if isinstance(text, str) and text:
            pieces.append(text)
    elif kind == "refusal":
        refusal = get_field(block, "refusal")
        if isinstance(refusal, str) and refusal:
            pieces.append(refusal)
    elif kind in TOOL_USE_TYPES:
        name = get_field(block, "name")
        if isinstance(name, str) and name:
            pieces.append(name)
        tool_input = get_field(block, "input")
        if tool_input:
            pieces.append(json.dumps(tool_input, ensure_ascii=False, default=str))


def _output_item_text(item: Any, pieces: list[str]) -> None:
    kind = get_field(item, "type")
    if kind == "message":
        for part in get_field(item, "content") or ():
            _block_text(part, pieces)
    elif kind in ("function_call", "custom_tool_call", "mcp_call"):
        for key in ("name", "arguments", "input", "output"):
            value = get_field(item, key)
            if isinstance(value, str) and value:
                pieces.append(value)


_RESPONSES_TERMINAL_EVENTS: Final = frozenset(
    {"response.completed", "response.incomplete", "response.failed"}
)
_ANTHROPIC_STREAM_EVENTS: Final = frozenset(
    {"message_start", "content_block_start", "content_block_delta", "message_delta"}
)


def _stream_events(chunks: Sequence[Any]) -> list[Any]:
    """The chunks as objects; a raw SSE stream (bytes / str) is parsed into its ``data:`` JSON.

    Chat streams arrive as ``ModelResponseStream`` objects, ``/v1/responses`` streams as
    ``response.*`` event objects, and ``/v1/messages`` (Anthropic) streams as raw SSE bytes.
    """
    if not chunks or not all(isinstance(chunk, bytes | bytearray | str) for chunk in chunks):
        return [chunk for chunk in chunks if not isinstance(chunk, bytes | bytearray | str)]
    raw = "".join(
        chunk if isinstance(chunk, str) else bytes(chunk).decode("utf-8", "replace")
        for chunk in chunks
    )
    events: list[Any] = []
    for line in raw.splitlines():
        if not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        if not payload or payload == "[DONE]":
            continue
        try:
            event = json.loads(payload)
        except ValueError:
            continue
        if isinstance(event, Mapping):
            events.append(event)
    return events


def stream_format(chunks: Sequence[Any]) -> str:
    """``"chat"`` (chat and text-completion chunks), ``"responses"`` (``/v1/responses`` events) or
    ``"anthropic"`` (``/v1/messages`` raw SSE bytes): the shape of a list of streaming chunks."""
    return _stream_kind(_stream_events(chunks))


def _stream_kind(events: Sequence[Any]) -> str:
    for event in events:
        kind = get_field(event, "type")
        if isinstance(kind, str) and kind.startswith("response."):
            return "responses"
        if kind in _ANTHROPIC_STREAM_EVENTS:
            return "anthropic"
    return "chat"


def _stream_text(chunks: Sequence[Any]) -> str:
    events = _stream_events(chunks)
    kind = _stream_kind(events)
    if kind == "responses":
        return _responses_stream_text(events)
    if kind == "anthropic":
        return _anthropic_stream_text(events)
    return _chat_stream_text(events)


def _chat_stream_text(chunks: Sequence[Any]) -> str:
    """Assemble streamed deltas per choice: content in order, then each tool call."""
    contents: dict[int, list[str]] = {}
    calls: dict[tuple[int, int], list[str]] = {}
    names: dict[tuple[int, int], str] = {}
    for chunk in chunks:
        for choice in get_field(chunk, "choices") or ():
            index = _index(get_field(choice, "index"))
            delta = get_field(choice, "delta")
            for value in (get_field(delta, "content"), get_field(choice, "text")):
                if isinstance(value, str) and value:
                    contents.setdefault(index, []).append(value)
            for call in get_field(delta, "tool_calls") or ():
                key = (index, _index(get_field(call, "index")))
                function = get_field(call, "function")
                name = get_field(function, "name")
                if isinstance(name, str) and name:
                    names.setdefault(key, name)
                arguments = get_field(function, "arguments")
                calls.setdefault(key, [])
                if isinstance(arguments, str):
                    calls[key].append(arguments)
    pieces: list[str] = []
    for index in sorted(set(contents) | {key[0] for key in calls}):
        if index in contents:
            pieces.append("".join(contents[index]))
        for key in sorted(k for k in calls if k[0] == index):
            pieces.extend(p for p in (names.get(key, ""), "".join(calls[key])) if p)
    return "\n".join(pieces)


def _responses_final(events: Sequence[Any]) -> Any:
    """The response carried by the last terminal ``/v1/responses`` event, if the stream ended."""
    for event in reversed(events):
        if get_field(event, "type") in _RESPONSES_TERMINAL_EVENTS:
            return get_field(event, "response")
    return None


def _is_responses_text_delta(kind: Any) -> bool:
    """Deltas of what the client reads: text, refusals, tool input; not reasoning or audio."""
    return (
        isinstance(kind, str)
        and kind.endswith(".delta")
        and "reasoning" not in kind
        and kind != "response.audio.delta"
    )


def _responses_stream_text(events: Sequence[Any]) -> str:
    """The terminal event's response when the stream completed, else the deltas seen so far."""
    final = _responses_final(events)
    if final is not None and get_field(final, "output"):
        return extract_response_text(final)
    parts: dict[int, list[str]] = {}
    for event in events:
        kind = get_field(event, "type")
        index = _index(get_field(event, "output_index"))
        if kind == "response.output_item.added":
            name = get_field(get_field(event, "item"), "name")
            if isinstance(name, str) and name:
                parts.setdefault(index, []).append(name + "\n")
        elif _is_responses_text_delta(kind):
            delta = get_field(event, "delta")
            if isinstance(delta, str):
                parts.setdefault(index, []).append(delta)
    return "\n".join("".join(parts[index]) for index in sorted(parts))


def _anthropic_stream_text(events: Sequence[Any]) -> str:
    """Anthropic SSE: text blocks and tool-use blocks (name, then the streamed JSON input)."""
    blocks: dict[int, list[str]] = {}
    for event in events:
        kind = get_field(event, "type")
        index = _index(get_field(event, "index"))
        if kind == "content_block_start":
            block = get_field(event, "content_block")
            block_kind = get_field(block, "type")
            if block_kind == "text":
                blocks[index] = [get_field(block, "text") or ""]
            elif block_kind in TOOL_USE_TYPES:
                blocks[index] = [f"{get_field(block, 'name') or ''}\n"]
        elif kind == "content_block_delta":
            delta = get_field(event, "delta")
            value = get_field(delta, "text") if get_field(delta, "type") == "text_delta" else None
            if get_field(delta, "type") == "input_json_delta":
                value = get_field(delta, "partial_json")
            if isinstance(value, str):
                blocks.setdefault(index, []).append(value)
    texts = ("".join(blocks[index]).strip("\n") for index in sorted(blocks))
    return "\n".join(text for text in texts if text)


def _index(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def response_usage(response: Any) -> tuple[int, int, int]:
    """``(prompt, completion, total)`` tokens of a response; zeros when unknown.

    Reads OpenAI names (``prompt_tokens`` / ``completion_tokens`` / ``total_tokens``) or
    Anthropic / Responses names (``input_tokens`` / ``output_tokens``; Anthropic cache reads and
    writes count as prompt tokens). For a list of streaming chunks: the last chat chunk with
    usage, the terminal ``/v1/responses`` event's response, or Anthropic ``message_start`` input
    plus the last ``message_delta`` output.
    """
    if isinstance(response, list | tuple):
        return _stream_usage(response)
    usage = get_field(response, "usage")
    if usage is None:
        return (0, 0, 0)
    prompt = _tokens(usage, "prompt_tokens") or _anthropic_input_tokens(usage)
    completion = _tokens(usage, "completion_tokens") or _tokens(usage, "output_tokens")
    total = _tokens(usage, "total_tokens") or prompt + completion
    return (prompt, completion, total)


def _anthropic_input_tokens(usage: Any) -> int:
    return (
        _tokens(usage, "input_tokens")
        + _tokens(usage, "cache_creation_input_tokens")
        + _tokens(usage, "cache_read_input_tokens")
    )


def _stream_usage(chunks: Sequence[Any]) -> tuple[int, int, int]:
    events = _stream_events(chunks)
    kind = _stream_kind(events)
    if kind == "responses":
        final = _responses_final(events)
        return response_usage(final) if final is not None else (0, 0, 0)
    if kind == "anthropic":
        prompt = completion = 0
        for event in events:
            if get_field(event, "type") == "message_start":
                prompt = _anthropic_input_tokens(get_field(get_field(event, "message"), "usage"))
            elif get_field(event, "type") == "message_delta":
                usage = get_field(event, "usage")
                completion = _tokens(usage, "output_tokens") or completion
                # Some producers (LiteLLM's adapter among them) report the input only here.
                prompt = _anthropic_input_tokens(usage) or prompt
        return (prompt, completion, prompt + completion)
    for chunk in reversed(events):
        if get_field(chunk, "usage") is not None:
            usage = response_usage(chunk)
            if any(usage):
                return usage
    return (0, 0, 0)


def _tokens(usage: Any, key: str) -> int:
    value = get_field(usage, key)
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    return 0
