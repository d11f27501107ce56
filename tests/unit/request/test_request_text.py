"""Request-text extraction and masked write-back for every LiteLLM route."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from litellm.types.utils import CallTypes

from axonflow_guardrail.request._rewrite import (
    split_masked,
    write_back,
)
from axonflow_guardrail.request._text import (
    EMPTY_QUERY_PLACEHOLDER,
    SEGMENT_MARKER,
    SEGMENT_SEPARATOR,
    ExtractedText,
    MalformedRequest,
    TextSegment,
    extract_request_text,
)

EMAIL = "alice@example.com"
MASK = "[EMAIL]"
SQLI = "'; DROP TABLE users; --"
IMAGE_B64 = "data:image/png;base64,iVBORw0KGgo="


def extract(data: dict[str, Any], call_type: str, max_chars: int = 0) -> ExtractedText:
    return extract_request_text(data, call_type, max_chars=max_chars)


def texts(extracted: ExtractedText) -> list[str]:
    return [segment.text for segment in extracted.segments]


def by_path(extracted: ExtractedText) -> dict[tuple[str | int, ...], TextSegment]:
    return {segment.path: segment for segment in extracted.segments}


def mask_through_query(data: dict[str, Any], call_type: str) -> dict[str, Any]:
    """What the guardrail does: check the joined query, mask it, split it, write it back."""
    extracted = extract(data, call_type)
    masked_query = extracted.joined().replace(EMAIL, MASK)
    pieces = split_masked(extracted, masked_query)
    assert pieces is not None
    return write_back(data, extracted, pieces)


# --------------------------------------------------------------------------------------------
# Chat completions
# --------------------------------------------------------------------------------------------


def chat_request() -> dict[str, Any]:
    return {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "developer", "content": [{"type": "text", "text": "Answer briefly."}]},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in this picture?"},
                    {"type": "image_url", "image_url": {"url": IMAGE_B64}},
                    {"type": "input_audio", "input_audio": {"data": "UklGR", "format": "wav"}},
                    {"type": "file", "file": {"file_data": "JVBERi0", "filename": "a.pdf"}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "lookup_user", "arguments": '{"q": "bob"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "bob lives in Paris"},
            {"role": "assistant", "function_call": {"name": "legacy_fn", "arguments": "{}"}},
            {"role": "function", "name": "legacy_fn", "content": "legacy result"},
            {"role": "user", "content": "Thanks"},
        ],
        "tools": [{"type": "function", "function": {"name": "lookup_user", "parameters": {}}}],
        "metadata": {"note": "not prompt text"},
    }


def test_chat_reads_every_message_part_and_tool_call_in_order() -> None:
    extracted = extract(chat_request(), "acompletion")

    assert texts(extracted) == [
        "You are a helpful assistant.",
        "Answer briefly.",
        "What is in this picture?",
        "[image]",
        "[audio]",
        "a.pdf",
        "[file]",
        "lookup_user",
        '{"q": "bob"}',
        "bob lives in Paris",
        "legacy_fn",
        "{}",
        "legacy_fn",
        "legacy result",
        "Thanks",
        "lookup_user",  # the tool definition, after the route's own fields
    ]
    segments = by_path(extracted)
    assert segments[("messages", 0, "content")].role == "system"
    assert segments[("messages", 1, "content", 0, "text")].role == "developer"
    assert segments[("messages", 2, "content", 0, "text")].writable
    assert not segments[("messages", 2, "content", 1)].writable  # placeholder
    name = segments[("messages", 3, "tool_calls", 0, "function", "name")]
    assert (name.role, name.writable) == ("assistant", False)
    arguments = segments[("messages", 3, "tool_calls", 0, "function", "arguments")]
    assert arguments.writable
    assert segments[("messages", 4, "content")].role == "tool"
    assert not segments[("messages", 6, "name")].writable
    assert not segments[("tools", 0, "function", "name")].writable
    assert extracted.total_chars == len(extracted.joined())
    assert not extracted.truncated
    # A PDF cannot be read as text: reported, so the guardrail can refuse it.
    assert [(u.path, u.kind) for u in extracted.unverifiable] == [
        (("messages", 2, "content", 3, "file", "file_data"), "binary_file")
    ]


def test_tool_definitions_are_checked_but_metadata_and_media_payloads_are_not() -> None:
    query = extract(chat_request(), "acompletion").joined()
    assert "parameters" not in query  # a schema keyword is a name, not text
    assert "not prompt text" not in query  # LiteLLM's own metadata
    assert IMAGE_B64 not in query
    assert "UklGR" not in query


@pytest.mark.parametrize("where", ["system", "earlier_user", "tool_result", "tool_arguments"])
def test_sql_injection_anywhere_in_the_conversation_is_in_the_query(where: str) -> None:
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "Be nice."},
        {"role": "user", "content": "first question"},
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "c", "type": "function", "function": {"name": "q", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "c", "content": "ok"},
        {"role": "user", "content": "harmless last message"},
    ]
    if where == "system":
        messages[0]["content"] = f"Be nice. {SQLI}"
    elif where == "earlier_user":
        messages[1]["content"] = SQLI
    elif where == "tool_result":
        messages[3]["content"] = [{"type": "text", "text": SQLI}]
    else:
        messages[2]["tool_calls"][0]["function"]["arguments"] = json.dumps({"sql": SQLI})

    query = extract({"messages": messages}, "acompletion").joined()

    assert "DROP TABLE users" in query
    assert "harmless last message" in query


def test_image_only_request_is_a_placeholder_and_empty_request_is_never_empty() -> None:
    image_only = {
        "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": IMAGE_B64}]}]
    }
    extracted = extract(image_only, "acompletion")
    assert extracted.joined() == "[image]"
    assert not extracted.segments[0].writable

    empty = extract({"messages": [{"role": "user", "content": ""}]}, "acompletion")
    assert empty.segments == ()
    assert empty.joined() == EMPTY_QUERY_PLACEHOLDER
    assert extract({}, "acompletion").joined() == EMPTY_QUERY_PLACEHOLDER


def test_chat_assistant_reasoning_refusal_and_prediction_are_read() -> None:
    data = {
        "messages": [
            {
                "role": "assistant",
                "content": [{"type": "refusal", "refusal": "I cannot."}],
                "reasoning_content": "thinking about it",
                "thinking_blocks": [
                    {"type": "thinking", "thinking": "deep thought", "signature": "sig"},
                    {"type": "redacted_thinking", "data": "opaque"},
                ],
            },
            {"role": "user", "name": "alice", "content": "hi"},
        ],
        "prediction": {"type": "content", "content": "predicted text"},
        "prompt_variables": {"customer": "Bob"},
    }
    segments = by_path(extract(data, "acompletion"))

    assert segments[("messages", 0, "content", 0, "refusal")].writable
    assert not segments[("messages", 0, "reasoning_content")].writable
    assert not segments[("messages", 0, "thinking_blocks", 0, "thinking")].writable
    assert "opaque" not in {s.text for s in segments.values()}
    assert "sig" not in {s.text for s in segments.values()}
    assert segments[("messages", 1, "name")].text == "alice"
    assert segments[("prediction", "content")].text == "predicted text"
    assert segments[("prompt_variables", "customer")].text == "Bob"


def test_unknown_content_part_is_read_best_effort() -> None:
    data = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "brand_new_text", "text": "new text part"},
                    {"type": "brand_new_thing", "payload": {"body": "hidden words"}},
                    {"type": "brand_new_binary", "data": "AAAA"},
                    {
                        "type": "search_result",
                        "source": "kb://doc/1",
                        "title": "Refund policy",
                        "content": [{"type": "text", "text": "Refunds within 30 days."}],
                    },
                ],
            }
        ]
    }
    segments = by_path(extract(data, "acompletion"))

    assert segments[("messages", 0, "content", 0, "text")].writable
    nested = segments[("messages", 0, "content", 1, "payload", "body")]
    assert (nested.text, nested.writable) == ("hidden words", False)
    unknown_data = segments[("messages", 0, "content", 2, "data")]
    assert (unknown_data.text, unknown_data.writable) == ("AAAA", False)  # read, not skipped
    assert not segments[("messages", 0, "content", 3, "title")].writable
    assert segments[("messages", 0, "content", 3, "content", 0, "text")].writable
    assert segments[("messages", 0, "content", 3, "source")].text == "kb://doc/1"


# --------------------------------------------------------------------------------------------
# Text completion and embeddings
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("Once upon a time", ["Once upon a time"]),
        (["first prompt", "second prompt"], ["first prompt", "second prompt"]),
        ([1212, 318, 257], ["[token ids]"]),
        ([[1212, 318], "mixed text", [257]], ["[token ids]", "mixed text", "[token ids]"]),
    ],
)
def test_text_completion_prompt_shapes(prompt: Any, expected: list[str]) -> None:
    assert texts(extract({"prompt": prompt}, "atext_completion")) == expected


def test_text_completion_suffix_is_read() -> None:
    extracted = extract({"prompt": "def f():", "suffix": "return x"}, "text_completion")
    assert texts(extracted) == ["def f():", "return x"]


@pytest.mark.parametrize(
    ("embedding_input", "expected"),
    [
        ("embed me", ["embed me"]),
        (["one", "two"], ["one", "two"]),
        ([101, 102], ["[token ids]"]),
        ([[101, 102], [103]], ["[token ids]", "[token ids]"]),
    ],
)
def test_embedding_input_shapes(embedding_input: Any, expected: list[str]) -> None:
    extracted = extract({"input": embedding_input}, "aembedding")
    assert texts(extracted) == expected
    assert all(s.role == "user" for s in extracted.segments)


# --------------------------------------------------------------------------------------------
# Responses API
# --------------------------------------------------------------------------------------------


def responses_request() -> dict[str, Any]:
    return {
        "model": "gpt-4o-mini",
        "instructions": "You are a strict reviewer.",
        "input": [
            {"role": "user", "content": "plain string content"},
            {
                "type": "message",
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "typed part"},
                    {"type": "input_image", "image_url": IMAGE_B64},
                    {"type": "input_file", "file_data": "JVBERi0", "filename": "a.pdf"},
                ],
            },
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "earlier answer", "annotations": []}],
            },
            {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [{"type": "summary_text", "text": "model reasoning"}],
                "encrypted_content": "gAAAA",
            },
            {
                "type": "function_call",
                "call_id": "call_1",
                "name": "get_weather",
                "arguments": '{"city": "Paris"}',
            },
            {"type": "function_call_output", "call_id": "call_1", "output": "sunny, 21C"},
            {"type": "item_reference", "id": "msg_123"},
        ],
        "tools": [{"type": "function", "name": "get_weather", "parameters": {}}],
    }


def test_responses_reads_instructions_items_and_function_call_output() -> None:
    extracted = extract(responses_request(), "aresponses")

    assert texts(extracted) == [
        "You are a strict reviewer.",
        "plain string content",
        "typed part",
        "[image]",
        "a.pdf",
        "[file]",
        "earlier answer",
        "model reasoning",
        "get_weather",
        '{"city": "Paris"}',
        "sunny, 21C",
        "get_weather",  # the tool definition
    ]
    segments = by_path(extracted)
    assert segments[("instructions",)].role == "system"
    assert segments[("input", 5, "output")].role == "tool"
    assert segments[("input", 4, "arguments")].writable
    assert not segments[("input", 4, "name")].writable
    assert not segments[("input", 3, "summary", 0, "text")].writable
    assert "gAAAA" not in extracted.joined()


def test_responses_sql_injection_in_instructions_is_in_the_query() -> None:
    data = {"instructions": SQLI, "input": "hello"}
    assert SQLI in extract(data, "responses").joined()


def test_responses_string_input_stored_prompt_and_other_items() -> None:
    data = {
        "input": [
            "bare string item",
            {"type": "custom_tool_call", "call_id": "c", "name": "shell", "input": "ls -la"},
            {
                "type": "custom_tool_call_output",
                "call_id": "c",
                "output": [{"type": "input_text", "text": "a.txt"}],
            },
            {
                "type": "mcp_call",
                "id": "m",
                "name": "search",
                "arguments": "{}",
                "output": "found",
                "server_label": "kb",
            },
            {
                "type": "code_interpreter_call",
                "id": "ci",
                "code": "print(1)",
                "container_id": "cntr",
            },
        ],
        "prompt": {
            "id": "pmpt_1",
            "variables": {"topic": "taxes", "pic": {"type": "input_image", "image_url": "x"}},
        },
    }
    extracted = extract(data, "aresponses")

    assert texts(extracted) == [
        "[image]",  # variables in name order: pic, topic
        "taxes",
        "bare string item",
        "shell",
        "ls -la",
        "a.txt",
        "search",
        "{}",
        "found",
        "kb",  # an mcp_call's other fields are read too
        "print(1)",
    ]
    assert by_path(extracted)[("prompt", "variables", "topic")].writable
    assert not by_path(extracted)[("input", 4, "code")].writable  # best-effort walk: read only
    assert texts(extract({"input": "just a string"}, "aresponses")) == ["just a string"]


# --------------------------------------------------------------------------------------------
# Anthropic messages
# --------------------------------------------------------------------------------------------


def anthropic_request(system: Any) -> dict[str, Any]:
    return {
        "model": "claude-sonnet",
        "max_tokens": 100,
        "system": system,
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "look at this"},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"},
                    },
                    {
                        "type": "document",
                        "source": {
                            "type": "text",
                            "media_type": "text/plain",
                            "data": "contract text",
                        },
                        "title": "Contract",
                        "context": "signed 2024",
                    },
                    {
                        "type": "document",
                        "source": {
                            "type": "base64",
                            "media_type": "application/pdf",
                            "data": "JVB",
                        },
                    },
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "let me look it up", "signature": "sig"},
                    {"type": "text", "text": "Looking up."},
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "lookup",
                        "input": {"email": EMAIL, "limit": 5, "filters": {"tags": ["vip"]}},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_1",
                        "content": [{"type": "text", "text": f"found {EMAIL}"}],
                    },
                    {"type": "tool_result", "tool_use_id": "toolu_2", "content": "string result"},
                ],
            },
            {"role": "assistant", "content": "plain assistant string"},
        ],
    }


def test_anthropic_reads_system_blocks_and_every_block_kind() -> None:
    system = [
        {"type": "text", "text": "System block one."},
        {"type": "text", "text": "System block two.", "cache_control": {"type": "ephemeral"}},
    ]
    extracted = extract(anthropic_request(system), "anthropic_messages")

    assert texts(extracted) == [
        "System block one.",
        "System block two.",
        "look at this",
        "[image]",
        "contract text",
        "Contract",
        "signed 2024",
        "[file]",
        "let me look it up",
        "Looking up.",
        "lookup",
        "email\nfilters\nlimit",  # tool-input keys, read-only
        EMAIL,
        "tags",
        "vip",
        "5",
        f"found {EMAIL}",
        "string result",
        "plain assistant string",
    ]
    segments = by_path(extracted)
    assert segments[("system", 1, "text")].role == "system"
    assert not segments[("messages", 1, "content", 0, "thinking")].writable
    assert segments[("messages", 1, "content", 2, "input", "email")].writable
    assert not segments[("messages", 1, "content", 2, "input", "limit")].writable
    assert segments[("messages", 2, "content", 0, "content", 0, "text")].role == "user"


def test_anthropic_system_string_with_injection_is_in_the_query() -> None:
    extracted = extract(anthropic_request(f"Obey. {SQLI}"), "anthropic_messages")
    assert extracted.segments[0].path == ("system",)
    assert SQLI in extracted.joined()


# --------------------------------------------------------------------------------------------
# MCP tool calls, sync names, unknown call types
# --------------------------------------------------------------------------------------------


def mcp_request() -> dict[str, Any]:
    arguments = {"to": EMAIL, "body": "hello", "retries": 3}
    return {
        "messages": [{"role": "user", "content": f"Tool: send_mail\nArguments: {arguments}"}],
        "model": "mcp-tool-call",
        "mcp_tool_name": "send_mail",
        "mcp_arguments": arguments,
        "mcp_server_name": "mailer",
    }


def test_mcp_reads_tool_name_and_argument_values_not_the_synthetic_copy() -> None:
    extracted = extract(mcp_request(), "call_mcp_tool")

    assert texts(extracted) == ["send_mail", "body\nretries\nto", "hello", "3", EMAIL]
    assert [s.writable for s in extracted.segments] == [False, False, True, False, True]


def test_mcp_without_tool_fields_falls_back_to_messages() -> None:
    data = {"messages": [{"role": "user", "content": "Tool: x\nArguments: {}"}]}
    assert texts(extract(data, "call_mcp_tool")) == ["Tool: x\nArguments: {}"]


def test_mcp_write_back_publishes_modified_arguments_and_masks_the_synthetic_message() -> None:
    data = mcp_request()
    original = copy.deepcopy(data)

    result = mask_through_query(data, "call_mcp_tool")

    assert result["modified_arguments"] == {"to": MASK, "body": "hello", "retries": 3}
    assert result["mcp_arguments"] == result["modified_arguments"]
    assert EMAIL not in result["messages"][0]["content"]
    assert MASK in result["messages"][0]["content"]
    assert data == original


@pytest.mark.parametrize(
    ("async_name", "sync_name", "data"),
    [
        ("acompletion", "completion", chat_request()),
        ("atext_completion", "text_completion", {"prompt": ["a", "b"], "suffix": "c"}),
        ("aembedding", "embedding", {"input": ["a", "b"]}),
        ("aresponses", "responses", responses_request()),
        ("anthropic_messages", "aanthropic_messages", anthropic_request("sys")),
    ],
)
def test_sync_names_and_enum_values_read_the_same_text(
    async_name: str, sync_name: str, data: dict[str, Any]
) -> None:
    expected = extract(data, async_name)
    assert extract(data, sync_name) == expected
    assert extract_request_text(data, CallTypes(async_name), max_chars=0) == expected


def test_unknown_call_type_walks_every_prompt_field() -> None:
    data = {
        "system": "sys prompt",
        "instructions": "instructions text",
        "messages": [{"role": "user", "content": "message text"}],
        "prompt": "prompt text",
        "input": ["input text", [1, 2, 3]],
        "size": "1024x1024",
    }
    assert texts(extract(data, "aimage_generation")) == [
        "sys prompt",
        "instructions text",
        "message text",
        "prompt text",
        "input text",
        "[token ids]",
        "1024x1024",  # any other parameter is read too
    ]


def test_extraction_does_not_modify_the_request() -> None:
    data = anthropic_request([{"type": "text", "text": "s"}])
    snapshot = copy.deepcopy(data)
    extract(data, "anthropic_messages", max_chars=10)
    assert data == snapshot


# --------------------------------------------------------------------------------------------
# The max_chars bound
# --------------------------------------------------------------------------------------------


def test_bound_counts_the_whole_query_and_flags_truncation() -> None:
    data = {"messages": [{"role": "user", "content": c} for c in ("aaaa", "bbbb", "cc")]}
    full = extract(data, "acompletion")
    length = len(full.joined())
    assert length == 4 + 4 + 2 + 2 * len(SEGMENT_SEPARATOR)

    exact = extract(data, "acompletion", max_chars=length)
    assert (exact.truncated, exact.total_chars, texts(exact)) == (False, length, texts(full))

    over = extract(data, "acompletion", max_chars=length - 1)
    assert over.truncated
    assert over.total_chars == length
    assert texts(over) == ["aaaa", "bbbb"]
    assert len(over.joined()) <= length - 1


def test_bound_keeps_a_prefix_and_stops_storing_after_the_first_overflow() -> None:
    data = {"messages": [{"role": "user", "content": c} for c in ("short", "x" * 50, "tiny")]}
    extracted = extract(data, "acompletion", max_chars=20)
    assert extracted.truncated
    assert texts(extracted) == ["short"]  # "tiny" would fit, but the check must see a prefix
    assert extracted.total_chars == 5 + 50 + 4 + 2 * len(SEGMENT_SEPARATOR)


@pytest.mark.parametrize("max_chars", [0, -1])
def test_non_positive_bound_means_unbounded(max_chars: int) -> None:
    big = "x" * 200_000
    extracted = extract({"messages": [{"role": "user", "content": big}]}, "acompletion", max_chars)
    assert not extracted.truncated
    assert extracted.total_chars == 200_000
    assert extracted.joined() == big


def test_absurd_nesting_is_refused_as_malformed_instead_of_crashing() -> None:
    arguments: Any = "leaf"
    for _ in range(5000):
        arguments = {"k": arguments}
    blocks: Any = "leaf"
    for _ in range(3000):
        blocks = [{"type": "tool_result", "tool_use_id": "t", "content": blocks}]

    with pytest.raises(MalformedRequest, match="nests deeper than 100 levels"):
        extract({"mcp_tool_name": "t", "mcp_arguments": arguments}, "call_mcp_tool")
    with pytest.raises(MalformedRequest, match="nests deeper than 100 levels"):
        extract({"messages": [{"role": "user", "content": blocks}]}, "anthropic_messages")
    reasonable: Any = "leaf"
    for _ in range(20):
        reasonable = {"k": [reasonable]}
    fine = extract({"mcp_tool_name": "t", "mcp_arguments": reasonable}, "call_mcp_tool")
    assert (fine.truncated, texts(fine)) == (False, ["t", *["k"] * 20, "leaf"])


# --------------------------------------------------------------------------------------------
# split_masked
# --------------------------------------------------------------------------------------------


def test_split_masked_round_trips_and_maps_masked_pieces() -> None:
    data = {
        "messages": [
            {"role": "system", "content": "line one\nline two\n"},
            {"role": "user", "content": f"mail {EMAIL}"},
            {"role": "user", "content": "\n"},
        ]
    }
    extracted = extract(data, "acompletion")
    assert split_masked(extracted, extracted.joined()) == texts(extracted)
    masked = extracted.joined().replace(EMAIL, MASK)
    assert split_masked(extracted, masked) == ["line one\nline two\n", f"mail {MASK}", "\n"]


def test_split_masked_refuses_altered_or_ambiguous_separators() -> None:
    extracted = extract({"input": ["one", "two", "three"]}, "aembedding")
    joined = extracted.joined()

    assert split_masked(extracted, joined.replace(SEGMENT_MARKER, "*", 1)) is None
    assert split_masked(extracted, joined + SEGMENT_SEPARATOR + "extra") is None
    assert split_masked(extracted, "one two three") is None

    with_marker = extract({"input": [f"a{SEGMENT_MARKER}b", "c"]}, "aembedding")
    assert split_masked(with_marker, with_marker.joined()) is None

    truncated = extract({"input": ["one", "two"]}, "aembedding", max_chars=3)
    assert split_masked(truncated, truncated.joined()) is None

    empty = extract({"input": []}, "aembedding")
    assert split_masked(empty, empty.joined()) == []


def test_separator_reads_as_newline_separated_text() -> None:
    joined = extract({"input": ["SELECT 1", "DROP TABLE t"]}, "aembedding").joined()
    assert joined.splitlines() == ["SELECT 1", SEGMENT_MARKER, "DROP TABLE t"]


# --------------------------------------------------------------------------------------------
# write_back on every route shape
# --------------------------------------------------------------------------------------------

WRITE_BACK_CASES: list[
    tuple[str, str, Callable[[], dict[str, Any]], Callable[[dict[str, Any]], list[Any]]]
] = [
    (
        "chat string content",
        "acompletion",
        lambda: {
            "messages": [
                {"role": "system", "content": f"admin is {EMAIL}"},
                {"role": "user", "content": EMAIL},
            ]
        },
        lambda d: [d["messages"][0]["content"], d["messages"][1]["content"]],
    ),
    (
        "chat text parts and tool results",
        "acompletion",
        lambda: {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": f"to {EMAIL}"},
                        {"type": "image_url", "image_url": "u"},
                    ],
                },
                {"role": "tool", "tool_call_id": "c", "content": [{"type": "text", "text": EMAIL}]},
            ]
        },
        lambda d: [d["messages"][0]["content"][0]["text"], d["messages"][1]["content"][0]["text"]],
    ),
    (
        "chat tool-call arguments",
        "acompletion",
        lambda: {
            "messages": [
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "c",
                            "type": "function",
                            "function": {"name": "mail", "arguments": json.dumps({"to": EMAIL})},
                        }
                    ],
                }
            ]
        },
        lambda d: [json.loads(d["messages"][0]["tool_calls"][0]["function"]["arguments"])["to"]],
    ),
    (
        "text completion prompt string",
        "atext_completion",
        lambda: {"prompt": f"Write to {EMAIL}", "suffix": EMAIL},
        lambda d: [d["prompt"], d["suffix"]],
    ),
    (
        "text completion prompt list",
        "atext_completion",
        lambda: {"prompt": ["keep", EMAIL, [1, 2]]},
        lambda d: [d["prompt"][1]],
    ),
    ("embeddings input string", "aembedding", lambda: {"input": EMAIL}, lambda d: [d["input"]]),
    (
        "embeddings input list",
        "aembedding",
        lambda: {"input": ["keep", f"x {EMAIL}"]},
        lambda d: [d["input"][1]],
    ),
    (
        "responses input string and instructions",
        "aresponses",
        lambda: {"instructions": f"Never mail {EMAIL}", "input": EMAIL},
        lambda d: [d["instructions"], d["input"]],
    ),
    (
        "responses input items",
        "aresponses",
        lambda: {
            "input": [
                {"role": "user", "content": EMAIL},
                {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": EMAIL}],
                },
                {
                    "type": "function_call",
                    "call_id": "c",
                    "name": "f",
                    "arguments": json.dumps({"e": EMAIL}),
                },
                {"type": "function_call_output", "call_id": "c", "output": f"sent to {EMAIL}"},
            ]
        },
        lambda d: [
            d["input"][0]["content"],
            d["input"][1]["content"][0]["text"],
            json.loads(d["input"][2]["arguments"])["e"],
            d["input"][3]["output"],
        ],
    ),
    (
        "anthropic messages and system string",
        "anthropic_messages",
        lambda: {
            "system": f"Operator: {EMAIL}",
            "messages": [
                {"role": "user", "content": EMAIL},
                {"role": "user", "content": [{"type": "text", "text": EMAIL}]},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "tool_use", "id": "t", "name": "n", "input": {"to": EMAIL}}
                    ],
                },
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "t", "content": EMAIL}],
                },
            ],
        },
        lambda d: [
            d["system"],
            d["messages"][0]["content"],
            d["messages"][1]["content"][0]["text"],
            d["messages"][2]["content"][0]["input"]["to"],
            d["messages"][3]["content"][0]["content"],
        ],
    ),
    (
        "anthropic system blocks",
        "anthropic_messages",
        lambda: {
            "system": [
                {"type": "text", "text": "Rules."},
                {"type": "text", "text": f"Owner {EMAIL}"},
            ],
            "messages": [{"role": "user", "content": "hi"}],
        },
        lambda d: [d["system"][1]["text"]],
    ),
]


@pytest.mark.parametrize(
    ("call_type", "make", "written"),
    [case[1:] for case in WRITE_BACK_CASES],
    ids=[case[0] for case in WRITE_BACK_CASES],
)
def test_write_back_masks_every_writable_location(
    call_type: str,
    make: Callable[[], dict[str, Any]],
    written: Callable[[dict[str, Any]], list[Any]],
) -> None:
    data = make()
    original = copy.deepcopy(data)

    result = mask_through_query(data, call_type)

    assert data == original, "the caller's request must not be mutated"
    assert EMAIL in json.dumps(original)
    assert EMAIL not in json.dumps(result)
    assert all(MASK in value for value in written(result))
    assert extract(result, call_type).joined() == extract(original, call_type).joined().replace(
        EMAIL, MASK
    )


def test_write_back_copies_only_the_changed_branches() -> None:
    data = {
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "unchanged"}]},
            {"role": "user", "content": [{"type": "text", "text": EMAIL}]},
        ],
        "metadata": {"k": "v"},
    }
    result = mask_through_query(data, "acompletion")

    assert result is not data
    assert result["messages"] is not data["messages"]
    assert result["messages"][0] is data["messages"][0]
    assert result["messages"][1] is not data["messages"][1]
    assert result["metadata"] is data["metadata"]
    assert data["messages"][1]["content"][0]["text"] == EMAIL

    unchanged = extract(data, "acompletion")
    same = write_back(data, unchanged, texts(unchanged))
    assert same == data
    assert same is not data
    assert same["messages"] is data["messages"]


@pytest.mark.parametrize(
    ("data", "call_type", "path"),
    [
        (
            {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": "u"}]}]},
            "acompletion",
            ("messages", 0, "content", 0),
        ),
        (
            {
                "messages": [
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {
                                "id": "c",
                                "type": "function",
                                "function": {"name": "mail_alice", "arguments": "{}"},
                            }
                        ],
                    }
                ]
            },
            "acompletion",
            ("messages", 0, "tool_calls", 0, "function", "name"),
        ),
        (
            {"mcp_tool_name": "t", "mcp_arguments": {"n": 4111111111111111}},
            "call_mcp_tool",
            ("mcp_arguments", "n"),
        ),
        (
            {
                "messages": [
                    {
                        "role": "assistant",
                        "content": [{"type": "thinking", "thinking": "x", "signature": "s"}],
                    }
                ]
            },
            "anthropic_messages",
            ("messages", 0, "content", 0, "thinking"),
        ),
    ],
    ids=["placeholder", "tool name", "number argument", "signed thinking"],
)
def test_write_back_refuses_to_change_a_read_only_segment(
    data: dict[str, Any], call_type: str, path: tuple[str | int, ...]
) -> None:
    extracted = extract(data, call_type)
    replacements = [
        "[MASKED]" if segment.path == path else segment.text for segment in extracted.segments
    ]
    with pytest.raises(ValueError, match="read-only"):
        write_back(data, extracted, replacements)


def test_write_back_refuses_masks_that_break_tool_call_json() -> None:
    data = {
        "messages": [
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "c",
                        "type": "function",
                        "function": {"name": "f", "arguments": '{"a": 1}'},
                    }
                ],
            }
        ]
    }
    extracted = extract(data, "acompletion")
    with pytest.raises(ValueError, match="invalid JSON"):
        write_back(data, extracted, ["f", '{"a": ***}'])
    not_json = {
        **data,
        "messages": [{"role": "assistant", "function_call": {"name": "f", "arguments": "raw"}}],
    }
    extracted = extract(not_json, "acompletion")
    assert (
        write_back(not_json, extracted, ["f", "r**"])["messages"][0]["function_call"]["arguments"]
        == "r**"
    )


def test_write_back_refuses_truncated_mismatched_or_stale_input() -> None:
    data = {"messages": [{"role": "user", "content": "one"}, {"role": "user", "content": "two"}]}

    truncated = extract(data, "acompletion", max_chars=3)
    with pytest.raises(ValueError, match="truncated"):
        write_back(data, truncated, ["x"])

    extracted = extract(data, "acompletion")
    with pytest.raises(ValueError, match="replacements"):
        write_back(data, extracted, ["x"])

    stale = {
        "messages": [{"role": "user", "content": "changed"}, {"role": "user", "content": "two"}]
    }
    with pytest.raises(ValueError, match="changed since extraction"):
        write_back(stale, extracted, ["x", "two"])
    with pytest.raises(ValueError, match="changed since extraction"):
        write_back({"messages": []}, extracted, ["x", "two"])


def test_write_back_error_messages_do_not_leak_prompt_text() -> None:
    data = {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": EMAIL}]}]}
    extracted = extract(data, "acompletion")
    with pytest.raises(ValueError, match="read-only") as excinfo:
        write_back(data, extracted, ["secret replacement"])
    assert "secret" not in str(excinfo.value)
    assert "messages[0].content[0]" in str(excinfo.value)
