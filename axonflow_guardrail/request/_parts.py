"""Messages and content parts, on every route family: what the model reads, in place.

Chat, Responses and Anthropic messages (`message`), their content (`content`, `part`: text,
refusals, media and files through `_media`, tool use and results, thinking), chat tool calls,
Responses input items (`input_like`), and prompt-template variables. Each reader handles the
keys it knows with their structure, so masked text can be written back where it was read, and
hands every other key to `_walker.rest`: nothing on a message or a part is skipped unless it is
on the never-read list.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from axonflow_guardrail.request._encoded import decode_base64_text, is_textual, media_kind
from axonflow_guardrail.request._extracted import Collector, Path
from axonflow_guardrail.request._media import (
    MEDIA_OBJECT_KEYS,
    MEDIA_TYPES,
    file,
    media,
)
from axonflow_guardrail.request._walker import (
    AUDIO,
    FILE,
    PLACEHOLDERS,
    TOKENS,
    arguments,
    check_depth,
    discriminator,
    json_value,
    keys,
    name,
    opaque,
    read_only_text,
    rest,
    text,
)

__all__ = [
    "TOOL_USE_TYPES",
    "content",
    "input_like",
    "message",
    "part",
    "prompt_variables",
]

_MAX_TYPE_NAME_IN_PLACEHOLDER: Final = 40


TOOL_USE_TYPES: Final = frozenset({"tool_use", "server_tool_use", "mcp_tool_use"})


_TEXT_PART_TYPES: Final = frozenset({"text", "input_text", "output_text", "guarded_text"})


_TOOL_RESULT_TYPES: Final = frozenset({"tool_result", "mcp_tool_result"})


_TOOL_OUTPUT_ITEM_TYPES: Final = frozenset({"function_call_output", "custom_tool_call_output"})


_TOOL_CALL_ITEM_TYPES: Final = frozenset(
    {"function_call", "mcp_call", "mcp_approval_request", "custom_tool_call"}
)


def content(c: Collector, path: Path, value: Any, role: str | None) -> None:
    """A message ``content``: a string, a list of parts/blocks, or a single part."""
    check_depth(path)
    if value is None:
        return
    if isinstance(value, str):
        text(c, path, value, role, writable=True)
    elif isinstance(value, list | tuple):
        for index, part_value in enumerate(value):
            part(c, (*path, index), part_value, role)
    elif isinstance(value, Mapping):
        part(c, path, value, role)
    else:
        opaque(c, path, value, role)


def _structured(c: Collector, path: Path, value: Any, role: str | None) -> bool:
    """Read a part or message given as a plain string, or of no known shape; True for an
    object the caller reads field by field."""
    check_depth(path)
    if isinstance(value, str):
        text(c, path, value, role, writable=True)
        return False
    if not isinstance(value, Mapping):
        opaque(c, path, value, role)
        return False
    return True


def part(c: Collector, path: Path, value: Any, role: str | None) -> None:
    """One content part (OpenAI chat, Responses or Anthropic block)."""
    if not _structured(c, path, value, role):
        return
    kind = discriminator(value, "type", path)
    if kind in _TEXT_PART_TYPES and isinstance(value.get("text"), str):
        text(c, (*path, "text"), value["text"], role, writable=True)
        rest(c, path, value, ("type", "text"), role)
    elif kind == "refusal" and isinstance(value.get("refusal"), str):
        c.add((*path, "refusal"), value["refusal"], role, True)
        rest(c, path, value, ("type", "refusal"), role)
    elif kind in MEDIA_TYPES:
        media(c, path, value, MEDIA_TYPES[kind], role)
        objects = tuple(k for k in MEDIA_OBJECT_KEYS if isinstance(value.get(k), Mapping))
        rest(c, path, value, ("type", *objects), role, payload=("url", *MEDIA_OBJECT_KEYS))
    elif kind in ("image", "document"):
        _source_block(c, path, value, kind, role)
        for key in ("title", "context"):
            if isinstance(value.get(key), str):
                c.add((*path, key), value[key], role, True)
        rest(c, path, value, ("type", "source", "title", "context"), role)
    elif kind == "file":
        file(c, (*path, "file"), value.get("file"), role)
        rest(c, path, value, ("type", "file"), role)
    elif kind == "input_file":
        file(c, path, value, role)
    elif kind == "container_upload":
        c.unverifiable((*path, "file_id"), "file_reference", FILE, role)
        rest(c, path, value, ("type",), role)
    elif kind in TOOL_USE_TYPES:
        name(c, (*path, "name"), value.get("name"), role)
        json_value(c, (*path, "input"), value.get("input"), role)
        rest(c, path, value, ("type", "name", "input"), role)
    elif kind in _TOOL_RESULT_TYPES:
        content(c, (*path, "content"), value.get("content"), role)
        rest(c, path, value, ("type", "content"), role)
    elif kind == "thinking":
        read_only_text(c, (*path, "thinking"), value.get("thinking"), role)
        rest(c, path, value, ("type", "thinking"), role)
    elif kind == "redacted_thinking":
        return  # an encrypted blob only the provider can read
    elif kind == "compaction":
        read_only_text(c, (*path, "content"), value.get("content"), role)
        rest(c, path, value, ("type", "content"), role)
    else:
        _unknown_part(c, path, value, kind, role)


def _unknown_part(
    c: Collector, path: Path, value: Mapping[str, Any], kind: str | None, role: str | None
) -> None:
    """A part type we do not know: ``text`` and ``content`` as usual, everything else read-only.

    When nothing readable is found the part still shows up as ``[its type]``.
    """
    before = c.count
    handled: list[str] = []
    if isinstance(value.get("text"), str):
        text(c, (*path, "text"), value["text"], role, writable=True)
        handled.append("text")
    if "content" in value:
        content(c, (*path, "content"), value["content"], role)
        handled.append("content")
    rest(c, path, value, handled, role)
    if c.count == before:
        c.add(path, _type_placeholder(kind), role, False)


def _type_placeholder(kind: Any) -> str:
    if isinstance(kind, str) and kind and len(kind) <= _MAX_TYPE_NAME_IN_PLACEHOLDER:
        return f"[{kind}]"
    return "[non-text content]"


def _function_call(c: Collector, path: Path, call: Any, role: str | None) -> None:
    """``{"name", "arguments"}`` of a chat tool call or legacy ``function_call``."""
    if not isinstance(call, Mapping):
        if call is not None:
            opaque(c, path, call, role)
        return
    name(c, (*path, "name"), call.get("name"), role)
    if "arguments" in call:
        arguments(c, (*path, "arguments"), call["arguments"], role)
    if "input" in call:  # custom (free-form) tools
        arguments(c, (*path, "input"), call["input"], role)
    rest(c, path, call, ("name", "arguments", "input"), role)


def _tool_calls(c: Collector, path: Path, value: Any, role: str | None) -> None:
    if not isinstance(value, list | tuple):
        if value is not None:
            opaque(c, path, value, role)
        return
    for index, call in enumerate(value):
        cpath = (*path, index)
        if not isinstance(call, Mapping):
            opaque(c, cpath, call, role)
            continue
        discriminator(call, "type", cpath)
        for key in ("function", "custom"):
            if key in call:
                _function_call(c, (*cpath, key), call[key], role)
        rest(c, cpath, call, ("function", "custom"), role)


_MESSAGE_KEYS: Final = (
    "role",
    "name",
    "content",
    "refusal",
    "tool_calls",
    "function_call",
    "reasoning_content",
    "thinking_blocks",
    "reasoning_items",
    "audio",
)


def message(c: Collector, path: Path, value: Any, default_role: str | None) -> None:
    """One chat, Anthropic or Responses message: content plus everything else the model reads."""
    if not _structured(c, path, value, default_role):
        return
    discriminator(value, "type", path)
    role = discriminator(value, "role", path) or default_role
    name(c, (*path, "name"), value.get("name"), role)
    content(c, (*path, "content"), value.get("content"), role)
    if isinstance(value.get("refusal"), str):
        c.add((*path, "refusal"), value["refusal"], role, True)
    elif value.get("refusal") is not None:
        opaque(c, (*path, "refusal"), value["refusal"], role)
    _tool_calls(c, (*path, "tool_calls"), value.get("tool_calls"), role)
    _function_call(c, (*path, "function_call"), value.get("function_call"), role)
    read_only_text(c, (*path, "reasoning_content"), value.get("reasoning_content"), role)
    blocks = value.get("thinking_blocks")
    if isinstance(blocks, list | tuple):
        for index, block in enumerate(blocks):
            part(c, (*path, "thinking_blocks", index), block, role)
    elif blocks is not None:
        opaque(c, (*path, "thinking_blocks"), blocks, role)
    read_only_text(c, (*path, "reasoning_items"), value.get("reasoning_items"), role)
    if value.get("audio") is not None:
        c.add((*path, "audio"), AUDIO, role, False)
    rest(c, path, value, _MESSAGE_KEYS, role)


def _is_token(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _token_ids(value: Any) -> bool:
    """A non-empty list of token ids (a pre-tokenised prompt or embedding input)."""
    return isinstance(value, list | tuple) and bool(value) and all(_is_token(x) for x in value)


def input_like(c: Collector, path: Path, value: Any) -> None:
    """A string, a list of strings / token-id lists / Responses items, or token ids."""
    check_depth(path)
    if value is None:
        return
    if isinstance(value, str):
        text(c, path, value, "user", writable=True)
    elif _token_ids(value):
        c.unverifiable(path, "token_ids", TOKENS, "user")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _input_item(c, (*path, index), item)
    elif isinstance(value, Mapping):
        _input_item(c, path, value)
    else:
        opaque(c, path, value, "user")


def _input_item(c: Collector, path: Path, item: Any) -> None:
    if isinstance(item, str):
        text(c, path, item, "user", writable=True)
    elif _is_token(item) or _token_ids(item):
        c.unverifiable(path, "token_ids", TOKENS, "user")
    elif isinstance(item, Mapping):
        _responses_item(c, path, item)
    else:
        opaque(c, path, item, "user")


def _responses_item(c: Collector, path: Path, item: Mapping[str, Any]) -> None:
    """One Responses API input item."""
    check_depth(path)
    kind = discriminator(item, "type", path)
    if kind in _TOOL_CALL_ITEM_TYPES:
        name(c, (*path, "name"), item.get("name"), "assistant")
        for key in ("arguments", "input"):
            if key in item:
                arguments(c, (*path, key), item[key], "assistant")
        if "output" in item:
            content(c, (*path, "output"), item["output"], "tool")
        read_only_text(c, (*path, "error"), item.get("error"), "tool")
        rest(c, path, item, ("name", "arguments", "input", "output", "error"), "assistant")
    elif kind in _TOOL_OUTPUT_ITEM_TYPES:
        content(c, (*path, "output"), item.get("output"), "tool")
        rest(c, path, item, ("output",), "tool")
    elif kind == "reasoning":
        read_only_text(c, (*path, "summary"), item.get("summary"), "assistant")
        read_only_text(c, (*path, "content"), item.get("content"), "assistant")
        rest(c, path, item, ("summary", "content"), "assistant")
    elif kind == "item_reference":
        return
    elif kind == "message" or (kind is None and ("role" in item or "content" in item)):
        message(c, path, item, "user")
    elif kind is not None and (
        kind in _TEXT_PART_TYPES
        or kind in MEDIA_TYPES
        or kind
        in (
            "input_file",
            "file",
            "image",
            "document",
        )
    ):
        part(c, path, item, "user")  # a bare content part as an input item
    else:
        before = c.count
        opaque(c, path, item, None)
        if c.count == before:
            c.add(path, _type_placeholder(kind), None, False)


def prompt_variables(c: Collector, path: Path, value: Any) -> None:
    """Values substituted into a prompt template: text the model will read."""
    if not isinstance(value, Mapping):
        if value is not None:
            opaque(c, path, value, "user")
        return
    keys(c, path, value, (), "user")
    for key in sorted(value, key=str):
        part(c, (*path, key), value[key], "user")


def _source_block(
    c: Collector, path: Path, block: Mapping[str, Any], kind: str, role: str | None
) -> None:
    """Anthropic ``image`` / ``document`` blocks: ``source`` of type text, content, base64,
    url or file."""
    source = block.get("source")
    spath = (*path, "source")
    if not isinstance(source, Mapping):
        if source is None:
            c.add(path, PLACEHOLDERS.get(kind, FILE), role, False)
        else:
            opaque(c, spath, source, role)
        return
    source_kind = discriminator(source, "type", spath)
    declared = source.get("media_type")
    media_type = declared if isinstance(declared, str) else ""
    data = source.get("data")
    placeholder = PLACEHOLDERS.get(kind) or PLACEHOLDERS.get(str(media_kind(media_type)))
    if source_kind == "text" and isinstance(data, str):
        c.add((*spath, "data"), data, role, True)
    elif source_kind == "content":
        content(c, (*spath, "content"), source.get("content"), role)
    elif source_kind == "base64" and isinstance(data, str):
        as_text = decode_base64_text(data, media_type) if is_textual(media_type) else None
        if as_text is not None:
            c.add((*spath, "data"), as_text, role, False)
        elif placeholder is not None:
            c.add(path, placeholder, role, False)
        else:
            c.unverifiable((*spath, "data"), "binary_file", FILE, role)
    elif source_kind in ("url", "file") and kind in PLACEHOLDERS:
        c.add(path, PLACEHOLDERS[kind], role, False)  # images stay placeholders
    elif source_kind == "url":
        c.unverifiable((*spath, "url"), "remote_file", FILE, role)
    elif source_kind == "file":
        c.unverifiable((*spath, "file_id"), "file_reference", FILE, role)
    else:
        c.add(path, placeholder or FILE, role, False)
        if isinstance(data, str):
            opaque(c, (*spath, "data"), data, role)
    if data is not None and not isinstance(data, str):
        opaque(c, (*spath, "data"), data, role)
    handled = ("type", "media_type", "data", *(("content",) if source_kind == "content" else ()))
    rest(c, spath, source, handled, role, payload=("url",))
