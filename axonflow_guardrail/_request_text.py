"""Turn a LiteLLM proxy request into the text the governance pre-check must see, and back.

Why this module exists
----------------------
A guardrail that checks only the last user message can be bypassed by putting the payload in
the system prompt, an earlier turn, a tool result or a tool-call argument. So
:func:`extract_request_text` walks *everything the request sends to the model* on every route
and records, for each piece, the path it came from, so that a masked version can be written back
(`_request_rewrite.write_back`) without guessing. Response text lives in `_response_text`.

What is read, per ``call_type`` (sync and async names alike)
-----------------------------------------------------------
* ``acompletion``: every message of every role in ``messages``: ``content`` (a string, or
  ``text`` / ``refusal`` parts), the participant ``name``, ``tool_calls`` (function name and
  ``arguments``), legacy ``function_call``, tool and function results, assistant
  ``reasoning_content`` and ``thinking_blocks``; plus ``prediction.content`` and
  ``prompt_variables`` (filled into a prompt template after this hook).
* ``atext_completion``: ``prompt`` (string or list of strings) and ``suffix``.
* ``aembedding``: ``input`` (string or list of strings).
* ``aresponses``: ``instructions``; ``input`` as a string or as items (messages with string
  content or ``input_text`` / ``output_text`` / ``refusal`` parts, ``function_call`` name and
  arguments, ``function_call_output``, custom tool and MCP calls and outputs, reasoning
  summaries, and a best-effort walk over any other item); ``prompt.variables`` of a stored
  prompt.
* ``anthropic_messages``: ``system`` (string or text blocks) and ``messages`` (text,
  ``tool_use`` name and input values, ``tool_result`` content, text ``document`` sources with
  their title and context, ``thinking``).
* ``call_mcp_tool``: ``mcp_tool_name`` and every value inside ``mcp_arguments``, which is what the
  MCP server will actually receive. LiteLLM's synthetic ``messages`` entry
  (``"Tool: …\\nArguments: {…}"``) repeats them, so it is read only when those keys are absent.
* ``rerank`` / ``arerank``: ``query`` and every document in ``documents``.
* any other ``call_type``: a best-effort walk over ``messages``, ``system``, ``instructions``,
  ``prompt``, ``input``, Google ``contents[].parts`` / ``system_instruction`` and rerank-style
  ``query`` + ``documents`` with the same rules, so that a new route is checked rather than
  silently skipped.

Images, audio, video and files become one short placeholder segment each (``[image]``,
``[audio]``, ``[video]``, ``[file]``) and token-id prompts become ``[token ids]``, so the check
knows they are there. Deliberately *not* read: ``tools`` / ``functions`` definitions,
``response_format`` / ``text.format`` schemas and MCP tool descriptions (the operator's or the
tool server's schema, not prompt text), identifiers (``id``, ``call_id``, ``tool_call_id``), media
payloads (base64 data, URLs, file ids) and signed or encrypted provider blobs (``signature``,
``encrypted_content``, ``redacted_thinking``), which are not readable text. Object keys inside
tool arguments are treated as schema names and skipped; their values are read.

Writability (what :func:`write_back` may replace)
------------------------------------------------
Writable: plain string content, text parts, text-completion prompts and suffix, embedding inputs,
Responses string input / instructions / function outputs, Anthropic system text and text
document sources, string values inside tool-use inputs and MCP arguments, and tool-call
``arguments`` JSON strings (they stay strings; when the original parsed as JSON the replacement
must parse too, or :func:`write_back` raises rather than send the model a broken call).
Not writable: placeholders, function and tool names, participant names, numbers inside tool
arguments (replacing them with a mask would change their type), and model-produced reasoning
(``thinking``, ``reasoning_content``, reasoning summaries: providers verify or replay these).
A changed replacement for a non-writable segment raises :class:`ValueError`, so the caller fails
closed instead of sending the unmasked original.

Bound (``max_chars``)
---------------------
``max_chars`` bounds the length of the pre-check query, that is ``len(joined())`` including the
separators. ``max_chars <= 0`` means unbounded. Governance must never silently check only part
of a request, so when the full query would exceed ``max_chars`` the result has
``truncated=True`` and the caller must deny the request ("request too large to check"), never
check the part. To bound memory and CPU the extractor then stops *storing* segments (it keeps
the whole segments that fit, in order) but keeps walking the request so that ``total_chars``
reports the full, unbounded query length. A truncated result cannot be written back. A request
that nests more than 100 levels deep (no real client does; the walk is recursive) is also
reported as truncated, and ``total_chars`` then leaves out what lies below that depth.

Separator
---------
Segments are joined with :data:`SEGMENT_SEPARATOR`, a newline, U+241E SYMBOL FOR RECORD
SEPARATOR (``␞``) and a newline. The query therefore reads as newline-separated text (``^``/``$``
and ``\\s`` behave as policy authors expect, and a pattern cannot match across two segments),
while the marker is a visible, NFKC-stable symbol that no PII recogniser matches, so maskers
leave it alone. :func:`split_masked` splits on it and refuses (returns ``None``) when the
count of pieces differs or when any original segment itself contains the marker.

Everything here is pure (no I/O, no logging) and linear in the size of the request. It is on
the hot path of every request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

__all__ = [
    "EMPTY_QUERY_PLACEHOLDER",
    "SEGMENT_MARKER",
    "SEGMENT_SEPARATOR",
    "ExtractedText",
    "TextSegment",
    "extract_request_text",
]

PathKey: TypeAlias = str | int
Path: TypeAlias = tuple[PathKey, ...]

#: The marker character inside the separator; never produced by PII maskers.
SEGMENT_MARKER: Final = "\u241e"
#: Joins segments in the pre-check query: the marker on a line of its own.
SEGMENT_SEPARATOR: Final = f"\n{SEGMENT_MARKER}\n"
#: The query sent when a request carries no segment at all (nothing to read).
EMPTY_QUERY_PLACEHOLDER: Final = "[non-text content]"

_IMAGE: Final = "[image]"
_AUDIO: Final = "[audio]"
_VIDEO: Final = "[video]"
_FILE: Final = "[file]"
_TOKENS: Final = "[token ids]"

_SEPARATOR_LEN: Final = len(SEGMENT_SEPARATOR)
#: Deepest path walked. The walkers recurse; no real request nests this deep, and a request that
#: does is reported as truncated (too large to check) instead of raising RecursionError.
_MAX_DEPTH: Final = 100
_MAX_TYPE_NAME_IN_PLACEHOLDER: Final = 40

_TEXT_PART_TYPES: Final = frozenset({"text", "input_text", "output_text", "guarded_text"})
_MEDIA_PART_PLACEHOLDERS: Final[Mapping[str, str]] = {
    "image_url": _IMAGE,
    "image": _IMAGE,
    "input_image": _IMAGE,
    "input_audio": _AUDIO,
    "audio_url": _AUDIO,
    "audio": _AUDIO,
    "video_url": _VIDEO,
    "video": _VIDEO,
    "file": _FILE,
    "input_file": _FILE,
    "container_upload": _FILE,
}
TOOL_USE_TYPES: Final = frozenset({"tool_use", "server_tool_use", "mcp_tool_use"})
_TOOL_RESULT_TYPES: Final = frozenset({"tool_result", "mcp_tool_result"})
_TOOL_OUTPUT_ITEM_TYPES: Final = frozenset({"function_call_output", "custom_tool_call_output"})
_TOOL_CALL_ITEM_TYPES: Final = frozenset({"function_call", "mcp_call", "mcp_approval_request"})

#: Keys never read by the best-effort walk: identifiers (also any ``*_id``), enums, media
#: payloads, signed blobs.
_OPAQUE_KEYS: Final = frozenset(
    {
        "type",
        "id",
        "call_id",
        "tool_call_id",
        "tool_use_id",
        "item_id",
        "approval_request_id",
        "role",
        "status",
        "signature",
        "encrypted_content",
        "cache_control",
        "prompt_cache_breakpoint",
        "citations",
        "annotations",
        "logprobs",
        "index",
        "media_type",
        "mime_type",
        "format",
        "detail",
        "url",
        "data",
        "file_data",
        "file_id",
        "file_url",
        "image_url",
        "result",
        "caller",
        "namespace",
    }
)


@dataclass(frozen=True, slots=True)
class TextSegment:
    """One piece of request text and where it lives in the request.

    ``path`` is the sequence of dict keys and list indexes that leads from the request ``data``
    to the string, e.g. ``("messages", 2, "content", 0, "text")``. ``writable`` says whether
    :func:`write_back` may replace it (see the module docstring for the rules).
    """

    path: Path
    text: str
    role: str | None
    writable: bool


@dataclass(frozen=True, slots=True)
class ExtractedText:
    """All the text of one request, in request order, ready to be checked and masked."""

    segments: tuple[TextSegment, ...]
    truncated: bool
    total_chars: int

    def joined(self) -> str:
        """The pre-check query: segment texts joined by :data:`SEGMENT_SEPARATOR`.

        Never empty, because the platform rejects an empty query and an image-only request must
        still be checked (and audited) as a request.
        """
        if not self.segments:
            return EMPTY_QUERY_PLACEHOLDER
        return SEGMENT_SEPARATOR.join(segment.text for segment in self.segments)


class _Collector:
    """Accumulates segments in order and applies the ``max_chars`` bound while counting."""

    __slots__ = ("_count", "_full", "_max_chars", "_segments", "_total")

    def __init__(self, max_chars: int) -> None:
        self._max_chars = max_chars
        self._segments: list[TextSegment] = []
        self._total = 0
        self._count = 0
        self._full = False

    @property
    def count(self) -> int:
        """Segments seen so far, stored or not (used to tell whether a walk found anything)."""
        return self._count

    def add(self, path: Path, text: str, role: str | None, writable: bool) -> None:
        """Count one segment and keep it unless the bound has been passed."""
        if not text:
            return
        self._total += len(text) + (_SEPARATOR_LEN if self._count else 0)
        self._count += 1
        if self._full:
            return
        if 0 < self._max_chars < self._total:
            self._full = True
            return
        self._segments.append(TextSegment(path, text, role, writable))

    def too_deep(self) -> None:
        """Mark the extraction incomplete: a branch nests deeper than :data:`_MAX_DEPTH`."""
        self._full = True

    def result(self) -> ExtractedText:
        return ExtractedText(tuple(self._segments), self._full, self._total)


# --------------------------------------------------------------------------------------------
# Request walkers
# --------------------------------------------------------------------------------------------


def _role_of(item: Mapping[str, Any], default: str | None) -> str | None:
    role = item.get("role")
    return role if isinstance(role, str) else default


def _opaque(c: _Collector, path: Path, value: Any, role: str | None) -> None:
    """Best-effort walk of a shape we do not know: every readable string, read-only.

    Read-only because we cannot tell what the provider does with the field; a mask that would
    change it makes :func:`write_back` fail closed instead.
    """
    if len(path) > _MAX_DEPTH:
        c.too_deep()
    elif isinstance(value, str):
        c.add(path, value, role, False)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str) and key not in _OPAQUE_KEYS and not key.endswith("_id"):
                _opaque(c, (*path, key), item, role)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _opaque(c, (*path, index), item, role)
    elif hasattr(value, "model_dump"):
        _opaque(c, path, value.model_dump(), role)


def _json_value(c: _Collector, path: Path, value: Any, role: str | None) -> None:
    """Values of a structured tool input (Anthropic ``tool_use.input``, MCP arguments).

    Strings are writable in place; numbers are read-only (a mask would change their type);
    keys are schema names and are skipped.
    """
    if len(path) > _MAX_DEPTH:
        c.too_deep()
    elif isinstance(value, str):
        c.add(path, value, role, True)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int | float):
        c.add(path, str(value), role, False)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str):
                _json_value(c, (*path, key), item, role)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _json_value(c, (*path, index), item, role)
    else:
        _opaque(c, path, value, role)


def _arguments(c: _Collector, path: Path, value: Any, role: str | None) -> None:
    """Tool-call arguments: a JSON string (writable as a whole) or, from lax clients, a dict."""
    if isinstance(value, str):
        c.add(path, value, role, True)
    else:
        _json_value(c, path, value, role)


def _content(c: _Collector, path: Path, content: Any, role: str | None) -> None:
    """A message ``content``: a string, a list of parts/blocks, or a single part."""
    if content is None:
        return
    if len(path) > _MAX_DEPTH:
        c.too_deep()
    elif isinstance(content, str):
        c.add(path, content, role, True)
    elif isinstance(content, list | tuple):
        for index, part in enumerate(content):
            _part(c, (*path, index), part, role)
    elif isinstance(content, Mapping):
        _part(c, path, content, role)
    else:
        _opaque(c, path, content, role)


def _part(c: _Collector, path: Path, part: Any, role: str | None) -> None:
    """One content part (OpenAI chat, Responses or Anthropic block)."""
    if isinstance(part, str):
        c.add(path, part, role, True)
        return
    if not isinstance(part, Mapping):
        _opaque(c, path, part, role)
        return
    kind = part.get("type")
    if kind in _TEXT_PART_TYPES and isinstance(part.get("text"), str):
        c.add((*path, "text"), part["text"], role, True)
    elif kind == "refusal" and isinstance(part.get("refusal"), str):
        c.add((*path, "refusal"), part["refusal"], role, True)
    elif isinstance(kind, str) and kind in _MEDIA_PART_PLACEHOLDERS:
        c.add(path, _MEDIA_PART_PLACEHOLDERS[kind], role, False)
    elif kind == "document":
        _document(c, path, part, role)
    elif kind in TOOL_USE_TYPES:
        _name(c, (*path, "name"), part.get("name"), role)
        _json_value(c, (*path, "input"), part.get("input"), role)
    elif kind in _TOOL_RESULT_TYPES:
        _content(c, (*path, "content"), part.get("content"), role)
    elif kind == "thinking":
        _read_only_text(c, (*path, "thinking"), part.get("thinking"), role)
    elif kind == "redacted_thinking":
        return
    elif kind == "compaction":
        _read_only_text(c, (*path, "content"), part.get("content"), role)
    else:
        _unknown_part(c, path, part, role)


def _unknown_part(c: _Collector, path: Path, part: Mapping[str, Any], role: str | None) -> None:
    """A part type we do not know: ``text`` and ``content`` as usual, any other string read-only.

    When nothing readable is found the part still shows up as ``[its type]``.
    """
    before = c.count
    for key, value in part.items():
        if key == "text" and isinstance(value, str):
            c.add((*path, "text"), value, role, True)
        elif key == "content":
            _content(c, (*path, "content"), value, role)
        elif isinstance(key, str) and key not in _OPAQUE_KEYS and not key.endswith("_id"):
            _opaque(c, (*path, key), value, role)
    if c.count == before:
        c.add(path, _type_placeholder(part.get("type")), role, False)


def _type_placeholder(kind: Any) -> str:
    if isinstance(kind, str) and kind and len(kind) <= _MAX_TYPE_NAME_IN_PLACEHOLDER:
        return f"[{kind}]"
    return EMPTY_QUERY_PLACEHOLDER


def _document(c: _Collector, path: Path, part: Mapping[str, Any], role: str | None) -> None:
    """A document block: plain-text and content sources are text; other sources are a file."""
    source = part.get("source")
    source_kind = source.get("type") if isinstance(source, Mapping) else None
    if (
        isinstance(source, Mapping)
        and source_kind == "text"
        and isinstance(source.get("data"), str)
    ):
        c.add((*path, "source", "data"), source["data"], role, True)
    elif isinstance(source, Mapping) and source_kind == "content":
        _content(c, (*path, "source", "content"), source.get("content"), role)
    else:
        c.add(path, _FILE, role, False)
    for key in ("title", "context"):
        if isinstance(part.get(key), str):
            c.add((*path, key), part[key], role, True)


def _name(c: _Collector, path: Path, value: Any, role: str | None) -> None:
    """A function, tool or participant name: checked, never rewritten (it must match a schema)."""
    if isinstance(value, str):
        c.add(path, value, role, False)


def _read_only_text(c: _Collector, path: Path, value: Any, role: str | None) -> None:
    if isinstance(value, str):
        c.add(path, value, role, False)
    elif value is not None:
        _opaque(c, path, value, role)


def _function_call(c: _Collector, path: Path, call: Any, role: str | None) -> None:
    """``{"name", "arguments"}`` of a chat tool call or legacy ``function_call``."""
    if not isinstance(call, Mapping):
        return
    _name(c, (*path, "name"), call.get("name"), role)
    if "arguments" in call:
        _arguments(c, (*path, "arguments"), call["arguments"], role)
    if "input" in call:  # custom (free-form) tools
        _arguments(c, (*path, "input"), call["input"], role)


def _tool_calls(c: _Collector, path: Path, tool_calls: Any, role: str | None) -> None:
    if not isinstance(tool_calls, list | tuple):
        return
    for index, call in enumerate(tool_calls):
        if not isinstance(call, Mapping):
            _opaque(c, (*path, index), call, role)
            continue
        for key in ("function", "custom"):
            if key in call:
                _function_call(c, (*path, index, key), call[key], role)


def _message(c: _Collector, path: Path, message: Any, default_role: str | None) -> None:
    """One chat, Anthropic or Responses message: content plus everything else the model reads."""
    if isinstance(message, str):
        c.add(path, message, default_role, True)
        return
    if not isinstance(message, Mapping):
        _opaque(c, path, message, default_role)
        return
    role = _role_of(message, default_role)
    _name(c, (*path, "name"), message.get("name"), role)
    _content(c, (*path, "content"), message.get("content"), role)
    if isinstance(message.get("refusal"), str):
        c.add((*path, "refusal"), message["refusal"], role, True)
    _tool_calls(c, (*path, "tool_calls"), message.get("tool_calls"), role)
    _function_call(c, (*path, "function_call"), message.get("function_call"), role)
    _read_only_text(c, (*path, "reasoning_content"), message.get("reasoning_content"), role)
    blocks = message.get("thinking_blocks")
    if isinstance(blocks, list | tuple):
        for index, block in enumerate(blocks):
            _part(c, (*path, "thinking_blocks", index), block, role)
    _read_only_text(c, (*path, "reasoning_items"), message.get("reasoning_items"), role)
    if message.get("audio") is not None:
        c.add((*path, "audio"), _AUDIO, role, False)


def _messages(c: _Collector, data: Mapping[str, Any]) -> None:
    messages = data.get("messages")
    if isinstance(messages, list | tuple):
        for index, message in enumerate(messages):
            _message(c, ("messages", index), message, None)
    elif messages is not None:
        _opaque(c, ("messages",), messages, None)


def _system(c: _Collector, data: Mapping[str, Any]) -> None:
    """Anthropic ``system``: a string or a list of text blocks."""
    _content(c, ("system",), data.get("system"), "system")


def _instructions(c: _Collector, data: Mapping[str, Any]) -> None:
    """Responses ``instructions``: the system prompt of that route."""
    _content(c, ("instructions",), data.get("instructions"), "system")


def _is_token(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _token_ids(value: Sequence[Any]) -> bool:
    """A non-empty list of token ids (a pre-tokenised prompt or embedding input)."""
    return bool(value) and all(_is_token(x) for x in value)


def _is_tokens(item: Any) -> bool:
    return _is_token(item) or (isinstance(item, list | tuple) and _token_ids(item))


def _prompt(c: _Collector, data: Mapping[str, Any]) -> None:
    """``prompt``: text completion (string, strings, token ids) or a Responses stored prompt."""
    prompt = data.get("prompt")
    if isinstance(prompt, Mapping):
        _prompt_variables(c, ("prompt", "variables"), prompt.get("variables"))
    else:
        _input_like(c, ("prompt",), prompt)


def _prompt_variables(c: _Collector, path: Path, variables: Any) -> None:
    """Values substituted into a prompt template: text the model will read."""
    if not isinstance(variables, Mapping):
        return
    for key, value in variables.items():
        if isinstance(key, str):
            _part(c, (*path, key), value, "user")


def _input_like(c: _Collector, path: Path, value: Any) -> None:
    """A string, a list of strings / token-id lists / Responses items, or token ids."""
    if value is None:
        return
    if isinstance(value, str):
        c.add(path, value, "user", True)
    elif isinstance(value, list | tuple):
        if _token_ids(value):
            c.add(path, _TOKENS, "user", False)
            return
        for index, item in enumerate(value):
            _input_item(c, (*path, index), item)
    elif isinstance(value, Mapping):
        _input_item(c, path, value)
    else:
        _opaque(c, path, value, "user")


def _input_item(c: _Collector, path: Path, item: Any) -> None:
    if isinstance(item, str):
        c.add(path, item, "user", True)
    elif _is_tokens(item):
        c.add(path, _TOKENS, "user", False)
    elif isinstance(item, Mapping):
        _responses_item(c, path, item)
    else:
        _opaque(c, path, item, "user")


def _responses_item(c: _Collector, path: Path, item: Mapping[str, Any]) -> None:
    """One Responses API input item."""
    kind = item.get("type")
    if kind in _TOOL_CALL_ITEM_TYPES or kind == "custom_tool_call":
        _name(c, (*path, "name"), item.get("name"), "assistant")
        for key in ("arguments", "input"):
            if key in item:
                _arguments(c, (*path, key), item[key], "assistant")
        if "output" in item:
            _content(c, (*path, "output"), item["output"], "tool")
        _read_only_text(c, (*path, "error"), item.get("error"), "tool")
    elif kind in _TOOL_OUTPUT_ITEM_TYPES:
        _content(c, (*path, "output"), item.get("output"), "tool")
    elif kind == "reasoning":
        _read_only_text(c, (*path, "summary"), item.get("summary"), "assistant")
        _read_only_text(c, (*path, "content"), item.get("content"), "assistant")
    elif kind == "item_reference":
        return
    elif kind == "message" or (kind is None and ("role" in item or "content" in item)):
        _message(c, path, item, "user")
    else:
        before = c.count
        _opaque(c, path, item, _role_of(item, None))
        if c.count == before:
            c.add(path, _type_placeholder(kind), None, False)


def _chat_request(c: _Collector, data: Mapping[str, Any]) -> None:
    _messages(c, data)
    prediction = data.get("prediction")
    if isinstance(prediction, Mapping):
        _content(c, ("prediction", "content"), prediction.get("content"), "assistant")
    _prompt_variables(c, ("prompt_variables",), data.get("prompt_variables"))


def _text_completion_request(c: _Collector, data: Mapping[str, Any]) -> None:
    _input_like(c, ("prompt",), data.get("prompt"))
    if isinstance(data.get("suffix"), str):
        c.add(("suffix",), data["suffix"], "user", True)


def _embedding_request(c: _Collector, data: Mapping[str, Any]) -> None:
    _input_like(c, ("input",), data.get("input"))


def _responses_request(c: _Collector, data: Mapping[str, Any]) -> None:
    _instructions(c, data)
    if isinstance(data.get("prompt"), Mapping):
        _prompt_variables(c, ("prompt", "variables"), data["prompt"].get("variables"))
    _input_like(c, ("input",), data.get("input"))


def _anthropic_request(c: _Collector, data: Mapping[str, Any]) -> None:
    _system(c, data)
    _messages(c, data)


def _mcp_request(c: _Collector, data: Mapping[str, Any]) -> None:
    if "mcp_tool_name" not in data and "mcp_arguments" not in data:
        _messages(c, data)
        return
    _name(c, ("mcp_tool_name",), data.get("mcp_tool_name"), None)
    _arguments(c, ("mcp_arguments",), data.get("mcp_arguments"), None)


def _rerank_request(c: _Collector, data: Mapping[str, Any]) -> None:
    """``/rerank``: the ``query`` and every document (strings, or objects read like parts)."""
    if isinstance(data.get("query"), str):
        c.add(("query",), data["query"], "user", True)
    _content(c, ("documents",), data.get("documents"), "user")


def _gemini_contents(c: _Collector, data: Mapping[str, Any]) -> None:
    """Google ``generateContent``: ``system_instruction`` and ``contents[].parts[].text``."""
    for key in ("system_instruction", "systemInstruction"):
        instruction = data.get(key)
        if isinstance(instruction, Mapping):
            _content(c, (key, "parts"), instruction.get("parts"), "system")
    contents = data.get("contents")
    if isinstance(contents, list | tuple):
        for index, turn in enumerate(contents):
            if isinstance(turn, Mapping):
                role = _role_of(turn, "user")
                _content(c, ("contents", index, "parts"), turn.get("parts"), role)
            else:
                _input_item(c, ("contents", index), turn)


def _generic_request(c: _Collector, data: Mapping[str, Any]) -> None:
    """Unknown route: read every field that carries prompt text on some known route."""
    _system(c, data)
    _instructions(c, data)
    _messages(c, data)
    _prompt(c, data)
    _input_like(c, ("input",), data.get("input"))
    _gemini_contents(c, data)
    if "query" in data and "documents" in data:
        _rerank_request(c, data)


_ROUTES: Final = {
    "acompletion": _chat_request,
    "completion": _chat_request,
    "atext_completion": _text_completion_request,
    "text_completion": _text_completion_request,
    "aembedding": _embedding_request,
    "embedding": _embedding_request,
    "aresponses": _responses_request,
    "responses": _responses_request,
    "anthropic_messages": _anthropic_request,
    "aanthropic_messages": _anthropic_request,
    "call_mcp_tool": _mcp_request,
    "rerank": _rerank_request,
    "arerank": _rerank_request,
}


def extract_request_text(
    data: Mapping[str, Any], call_type: str, *, max_chars: int
) -> ExtractedText:
    """Collect every piece of text ``data`` sends to the model on route ``call_type``.

    Segments come in request order (system / instructions first where the route has them, then
    messages or inputs). See the module docstring for what is read, what is skipped, and the
    ``max_chars`` rule. ``data`` is not modified.
    """
    # ``str(CallTypes.x)`` is not its value; accept the enum as well as the plain string.
    route_name = getattr(call_type, "value", call_type)
    route = _ROUTES.get(route_name, _generic_request) if isinstance(route_name, str) else None
    collector = _Collector(max_chars)
    (route or _generic_request)(collector, data)
    return collector.result()
