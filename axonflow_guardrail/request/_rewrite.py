"""Engine-masked text back into the request, in the places it was read from.

`split_masked` maps the masked pre-check query back to one string per segment;
`write_back` builds the rewritten request (copying only the containers on changed paths). MCP
tool calls have their own statement form (`mcp_statement`) and write-back, because LiteLLM
applies only `modified_arguments` to a tool call. Anything that cannot be applied faithfully
raises `ValueError` or returns None, and the caller fails closed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from axonflow_guardrail.request._text import (
    SEGMENT_MARKER,
    SEGMENT_SEPARATOR,
    ExtractedText,
    Path,
    PathKey,
    TextSegment,
)
from axonflow_guardrail.request._walker import KEYS

__all__ = ["mcp_statement", "split_masked", "write_back", "write_back_mcp_statement"]


def split_masked(extracted: ExtractedText, masked_joined: str) -> list[str] | None:
    """Split a masked version of ``extracted.joined()`` into one string per segment.

    Returns ``None`` when that cannot be done faithfully: the result was truncated, an original
    segment contains the separator marker (so the split would be ambiguous), or the masker
    altered or added a separator (the count of pieces differs). A request with no segment
    returns ``[]``: there is nothing to write back.
    """
    if extracted.truncated:
        return None
    if not extracted.segments:
        return []
    if any(SEGMENT_MARKER in segment.text for segment in extracted.segments):
        return None
    pieces = masked_joined.split(SEGMENT_SEPARATOR)
    if len(pieces) != len(extracted.segments):
        return None
    return pieces


def write_back(
    data: dict[str, Any], extracted: ExtractedText, replacements: Sequence[str]
) -> dict[str, Any]:
    """Return a copy of ``data`` with each segment's text replaced by its replacement.

    Copy-on-write: only the containers on the path of a changed segment are copied, so the
    caller's nested lists and dicts are never mutated and an unchanged request costs one
    shallow dict copy. Raises :class:`ValueError` (the caller must fail closed, never forward
    the original) when the extraction was truncated, the counts differ, a non-writable segment
    would change, masked tool-call arguments are no longer JSON, or the request no longer holds
    the extracted text at a segment's path. Error messages name paths, never prompt text.
    For ``call_mcp_tool`` a rewrite of ``mcp_arguments`` is also published as
    ``modified_arguments`` (the only key LiteLLM reads back for the tool call) and mirrored into
    LiteLLM's synthetic ``Arguments:`` message.
    """
    if extracted.truncated:
        raise ValueError(
            "cannot write back a truncated extraction: part of the request is unchecked"
        )
    if len(replacements) != len(extracted.segments):
        raise ValueError(
            f"expected {len(extracted.segments)} replacements, got {len(replacements)}"
        )
    result: dict[str, Any] = dict(data)
    copies: dict[Path, Any] = {(): result}
    mcp_rewritten = False
    for segment, replacement in zip(extracted.segments, replacements, strict=True):
        if replacement == segment.text:
            continue
        _check_replacement(segment, replacement)
        parent = _copied_parent(copies, segment.path)
        key = segment.path[-1]
        if _child(parent, key, segment.path) != segment.text:
            raise ValueError(f"request changed since extraction at {_show(segment.path)}")
        parent[key] = replacement
        mcp_rewritten = mcp_rewritten or segment.path[0] == "mcp_arguments"
    if mcp_rewritten:
        _publish_mcp_arguments(result, data.get("mcp_arguments"))
    return result


def _check_replacement(segment: TextSegment, replacement: Any) -> None:
    if not isinstance(replacement, str):
        raise ValueError(f"replacement for {_show(segment.path)} is not a string")
    if not segment.writable:
        raise ValueError(f"masked text cannot be applied to {_show(segment.path)} (read-only)")
    if not segment.path:
        raise ValueError("a segment without a path cannot be written back")
    if _is_json_arguments(segment.path) and _parses(segment.text) and not _parses(replacement):
        raise ValueError(
            f"masking made the tool-call arguments at {_show(segment.path)} invalid JSON"
        )


def _is_json_arguments(path: Path) -> bool:
    """Chat ``tool_calls[].function.arguments``, ``function_call.arguments``, Responses items."""
    if len(path) < 2 or path[-1] != "arguments" or path[0] == "mcp_arguments":
        return False
    return path[-2] in ("function", "function_call") or (len(path) == 3 and path[0] == "input")


def _parses(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _copied_parent(copies: dict[Path, Any], path: Path) -> Any:
    """The container holding ``path[-1]``, copying every container on the way exactly once."""
    node = copies[()]
    for depth in range(1, len(path)):
        prefix = path[:depth]
        copied = copies.get(prefix)
        if copied is None:
            copied = _shallow_copy(_child(node, path[depth - 1], path), path)
            node[path[depth - 1]] = copied
            copies[prefix] = copied
        node = copied
    return node


def _child(node: Any, key: PathKey, path: Path) -> Any:
    if isinstance(node, Mapping) and isinstance(key, str) and key in node:
        return node[key]
    if isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
        return node[key]
    raise ValueError(f"request changed since extraction at {_show(path)}")


def _shallow_copy(node: Any, path: Path) -> Any:
    if isinstance(node, Mapping):
        return dict(node)
    if isinstance(node, list | tuple):
        return list(node)
    raise ValueError(f"cannot rewrite inside a {type(node).__name__} at {_show(path)}")


def _publish_mcp_arguments(result: dict[str, Any], original: Any) -> None:
    """Publish masked MCP arguments where LiteLLM reads them, and mirror them in its message.

    LiteLLM applies only ``modified_arguments`` to the tool call; the synthetic message is read by
    later guardrails and loggers, which must not see the unmasked arguments either.
    """
    masked = result["mcp_arguments"]
    result["modified_arguments"] = masked
    messages = result.get("messages")
    if not isinstance(messages, list):
        return
    old_line, new_line = f"Arguments: {original}", f"Arguments: {masked}"
    updated = list(messages)
    changed = False
    for index, message in enumerate(messages):
        content = message.get("content") if isinstance(message, Mapping) else None
        if isinstance(content, str) and old_line in content:
            updated[index] = {**message, "content": content.replace(old_line, new_line)}
            changed = True
    if changed:
        result["messages"] = updated


def _show(path: Path) -> str:
    return "".join(f"[{key}]" if isinstance(key, int) else f".{key}" for key in path).lstrip(".")


# --------------------------------------------------------------------------------------------
# MCP tool calls
# --------------------------------------------------------------------------------------------

_MCP_ARGUMENTS_LINE: Final = "\nArguments: "


def mcp_statement(tool: str, arguments: Any) -> str:
    """What an MCP tool call is checked as: ``Tool: <name>`` and ``Arguments: <JSON>``.

    The JSON keeps non-ASCII characters as they are, so policy patterns see the real text.
    """
    encoded = json.dumps(arguments, ensure_ascii=False, default=str)
    return f"Tool: {tool}{_MCP_ARGUMENTS_LINE}{encoded}"


def write_back_mcp_statement(
    data: dict[str, Any], extracted: ExtractedText, tool: str, masked_statement: str
) -> dict[str, Any]:
    """Return a copy of an MCP tool-call request with the arguments of a masked statement.

    ``extracted`` is ``extract_request_text(data, "call_mcp_tool", ...)`` and ``masked_statement``
    the engine-masked :func:`mcp_statement` of the same call. Each extracted argument value is
    replaced by the value at the same place in the masked JSON, through :func:`write_back` (so
    the rewrite is published as ``modified_arguments`` and the same writability rules hold:
    numbers, keys and the tool name cannot change). Raises :class:`ValueError` when the masked
    statement cannot be mapped back faithfully: the tool line or a key changed, the arguments
    are no longer JSON, or a value changed type. The caller must then fail closed.
    """
    prefix = f"Tool: {tool}{_MCP_ARGUMENTS_LINE}"
    if not masked_statement.startswith(prefix):
        raise ValueError("masking changed the tool name line of the MCP statement")
    try:
        masked_arguments = json.loads(masked_statement[len(prefix) :])
    except ValueError:
        raise ValueError("masking made the MCP tool arguments invalid JSON") from None
    replacements: list[str] = []
    for segment in extracted.segments:
        if not segment.path or segment.path[0] != "mcp_arguments":
            replacements.append(segment.text)
            continue
        if segment.path[-1] == KEYS:
            _same_keys(data.get("mcp_arguments"), masked_arguments, segment.path)
            replacements.append(segment.text)
            continue
        value = _masked_value(masked_arguments, segment.path[1:], segment.path)
        if segment.writable and isinstance(value, str):
            replacements.append(value)
        elif (
            not segment.writable and isinstance(value, int | float) and not isinstance(value, bool)
        ):
            replacements.append(str(value))  # write_back refuses it unless unchanged
        else:
            raise ValueError(f"masking changed the type of {_show(segment.path)}")
    return write_back(data, extracted, replacements)


def _same_keys(original: Any, masked: Any, path: Path) -> None:
    """Keys cannot be rewritten: masking that changed one must fail closed, not be dropped."""
    container = path[1:-1]
    before = _masked_value(original, container, path)
    after = _masked_value(masked, container, path)
    if not (isinstance(before, Mapping) and isinstance(after, Mapping)) or set(before) != set(
        after
    ):
        raise ValueError(f"masking changed the keys of {_show(path[:-1])}")


def _masked_value(root: Any, keys: Path, path: Path) -> Any:
    node = root
    for key in keys:
        found = (isinstance(key, str) and isinstance(node, Mapping) and key in node) or (
            isinstance(key, int) and isinstance(node, list) and 0 <= key < len(node)
        )
        if not found:
            raise ValueError(f"masking changed the structure of {_show(path)}")
        node = node[key]
    return node
