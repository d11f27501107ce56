"""Random request bodies for fuzzing the guardrail, and where a planted marker must be found.

Shared by the extractor's property tests (`tests/unit/test_request_text_fuzz.py`) and the
end-to-end fuzz through the proxy (`tests/e2e/test_fuzz_proxy.py`). Keys and `type` values are
drawn mostly from the vocabulary the walkers know, so the structured readers run with every
shape in every place, and partly at random.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hypothesis import strategies as st

from axonflow_guardrail.request._text import NON_TEXT_PARAMS
from axonflow_guardrail.request._walker import NON_TEXT_KEYS, is_credential_key

__all__ = [
    "BODIES",
    "CALL_TYPES",
    "JSON",
    "LEAVES",
    "MARKER",
    "MARKER_KEY",
    "containers",
    "exempt",
]

MARKER = "zq marker 7391 zq"
MARKER_KEY = "zq_planted"

CALL_TYPES = (
    "acompletion",
    "atext_completion",
    "aembedding",
    "aresponses",
    "anthropic_messages",
    "arerank",
    "atranscription",
    "call_mcp_tool",
    "aimage_generation",
    "agenerate_content",
)
FIELD_NAMES = (
    "messages", "content", "role", "type", "text", "name", "arguments", "tool_calls", "function",
    "custom", "function_call", "input", "output", "source", "data", "media_type", "image_url",
    "input_audio", "url", "file", "file_data", "file_id", "file_url", "filename", "format",
    "system", "instructions", "prompt", "suffix", "documents", "query", "contents", "parts",
    "inline_data", "file_data", "mime_type", "thinking", "thinking_blocks", "summary", "tools",
    "description", "properties", "parameters", "extra_body", "metadata", "id", "call_id", "user",
    "model", "items", "variables", "mcp_arguments", "mcp_tool_name", "prediction", "refusal",
    "audio", "detail", "reasoning_content", "tool_result", "title", "context", "schema", "x_extra",
)  # fmt: skip
TYPES = (
    "text", "input_text", "output_text", "refusal", "image_url", "input_image", "input_audio",
    "audio", "video_url", "file", "input_file", "document", "image", "tool_use", "tool_result",
    "server_tool_use", "thinking", "redacted_thinking", "compaction", "container_upload",
    "message", "function_call", "function_call_output", "custom_tool_call", "mcp_call",
    "reasoning", "item_reference", "base64", "url", "content", "function", "json_schema",
)  # fmt: skip
ROLES = ("user", "assistant", "system", "tool", "developer", "function")

_keys = st.sampled_from(FIELD_NAMES) | st.text(max_size=8)
LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**40), max_value=2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(TYPES + ROLES)
    | st.text(max_size=12)
    | st.sampled_from(("data:text/plain;base64,aGVsbG8=", "data:image/png;base64,iVBOR", "data:,x"))
)


def _objects(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    typed = st.fixed_dictionaries(
        {"type": st.sampled_from(TYPES)}, optional={"role": st.sampled_from(ROLES)}
    )
    return st.builds(
        lambda head, tail: {**tail, **head}, typed, st.dictionaries(_keys, children, max_size=4)
    )


JSON = st.recursive(
    LEAVES,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(_keys, children, max_size=4)
        | _objects(children)
    ),
    max_leaves=30,
)
BODIES = st.dictionaries(st.sampled_from(FIELD_NAMES), JSON, max_size=5)


def containers(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(value, dict | list):
        yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from containers(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from containers(item, (*path, index))


def exempt(
    body: dict[str, Any],
    path: tuple[Any, ...],
    call_type: str,
    *,
    extra_body_exempt: bool = True,
) -> bool:
    """Is `path` (the marker's own) a place the extractor deliberately does not read?

    `extra_body_exempt`: the extractor refuses prompt fields there (its own tests show it);
    through the proxy either outcome keeps the marker from the model, so it is not exempt.
    """
    head = path[0]
    if isinstance(head, str) and (head in NON_TEXT_PARAMS or head.startswith("_litellm_")):
        return True  # never-read parameters
    if head == "extra_body" and extra_body_exempt:
        return True
    if call_type == "call_mcp_tool":
        reads = {"mcp_tool_name", "mcp_arguments"} & body.keys() or {"messages"}
        if head not in reads:
            return True
    if call_type == "atranscription" and head == "file":
        return True
    node: Any = body
    for key in path[:-1]:
        if isinstance(key, str) and (
            key in NON_TEXT_KEYS or key.endswith("_id") or is_credential_key(key)
        ):
            return True
        if isinstance(node, dict) and node.get("type") in ("redacted_thinking", "item_reference"):
            return True
        node = node[key]
    return isinstance(node, dict) and node.get("type") in ("redacted_thinking", "item_reference")
