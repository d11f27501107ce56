"""Turn a LiteLLM proxy request into the text the governance pre-check must see.

Why the whole body
------------------
A guardrail that checks only the fields it knows can be walked around: the payload goes into
an earlier turn, a tool definition, a JSON-schema description, an unknown key on a message, a
provider parameter LiteLLM forwards as it is, or ``extra_body``, which LiteLLM merges into the
provider's request last. So :func:`extract_request_text` walks **every key of the body**:

* the route's prompt fields are read with their structure (`_text_walk`), so each piece keeps
  the path it came from and masked text can be written back in place (`_request_rewrite`);
* every other key is read as text, read-only (tools and functions, ``response_format`` and
  ``text.format`` schemas, Anthropic ``tools``, unknown keys, provider parameters), except a
  short, explicit list of non-text parameters (:data:`NON_TEXT_PARAMS`: the model name,
  numeric sampling parameters, stream flags, LiteLLM's own metadata and internals), identifiers
  (``*_id``) and credentials or headers, which are never sent to AxonFlow;
* ``extra_body`` is read like the body, and a prompt field inside it (``extra_body.messages``,
  ``.prompt``, ``.input``, ...) is refused with `FieldNotAllowed`: it would replace the checked
  text after the check.

Per ``call_type`` (sync and async names alike), the structured fields are: ``acompletion``:
``messages``, ``prediction``, ``prompt_variables``; ``atext_completion``: ``prompt``,
``suffix``; ``aembedding``: ``input``; ``aresponses``: ``instructions``, ``prompt`` (stored
prompt variables), ``input``; ``anthropic_messages``: ``system``, ``messages``; ``rerank``:
``query``, ``documents``; ``atranscription``: ``prompt`` (the audio is a placeholder);
``call_mcp_tool``: ``mcp_tool_name`` and ``mcp_arguments`` only (LiteLLM builds the rest of that
request itself, and its synthetic ``messages`` copy is read only when those are absent); any
other route: every prompt field of every route, Google ``contents`` included.

Order and stability: the route's fields first, in the order above, then the other keys sorted
by name (objects of unknown shape are walked in sorted key order too), so the same request
always gives the same query, whatever order its client serialised it in.

Writability
-----------
Writable (masked text replaces it in place): plain string content, text parts, text-completion
prompts and suffix, embedding inputs, Responses string input / instructions / function outputs,
Anthropic system text and text document sources, string values inside tool-use inputs and MCP
arguments, and tool-call ``arguments`` JSON strings (when the original parsed as JSON the
replacement must parse too). Everything else is read-only: placeholders, names, numbers, keys,
decoded file contents, model-produced reasoning, and everything read outside the route's prompt
fields. A changed replacement for a read-only segment raises, so the caller fails closed.

Bound (``max_chars``)
---------------------
``max_chars`` bounds ``len(joined())`` including the separators (``<= 0``: unbounded).
Governance never checks part of a request: past the bound the result has ``truncated=True``
and the caller refuses the request; ``total_chars`` still reports the full length.

Separator
---------
Segments are joined with :data:`SEGMENT_SEPARATOR`, a newline, U+241E SYMBOL FOR RECORD
SEPARATOR (``␞``) and a newline: the query reads as newline-separated text (``^``/``$`` and
``\\s`` behave as policy authors expect, and a pattern cannot match across two segments), and
no PII recogniser matches the marker, so maskers leave it alone.

Everything here is pure (no I/O, no logging) and linear in the size of the request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from axonflow_guardrail import _text_walk as walk
from axonflow_guardrail._encoded import decode_base64_text, is_textual, media_kind
from axonflow_guardrail._extracted import (
    EMPTY_QUERY_PLACEHOLDER,
    SEGMENT_MARKER,
    SEGMENT_SEPARATOR,
    Collector,
    ExtractedText,
    FieldNotAllowed,
    MalformedRequest,
    Path,
    PathKey,
    RequestNotCheckable,
    TextSegment,
    Unverifiable,
)

__all__ = [
    "EMPTY_QUERY_PLACEHOLDER",
    "NON_TEXT_PARAMS",
    "SEGMENT_MARKER",
    "SEGMENT_SEPARATOR",
    "ExtractedText",
    "FieldNotAllowed",
    "MalformedRequest",
    "Path",
    "PathKey",
    "RequestNotCheckable",
    "TextSegment",
    "Unverifiable",
    "extract_request_text",
]

#: Top-level parameters that carry no prompt text, never read: the model, sampling and stream
#: controls (numbers, booleans or enums), the end-user id, and what LiteLLM's proxy adds to
#: every request itself (its metadata buckets, the logged copy of the request, the call id and
#: logging object, `mock_response`, which never reaches a provider). Also never read: any key
#: ending in ``_id``, LiteLLM's ``_litellm_`` internals, and credentials or headers.
NON_TEXT_PARAMS: Final = frozenset(
    {
        # LiteLLM's own, set by the proxy or consumed before any provider call
        "metadata",
        "litellm_metadata",
        "proxy_server_request",
        "secret_fields",
        "litellm_call_id",
        "litellm_logging_obj",
        "litellm_trace_id",
        "litellm_session_id",
        "litellm_parent_otel_span",
        "guardrails",
        "mock_response",
        "tags",
        "timeout",
        "num_retries",
        # model and sampling controls
        "model",
        "user",
        "stream",
        "stream_options",
        "n",
        "temperature",
        "top_p",
        "top_k",
        "max_tokens",
        "max_completion_tokens",
        "max_output_tokens",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "seed",
        "service_tier",
        "reasoning_effort",
        "parallel_tool_calls",
        "store",
        "modalities",
        "encoding_format",
        "dimensions",
        "truncation",
        "background",
        "include",
        "verbosity",
    }
)
_INTERNAL_PREFIX: Final = "_litellm_"


def _is_non_text_param(key: str) -> bool:
    return (
        key in NON_TEXT_PARAMS
        or key in walk.NON_TEXT_KEYS
        or key.endswith("_id")
        or key.startswith(_INTERNAL_PREFIX)
        or walk.is_credential_key(key)
    )


# --------------------------------------------------------------------------------------------
# Route fields
# --------------------------------------------------------------------------------------------


def _messages(c: Collector, path: Path, value: Any) -> None:
    if isinstance(value, list | tuple):
        for index, message in enumerate(value):
            walk.message(c, (*path, index), message, None)
    elif value is not None:
        walk.opaque(c, path, value, None)


def _system(c: Collector, path: Path, value: Any) -> None:
    """Anthropic ``system`` and Responses ``instructions``: a string or text blocks."""
    walk.content(c, path, value, "system")


def _prediction(c: Collector, path: Path, value: Any) -> None:
    if isinstance(value, Mapping):
        walk.content(c, (*path, "content"), value.get("content"), "assistant")
        walk.rest(c, path, value, ("content",), "assistant")
    elif value is not None:
        walk.opaque(c, path, value, "assistant")


def _user_text(c: Collector, path: Path, value: Any) -> None:
    if isinstance(value, str):
        walk.text(c, path, value, "user", writable=True)
    elif value is not None:
        walk.opaque(c, path, value, "user")


def _stored_prompt(c: Collector, path: Path, value: Any) -> None:
    """``prompt``: a Responses stored prompt (variables) or a text-completion prompt."""
    if isinstance(value, Mapping):
        walk.prompt_variables(c, (*path, "variables"), value.get("variables"))
        walk.rest(c, path, value, ("variables",), "user")
    else:
        walk.input_like(c, path, value)


def _documents(c: Collector, path: Path, value: Any) -> None:
    walk.content(c, path, value, "user")


def _audio_file(c: Collector, path: Path, value: Any) -> None:
    """The audio of a transcription: a placeholder (audio is not read, see the README)."""
    if value is not None:
        c.add(path, walk.AUDIO, "user", False)


def _gemini_contents(c: Collector, path: Path, value: Any) -> None:
    """Google ``contents[].parts[]``: text, inline data, file data, function calls."""
    if not isinstance(value, list | tuple):
        if value is not None:
            walk.opaque(c, path, value, "user")
        return
    for index, turn in enumerate(value):
        tpath = (*path, index)
        if not isinstance(turn, Mapping):
            walk.input_like(c, tpath, turn)
            continue
        role = turn.get("role") if isinstance(turn.get("role"), str) else "user"
        _gemini_parts(c, (*tpath, "parts"), turn.get("parts"), role)
        walk.rest(c, tpath, turn, ("parts",), role)


def _gemini_instruction(c: Collector, path: Path, value: Any) -> None:
    if isinstance(value, Mapping):
        _gemini_parts(c, (*path, "parts"), value.get("parts"), "system")
        walk.rest(c, path, value, ("parts",), "system")
    else:
        walk.content(c, path, value, "system")


def _gemini_parts(c: Collector, path: Path, parts: Any, role: str | None) -> None:
    if not isinstance(parts, list | tuple):
        walk.content(c, path, parts, role)
        return
    for index, part in enumerate(parts):
        ppath = (*path, index)
        if not isinstance(part, Mapping):
            walk.part(c, ppath, part, role)
            continue
        handled: list[str] = []
        if isinstance(part.get("text"), str):
            walk.text(c, (*ppath, "text"), part["text"], role, writable=True)
            handled.append("text")
        for key in ("inline_data", "inlineData"):
            if isinstance(part.get(key), Mapping):
                _gemini_inline(c, (*ppath, key), part[key], role)
                handled.append(key)
        for key in ("file_data", "fileData"):
            if isinstance(part.get(key), Mapping):
                _gemini_file(c, (*ppath, key), part[key], role)
                handled.append(key)
        walk.rest(c, ppath, part, handled, role)


def _gemini_mime(blob: Mapping[str, Any]) -> str:
    mime = blob.get("mime_type", blob.get("mimeType"))
    return mime if isinstance(mime, str) else ""


def _gemini_inline(c: Collector, path: Path, blob: Mapping[str, Any], role: str | None) -> None:
    mime, data = _gemini_mime(blob), blob.get("data")
    kind = media_kind(mime)
    decoded = decode_base64_text(data, mime) if isinstance(data, str) else None
    if kind is not None:
        c.add(path, f"[{kind}]", role, False)
    elif decoded is not None:
        c.add((*path, "data"), decoded, role, False)
    else:
        kind_name = "undecodable_text" if is_textual(mime) else "binary_file"
        c.unverifiable((*path, "data"), kind_name, walk.FILE, role)
    walk.rest(c, path, blob, ("mime_type", "mimeType", "data"), role)


def _gemini_file(c: Collector, path: Path, blob: Mapping[str, Any], role: str | None) -> None:
    kind = media_kind(_gemini_mime(blob))
    if kind is not None:
        c.add(path, f"[{kind}]", role, False)
    else:
        c.unverifiable(path, "remote_file", walk.FILE, role)
    walk.rest(c, path, blob, ("mime_type", "mimeType", "file_uri", "fileUri"), role)


def _mcp_name(c: Collector, path: Path, value: Any) -> None:
    walk.read_only_text(c, path, value, None)


def _mcp_arguments(c: Collector, path: Path, value: Any) -> None:
    walk.arguments(c, path, value, None)


@dataclass(frozen=True, slots=True)
class _Route:
    fields: tuple[tuple[str, walk.Reader], ...]
    #: Read every other key of the body too (every client-facing route does).
    whole_body: bool = True


_CHAT: Final = _Route(
    (
        ("messages", _messages),
        ("prediction", _prediction),
        ("prompt_variables", walk.prompt_variables),
    )
)
_TEXT_COMPLETION: Final = _Route((("prompt", walk.input_like), ("suffix", _user_text)))
_EMBEDDING: Final = _Route((("input", walk.input_like),))
_RESPONSES: Final = _Route(
    (("instructions", _system), ("prompt", _stored_prompt), ("input", walk.input_like))
)
_ANTHROPIC: Final = _Route((("system", _system), ("messages", _messages)))
_RERANK: Final = _Route((("query", _user_text), ("documents", _documents)))
_TRANSCRIPTION: Final = _Route((("file", _audio_file), ("prompt", _user_text)))
_MCP: Final = _Route(
    (("mcp_tool_name", _mcp_name), ("mcp_arguments", _mcp_arguments)), whole_body=False
)
_MCP_SYNTHETIC: Final = _Route((("messages", _messages),), whole_body=False)
_GENERIC: Final = _Route(
    (
        ("system", _system),
        ("system_instruction", _gemini_instruction),
        ("systemInstruction", _gemini_instruction),
        ("instructions", _system),
        ("messages", _messages),
        ("prompt", _stored_prompt),
        ("input", walk.input_like),
        ("contents", _gemini_contents),
        ("query", _user_text),
        ("documents", _documents),
    )
)

_ROUTES: Final = {
    "acompletion": _CHAT,
    "completion": _CHAT,
    "atext_completion": _TEXT_COMPLETION,
    "text_completion": _TEXT_COMPLETION,
    "aembedding": _EMBEDDING,
    "embedding": _EMBEDDING,
    "aresponses": _RESPONSES,
    "responses": _RESPONSES,
    "anthropic_messages": _ANTHROPIC,
    "aanthropic_messages": _ANTHROPIC,
    "rerank": _RERANK,
    "arerank": _RERANK,
    "atranscription": _TRANSCRIPTION,
    "transcription": _TRANSCRIPTION,
    "call_mcp_tool": _MCP,
}

#: Keys that carry prompt text on some route: inside ``extra_body`` they would replace or add
#: prompt text after the check, so they are refused there.
PROMPT_FIELDS: Final = frozenset(
    name for route in (*_ROUTES.values(), _GENERIC) for name, _ in route.fields if name != "file"
)


def _extra_body(c: Collector, value: Any) -> None:
    """``extra_body``: merged into the provider's request last; read like the body itself."""
    if not isinstance(value, Mapping):
        if value is not None:
            walk.opaque(c, ("extra_body",), value, None)
        return
    for key in sorted(value, key=str):
        if not isinstance(key, str):
            raise MalformedRequest(("extra_body",), "keys must be strings")
        if key in PROMPT_FIELDS:
            raise FieldNotAllowed(
                ("extra_body", key),
                f"would replace the request's prompt after the governance check; send "
                f"'{key}' in the request body itself",
            )
        if not _is_non_text_param(key):
            walk.opaque(c, ("extra_body", key), value[key], None)


