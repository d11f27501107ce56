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
from typing import Any, Final

from axonflow_guardrail.request._extracted import (
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
from axonflow_guardrail.request._routes import (
    GENERIC,
    MCP,
    MCP_SYNTHETIC,
    PROMPT_FIELDS,
    ROUTES,
    Route,
)
from axonflow_guardrail.request._walker import NON_TEXT_KEYS, is_credential_key, opaque

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
        or key in NON_TEXT_KEYS
        or key.endswith("_id")
        or key.startswith(_INTERNAL_PREFIX)
        or is_credential_key(key)
    )


def _extra_body(c: Collector, value: Any) -> None:
    """``extra_body``: merged into the provider's request last; read like the body itself."""
    if not isinstance(value, Mapping):
        if value is not None:
            opaque(c, ("extra_body",), value, None)
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
            opaque(c, ("extra_body", key), value[key], None)


def _walk_body(c: Collector, route: Route, data: Mapping[str, Any]) -> None:
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
            opaque(c, (key,), data[key], None)


def _route_for(call_type: Any, data: Mapping[str, Any]) -> Route:
    # ``str(CallTypes.x)`` is not its value; accept the enum as well as the plain string.
    name = getattr(call_type, "value", call_type)
    route = ROUTES.get(name, GENERIC) if isinstance(name, str) else GENERIC
    if route is MCP and "mcp_tool_name" not in data and "mcp_arguments" not in data:
        return MCP_SYNTHETIC
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
