"""Each route family's prompt fields, read with their structure.

A route lists the body fields that carry its prompt, in the order they are read (system or
instructions first). `_text` reads those, then every other key of the body. MCP tool calls
are the exception: LiteLLM builds that request itself, so only what the MCP server receives
(the tool name and arguments) is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from axonflow_guardrail.request._extracted import Collector, Path
from axonflow_guardrail.request._gemini import gemini_contents, gemini_instruction
from axonflow_guardrail.request._parts import content, input_like, message, prompt_variables
from axonflow_guardrail.request._walker import (
    AUDIO,
    Reader,
    arguments,
    opaque,
    read_only_text,
    rest,
    text,
)

__all__ = ["GENERIC", "MCP", "MCP_SYNTHETIC", "PROMPT_FIELDS", "ROUTES", "Route"]


def _messages(c: Collector, path: Path, value: Any) -> None:
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            message(c, (*path, index), item, None)
    elif value is not None:
        opaque(c, path, value, None)


def _system(c: Collector, path: Path, value: Any) -> None:
    """Anthropic ``system`` and Responses ``instructions``: a string or text blocks."""
    content(c, path, value, "system")


def _prediction(c: Collector, path: Path, value: Any) -> None:
    if isinstance(value, Mapping):
        content(c, (*path, "content"), value.get("content"), "assistant")
        rest(c, path, value, ("content",), "assistant")
    elif value is not None:
        opaque(c, path, value, "assistant")


def _user_text(c: Collector, path: Path, value: Any) -> None:
    if isinstance(value, str):
        text(c, path, value, "user", writable=True)
    elif value is not None:
        opaque(c, path, value, "user")


def _stored_prompt(c: Collector, path: Path, value: Any) -> None:
    """``prompt``: a Responses stored prompt (variables) or a text-completion prompt."""
    if isinstance(value, Mapping):
        prompt_variables(c, (*path, "variables"), value.get("variables"))
        rest(c, path, value, ("variables",), "user")
    else:
        input_like(c, path, value)


def _documents(c: Collector, path: Path, value: Any) -> None:
    content(c, path, value, "user")


def _audio_file(c: Collector, path: Path, value: Any) -> None:
    """The audio of a transcription: a placeholder (audio is not read, see the README)."""
    if value is not None:
        c.add(path, AUDIO, "user", False)


def _mcp_name(c: Collector, path: Path, value: Any) -> None:
    read_only_text(c, path, value, None)


def _mcp_arguments(c: Collector, path: Path, value: Any) -> None:
    arguments(c, path, value, None)


@dataclass(frozen=True, slots=True)
class Route:
    fields: tuple[tuple[str, Reader], ...]
    #: Read every other key of the body too (every client-facing route does).
    whole_body: bool = True


_CHAT: Final = Route(
    (
        ("messages", _messages),
        ("prediction", _prediction),
        ("prompt_variables", prompt_variables),
    )
)


_TEXT_COMPLETION: Final = Route((("prompt", input_like), ("suffix", _user_text)))


_EMBEDDING: Final = Route((("input", input_like),))


_RESPONSES: Final = Route(
    (("instructions", _system), ("prompt", _stored_prompt), ("input", input_like))
)


_ANTHROPIC: Final = Route((("system", _system), ("messages", _messages)))


_RERANK: Final = Route((("query", _user_text), ("documents", _documents)))


_TRANSCRIPTION: Final = Route((("file", _audio_file), ("prompt", _user_text)))


MCP: Final = Route(
    (("mcp_tool_name", _mcp_name), ("mcp_arguments", _mcp_arguments)), whole_body=False
)


MCP_SYNTHETIC: Final = Route((("messages", _messages),), whole_body=False)


GENERIC: Final = Route(
    (
        ("system", _system),
        ("system_instruction", gemini_instruction),
        ("systemInstruction", gemini_instruction),
        ("instructions", _system),
        ("messages", _messages),
        ("prompt", _stored_prompt),
        ("input", input_like),
        ("contents", gemini_contents),
        ("query", _user_text),
        ("documents", _documents),
    )
)


ROUTES: Final = {
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
    "call_mcp_tool": MCP,
}


#: Keys that carry prompt text on some route: inside ``extra_body`` they would replace or add
#: prompt text after the check, so they are refused there.
PROMPT_FIELDS: Final = frozenset(
    name for route in (*ROUTES.values(), GENERIC) for name, _ in route.fields if name != "file"
)
