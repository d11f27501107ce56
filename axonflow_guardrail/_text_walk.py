"""The walkers: every value of a request, turned into checked text, a placeholder or a refusal.

Principle: what the provider will receive is what gets checked. A walker reads the fields it
knows with their structure (so masked text can be written back in place) and hands every other
key to :func:`opaque`, which checks every string, number and object key in it (read-only). Only
a short, explicit list is never read: identifiers (``id``, ``*_id``), enum discriminators
(``type``, ``role``, ``status``), provider-signed blobs, cache controls, and credentials or
headers (which must never be sent to AxonFlow). Nothing else is skipped.

Encoded content is decoded when that is faithful (`_encoded`): data URLs and base64 files of a
textual media type are checked as text. What cannot be read (binary files, file ids, remote
files, token ids) is recorded as `Unverifiable` with a placeholder in its place; images, audio
and video stay placeholders (``[image]``, ``[audio]``, ``[video]``), which a policy can match.

Shapes no provider accepts (a part whose ``type`` is not a string, nesting deeper than
:data:`MAX_DEPTH`) raise `MalformedRequest`: the client's error, never a reason to pass.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from axonflow_guardrail._encoded import (
    decode_base64_text,
    decode_text,
    is_textual,
    media_kind,
    parse_data_url,
)
from axonflow_guardrail._extracted import MAX_DEPTH, Collector, MalformedRequest, Path

__all__ = [
    "KEYS",
    "TOOL_USE_TYPES",
    "Reader",
    "arguments",
    "content",
    "input_like",
    "is_credential_key",
    "message",
    "opaque",
    "prompt_variables",
    "read_only_text",
    "text",
]

#: A walker for one field: ``(collector, path, value)``.
Reader = Callable[[Collector, Path, Any], None]

IMAGE: Final = "[image]"
AUDIO: Final = "[audio]"
VIDEO: Final = "[video]"
FILE: Final = "[file]"
TOKENS: Final = "[token ids]"
_PLACEHOLDERS: Final = {"image": IMAGE, "audio": AUDIO, "video": VIDEO}
_MAX_TYPE_NAME_IN_PLACEHOLDER: Final = 40
#: The path key of the segment that holds an object's own keys (read-only).
KEYS: Final = "{keys}"

TOOL_USE_TYPES: Final = frozenset({"tool_use", "server_tool_use", "mcp_tool_use"})
_TEXT_PART_TYPES: Final = frozenset({"text", "input_text", "output_text", "guarded_text"})
_TOOL_RESULT_TYPES: Final = frozenset({"tool_result", "mcp_tool_result"})
_TOOL_OUTPUT_ITEM_TYPES: Final = frozenset({"function_call_output", "custom_tool_call_output"})
_TOOL_CALL_ITEM_TYPES: Final = frozenset(
    {"function_call", "mcp_call", "mcp_approval_request", "custom_tool_call"}
)

#: Never read, at any depth: identifiers, enum discriminators, signed or encrypted provider
#: blobs, cache controls. (Keys ending in ``_id`` are identifiers too.)
NON_TEXT_KEYS: Final = frozenset(
    {
        "id",
        "type",
        "role",
        "status",
        "index",
        "object",
        "signature",
        "encrypted_content",
        "cache_control",
        "media_type",
        "mime_type",
    }
)
#: Credentials and transport settings, never read and never sent to AxonFlow, at any depth.
_CREDENTIAL_KEYS: Final = frozenset(
    {"api_key", "api_base", "base_url", "api_version", "organization", "extra_headers", "headers"}
)
_CREDENTIAL_MARKERS: Final = (
    "api_key",
    "secret",
    "password",
    "credential",
    "access_key",
    "session_token",
    "auth_token",
    "ad_token",
)
#: An object key that reads as a name (``location``, ``budget_tokens``) rather than as text.
_NAME_LIKE_KEY: Final = re.compile(r"[A-Za-z_$][A-Za-z0-9_.$-]{0,63}")
#: Objects whose keys are names the model reads (JSON-schema property names): all checked.
_NAMED_MAPS: Final = frozenset({"properties", "patternProperties", "$defs", "definitions"})


def is_credential_key(key: str) -> bool:
    """A key whose value is a secret or transport setting: never read, never sent to AxonFlow."""
    lowered = key.lower()
    return lowered in _CREDENTIAL_KEYS or any(m in lowered for m in _CREDENTIAL_MARKERS)


def _skipped(key: Any) -> bool:
    if not isinstance(key, str):
        return False
    return key in NON_TEXT_KEYS or key.endswith("_id") or is_credential_key(key)


def _check_depth(path: Path) -> None:
    if len(path) > MAX_DEPTH:
        raise MalformedRequest(path[:MAX_DEPTH], f"nests deeper than {MAX_DEPTH} levels")


def _discriminator(item: Mapping[str, Any], key: str, path: Path) -> str | None:
    """The ``type`` or ``role`` of an item: a string, or absent. Anything else is malformed."""
    value = item.get(key)
    if value is None or isinstance(value, str):
        return value
    raise MalformedRequest((*path, key), f"'{key}' must be a string")


# --------------------------------------------------------------------------------------------
# Generic values
# --------------------------------------------------------------------------------------------


def text(c: Collector, path: Path, value: str, role: str | None, *, writable: bool) -> None:
    """A string the model reads; a data URL in it is decoded (or recorded as unverifiable)."""
    parsed = parse_data_url(value) if value[:5].lower() == "data:" else None
    if parsed is None:
        c.add(path, value, role, writable)
    else:
        _decoded(c, path, parsed.media_type, parsed.payload, role)


def opaque(c: Collector, path: Path, value: Any, role: str | None = None) -> None:
    """A value of a shape we do not model: every string in it, read-only.

    Object keys are text too: a key that does not read as a name (it has spaces or
    punctuation, or is long) is checked, and so is every key of a JSON-schema property map.

    Read-only because we cannot tell what the provider does with the field; a mask that would
    change it makes write-back fail closed instead.
    """
    _check_depth(path)
    if isinstance(value, str):
        text(c, path, value, role, writable=False)
    elif isinstance(value, Mapping):
        named = bool(path) and path[-1] in _NAMED_MAPS
        _keys(c, path, value, (), role, every=named)
        for key in sorted(value, key=str):
            if not _skipped(key):
                opaque(c, (*path, key), value[key], role)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            opaque(c, (*path, index), item, role)
    elif hasattr(value, "model_dump"):
        opaque(c, path, value.model_dump(), role)
    elif isinstance(value, bytes | bytearray | memoryview) or hasattr(value, "read"):
        c.unverifiable(path, "binary_file", FILE, role)  # raw bytes, an uploaded file
    # Anything else is an object of LiteLLM's own plumbing (an HTTP session, a logging object,
    # a callable) that it puts into the request data: not request content, which a client can
    # only send as JSON or form fields.


def _keys(
    c: Collector,
    path: Path,
    value: Mapping[Any, Any],
    known: Iterable[str],
    role: str | None,
    *,
    every: bool = False,
) -> None:
    """An object's own keys, as one read-only segment: a key is text the model may read too.

    `every`: all keys (tool arguments, schema property names); otherwise only keys that do not
    read as names, so a free-text key is checked without listing every field name.
    """
    handled = frozenset(known)
    names = sorted(
        str(key)
        for key in value
        if key not in handled
        and not _skipped(key)
        and (every or not (isinstance(key, str) and _NAME_LIKE_KEY.fullmatch(key)))
    )
    if names:
        c.add((*path, KEYS), "\n".join(names), role, False)


def rest(
    c: Collector,
    path: Path,
    item: Mapping[str, Any],
    known: Iterable[str],
    role: str | None,
    *,
    payload: Iterable[str] = (),
) -> None:
    """Every key of `item` that its structured reader did not handle, read like `opaque`.

    `payload` keys hold media or references (a URL, base64 data, a format name) when their
    value is a string, and are then not text; any other value there is read like the rest.
    """
    handled = frozenset(known)
    payload_keys = frozenset(payload)
    _keys(c, path, item, handled | payload_keys, role)
    for key in sorted(item, key=str):
        if key in handled or _skipped(key):
            continue
        value = item[key]
        if key in payload_keys and isinstance(value, str):
            continue
        opaque(c, (*path, key), value, role)


def read_only_text(c: Collector, path: Path, value: Any, role: str | None) -> None:
    if isinstance(value, str):
        text(c, path, value, role, writable=False)
    elif value is not None:
        opaque(c, path, value, role)


def _name(c: Collector, path: Path, value: Any, role: str | None) -> None:
    """A function, tool or participant name: checked, never rewritten (it must match a schema)."""
    read_only_text(c, path, value, role)


def json_value(c: Collector, path: Path, value: Any, role: str | None) -> None:
    """Values of a structured tool input (Anthropic ``tool_use.input``, MCP arguments).

    Strings are writable in place; numbers and keys are read-only (a mask would change their
    type, or the schema).
    """
    _check_depth(path)
    if isinstance(value, str):
        c.add(path, value, role, True)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int | float):
        c.add(path, str(value), role, False)
    elif isinstance(value, Mapping):
        _keys(c, path, value, (), role, every=True)
        for key in sorted(value, key=str):
            if isinstance(key, str):
                json_value(c, (*path, key), value[key], role)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            json_value(c, (*path, index), item, role)
    else:
        opaque(c, path, value, role)


def arguments(c: Collector, path: Path, value: Any, role: str | None) -> None:
    """Tool-call arguments: a JSON string (writable as a whole) or, from lax clients, a dict."""
    if isinstance(value, str):
        c.add(path, value, role, True)
    else:
        json_value(c, path, value, role)


# --------------------------------------------------------------------------------------------
# Encoded content
# --------------------------------------------------------------------------------------------


def _decoded(
    c: Collector, path: Path, media_type: str, payload: bytes | None, role: str | None
) -> None:
    """Content of a declared media type: text when it is text, else a placeholder."""
    kind = media_kind(media_type)
    if kind is not None:
        c.add(path, _PLACEHOLDERS[kind], role, False)
        return
    decoded = decode_text(media_type, payload)
    if decoded is not None:
        c.add(path, decoded, role, False)
    elif is_textual(media_type):
        c.unverifiable(path, "undecodable_text", FILE, role)
    else:
        c.unverifiable(path, "binary_file", FILE, role)


def _file(c: Collector, path: Path, file: Any, role: str | None) -> None:
    """An attached file: OpenAI chat ``file``, Responses ``input_file``.

    ``file_data`` (a data URL, or base64 with ``format`` / a file name saying its type) is
    decoded when it is text; ``file_id`` and ``file_url`` cannot be read here.
    """
    if not isinstance(file, Mapping):
        if isinstance(file, str):
            text(c, path, file, role, writable=False)
        else:
            opaque(c, path, file, role)
        return
    read_only_text(c, (*path, "filename"), file.get("filename"), role)
    data = file.get("file_data")
    found = False
    if isinstance(data, str) and data:
        found = True
        parsed = parse_data_url(data)
        if parsed is not None:
            _decoded(c, (*path, "file_data"), parsed.media_type, parsed.payload, role)
        else:
            media = _declared_type(file)
            decoded = decode_base64_text(data, media) if media else None
            if decoded is not None:
                c.add((*path, "file_data"), decoded, role, False)
            elif media and media_kind(media):
                c.add((*path, "file_data"), _PLACEHOLDERS[str(media_kind(media))], role, False)
            else:
                c.unverifiable((*path, "file_data"), "binary_file", FILE, role)
    elif data is not None:
        opaque(c, (*path, "file_data"), data, role)
    if isinstance(file.get("file_id"), str):
        found = True
        c.unverifiable((*path, "file_id"), "file_reference", FILE, role)
    if isinstance(file.get("file_url"), str):
        found = True
        c.unverifiable((*path, "file_url"), "remote_file", FILE, role)
    if not found:
        c.add(path, FILE, role, False)
    rest(c, path, file, ("filename", "file_data"), role, payload=("file_url", "format"))


def _declared_type(file: Mapping[str, Any]) -> str | None:
    for key in ("format", "mime_type", "media_type"):
        value = file.get(key)
        if isinstance(value, str) and "/" in value:
            return value
    filename = file.get("filename")
    if isinstance(filename, str):
        return mimetypes.guess_type(filename, strict=False)[0]
    return None


def _media(c: Collector, path: Path, part: Mapping[str, Any], kind: str, role: str | None) -> None:
    """An image, audio or video part: a placeholder, unless its data URL is really text.

    The payload itself (URL, base64 data, format) is not text; any other key in the payload
    object is read like every unknown key.
    """
    placeholder = True
    for payload in _payload_strings(part):
        parsed = parse_data_url(payload)
        if parsed is not None and is_textual(parsed.media_type):
            _decoded(c, path, parsed.media_type, parsed.payload, role)
            placeholder = False
            break
    if placeholder:
        c.add(path, _PLACEHOLDERS[kind], role, False)
    for key in _MEDIA_OBJECT_KEYS:
        value = part.get(key)
        if isinstance(value, Mapping):
            rest(c, (*path, key), value, (), role, payload=_MEDIA_PAYLOAD_KEYS)


def _payload_strings(part: Mapping[str, Any]) -> Iterable[str]:
    for key in ("image_url", "url", "audio_url", "video_url"):
        value = part.get(key)
        if isinstance(value, str):
            yield value
        elif isinstance(value, Mapping) and isinstance(value.get("url"), str):
            yield value["url"]


def _source_block(
    c: Collector, path: Path, part: Mapping[str, Any], kind: str, role: str | None
) -> None:
    """Anthropic ``image`` / ``document`` blocks: ``source`` of type text, content, base64,
    url or file."""
    source = part.get("source")
    spath = (*path, "source")
    if not isinstance(source, Mapping):
        if source is None:
            c.add(path, _PLACEHOLDERS.get(kind, FILE), role, False)
        else:
            opaque(c, spath, source, role)
        return
    source_kind = _discriminator(source, "type", spath)
    declared = source.get("media_type")
    media = declared if isinstance(declared, str) else ""
    data = source.get("data")
    placeholder = _PLACEHOLDERS.get(kind) or _PLACEHOLDERS.get(str(media_kind(media)))
    if source_kind == "text" and isinstance(data, str):
        c.add((*spath, "data"), data, role, True)
    elif source_kind == "content":
        content(c, (*spath, "content"), source.get("content"), role)
    elif source_kind == "base64" and isinstance(data, str):
        decoded = decode_base64_text(data, media) if is_textual(media) else None
        if decoded is not None:
            c.add((*spath, "data"), decoded, role, False)
        elif placeholder is not None:
            c.add(path, placeholder, role, False)
        else:
            c.unverifiable((*spath, "data"), "binary_file", FILE, role)
    elif source_kind in ("url", "file") and kind in _PLACEHOLDERS:
        c.add(path, _PLACEHOLDERS[kind], role, False)  # images stay placeholders
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


# --------------------------------------------------------------------------------------------
# Messages and parts
# --------------------------------------------------------------------------------------------


def content(c: Collector, path: Path, value: Any, role: str | None) -> None:
    """A message ``content``: a string, a list of parts/blocks, or a single part."""
    _check_depth(path)
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


#: The parts of a media payload object that are the media itself (never text).
_MEDIA_PAYLOAD_KEYS: Final = ("url", "data", "format", "detail")
#: Where a media part keeps its payload object (the part's `type` names it).
_MEDIA_OBJECT_KEYS: Final = (
    "image_url",
    "input_audio",
    "audio_url",
    "audio",
    "video_url",
    "video",
    "input_image",
)
_MEDIA_TYPES: Final = {
    "image_url": "image",
    "input_image": "image",
    "input_audio": "audio",
    "audio_url": "audio",
    "audio": "audio",
    "video_url": "video",
    "video": "video",
}


def _structured(c: Collector, path: Path, value: Any, role: str | None) -> bool:
    """Read a part or message given as a plain string, or of no known shape; True for an
    object the caller reads field by field."""
    _check_depth(path)
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
    kind = _discriminator(value, "type", path)
    if kind in _TEXT_PART_TYPES and isinstance(value.get("text"), str):
        text(c, (*path, "text"), value["text"], role, writable=True)
        rest(c, path, value, ("type", "text"), role)
    elif kind == "refusal" and isinstance(value.get("refusal"), str):
        c.add((*path, "refusal"), value["refusal"], role, True)
        rest(c, path, value, ("type", "refusal"), role)
    elif kind in _MEDIA_TYPES:
        _media(c, path, value, _MEDIA_TYPES[kind], role)
        objects = tuple(k for k in _MEDIA_OBJECT_KEYS if isinstance(value.get(k), Mapping))
        rest(c, path, value, ("type", *objects), role, payload=("url", *_MEDIA_OBJECT_KEYS))
    elif kind in ("image", "document"):
        _source_block(c, path, value, kind, role)
        for key in ("title", "context"):
            if isinstance(value.get(key), str):
                c.add((*path, key), value[key], role, True)
        rest(c, path, value, ("type", "source", "title", "context"), role)
    elif kind == "file":
        _file(c, (*path, "file"), value.get("file"), role)
        rest(c, path, value, ("type", "file"), role)
    elif kind == "input_file":
        _file(c, path, value, role)
    elif kind == "container_upload":
        c.unverifiable((*path, "file_id"), "file_reference", FILE, role)
        rest(c, path, value, ("type",), role)
    elif kind in TOOL_USE_TYPES:
        _name(c, (*path, "name"), value.get("name"), role)
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
    _name(c, (*path, "name"), call.get("name"), role)
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
        _discriminator(call, "type", cpath)
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
    _discriminator(value, "type", path)
    role = _discriminator(value, "role", path) or default_role
    _name(c, (*path, "name"), value.get("name"), role)
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


# --------------------------------------------------------------------------------------------
# Inputs (completions, embeddings, Responses)
# --------------------------------------------------------------------------------------------


def _is_token(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _token_ids(value: Any) -> bool:
    """A non-empty list of token ids (a pre-tokenised prompt or embedding input)."""
    return isinstance(value, list | tuple) and bool(value) and all(_is_token(x) for x in value)


def input_like(c: Collector, path: Path, value: Any) -> None:
    """A string, a list of strings / token-id lists / Responses items, or token ids."""
    _check_depth(path)
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
    _check_depth(path)
    kind = _discriminator(item, "type", path)
    if kind in _TOOL_CALL_ITEM_TYPES:
        _name(c, (*path, "name"), item.get("name"), "assistant")
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
        or kind in _MEDIA_TYPES
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
    _keys(c, path, value, (), "user")
    for key in sorted(value, key=str):
        part(c, (*path, key), value[key], "user")