def _walk_body(c: Collector, route: _Route, data: Mapping[str, Any]) -> None:
    for name, reader in route.fields:
        if name in data:
            reader(c, (name,), data[name])
    if not route.whole_body:
        return
    own = {name for name, _ in route.fields}
    for key in sorted((k for k in data if k not in own), key=str):
        if not isinstance(key, str):
            raise MalformedRequest((), "keys must be strings")
        if key == "extra_body":
            _extra_body(c, data[key])
        elif not _is_non_text_param(key):
            walk.opaque(c, (key,), data[key], None)


def _route_for(call_type: Any, data: Mapping[str, Any]) -> _Route:
    # ``str(CallTypes.x)`` is not its value; accept the enum as well as the plain string.
    name = getattr(call_type, "value", call_type)
    route = _ROUTES.get(name, _GENERIC) if isinstance(name, str) else _GENERIC
    if route is _MCP and "mcp_tool_name" not in data and "mcp_arguments" not in data:
        return _MCP_SYNTHETIC
    return route


def extract_request_text(
    data: Mapping[str, Any], call_type: str, *, max_chars: int
) -> ExtractedText:
    """Collect every piece of text ``data`` sends to the provider on route ``call_type``.

    Raises `RequestNotCheckable` (`MalformedRequest`, `FieldNotAllowed`) for a request that
    cannot be checked as it is: the client's error. ``data`` is not modified.
    """
    collector = Collector(max_chars)
    _walk_body(collector, _route_for(call_type, data), data)
    return collector.result()
