"""Response text and token usage on every route, streamed or not (`response._text`)."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import json
from typing import Any

import litellm
import pytest
from litellm.types.llms.anthropic import AnthropicResponse
from litellm.types.llms.openai import (
    FunctionCallArgumentsDeltaEvent,
    OutputItemAddedEvent,
    OutputTextDeltaEvent,
    ResponseCompletedEvent,
    ResponseCreatedEvent,
    ResponsesAPIResponse,
)

from axonflow_guardrail.response._text import (
    extract_response_text,
    response_usage,
)

# --------------------------------------------------------------------------------------------
# Responses: text and usage
# --------------------------------------------------------------------------------------------


def test_chat_model_response_text_and_usage() -> None:
    response = litellm.ModelResponse(
        choices=[
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Here you go.",
                    "tool_calls": [
                        {
                            "id": "c",
                            "type": "function",
                            "function": {"name": "lookup", "arguments": '{"q": 1}'},
                        }
                    ],
                },
            }
        ],
        usage={"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
    )
    assert extract_response_text(response) == 'Here you go.\nlookup\n{"q": 1}'
    assert response_usage(response) == (11, 7, 18)
    assert extract_response_text(response.model_dump()) == 'Here you go.\nlookup\n{"q": 1}'
    assert response_usage(response.model_dump()) == (11, 7, 18)


def test_model_response_without_usage_or_content() -> None:
    response = litellm.ModelResponse()
    assert extract_response_text(response) == ""
    assert response_usage(response) == (0, 0, 0)


def test_text_completion_response() -> None:
    response = litellm.TextCompletionResponse(
        choices=[{"index": 0, "text": "first"}, {"index": 1, "text": "second"}],
        usage={"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5},
    )
    assert extract_response_text(response) == "first\nsecond"
    assert response_usage(response) == (2, 3, 5)


def test_embedding_response_has_no_text() -> None:
    response = litellm.EmbeddingResponse(
        data=[{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}],
        usage=litellm.Usage(prompt_tokens=4, total_tokens=4),
    )
    assert extract_response_text(response) == ""
    assert response_usage(response) == (4, 0, 4)


def test_responses_api_response() -> None:
    response = ResponsesAPIResponse(
        id="resp_1",
        created_at=0,
        output=[
            {
                "type": "reasoning",
                "id": "rs",
                "summary": [{"type": "summary_text", "text": "hidden"}],
            },
            {
                "type": "message",
                "id": "msg",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": "The answer.", "annotations": []}],
            },
            {
                "type": "function_call",
                "id": "fc",
                "call_id": "c",
                "name": "get_weather",
                "arguments": "{}",
            },
        ],
        usage={"input_tokens": 9, "output_tokens": 4, "total_tokens": 13},
    )
    assert extract_response_text(response) == "The answer.\nget_weather\n{}"
    assert response_usage(response) == (9, 4, 13)


def test_anthropic_messages_response_typed_and_dict() -> None:
    content = [
        {"type": "thinking", "thinking": "private", "signature": "s"},
        {"type": "text", "text": "Hello."},
        {"type": "tool_use", "id": "t", "name": "lookup", "input": {"q": "x"}},
    ]
    as_dict = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude",
        "content": content,
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 100},
    }
    typed = AnthropicResponse(
        **{**as_dict, "content": content[1:], "usage": {"input_tokens": 10, "output_tokens": 5}}
    )

    assert extract_response_text(as_dict) == 'Hello.\nlookup\n{"q": "x"}'
    assert response_usage(as_dict) == (110, 5, 115)
    assert extract_response_text(typed) == 'Hello.\nlookup\n{"q": "x"}'
    assert response_usage(typed) == (10, 5, 15)


def test_streaming_chunks_are_assembled_in_order() -> None:
    chunks = [
        litellm.ModelResponseStream(
            choices=[{"index": 0, "delta": {"role": "assistant", "content": "Hel"}}]
        ),
        litellm.ModelResponseStream(choices=[{"index": 0, "delta": {"content": "lo"}}]),
        litellm.ModelResponseStream(
            choices=[
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "c",
                                "type": "function",
                                "function": {"name": "f", "arguments": '{"a"'},
                            }
                        ]
                    },
                }
            ]
        ),
        litellm.ModelResponseStream(
            choices=[
                {
                    "index": 0,
                    "delta": {"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]},
                }
            ]
        ),
        litellm.ModelResponseStream(
            choices=[{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]
        ),
        litellm.ModelResponseStream(
            choices=[], usage=litellm.Usage(prompt_tokens=3, completion_tokens=5, total_tokens=8)
        ),
    ]
    assert extract_response_text(chunks) == 'Hello\nf\n{"a": 1}'
    assert response_usage(chunks) == (3, 5, 8)


def test_streaming_dict_chunks_and_no_usage() -> None:
    chunks = [
        {"choices": [{"index": 0, "delta": {"content": "a"}}]},
        {"choices": [{"index": 1, "delta": {"content": "x"}}]},
        {"choices": [{"index": 0, "delta": {"content": "b"}}]},
    ]
    assert extract_response_text(chunks) == "ab\nx"
    assert response_usage(chunks) == (0, 0, 0)
    assert extract_response_text([]) == ""


def responses_stream(*, completed: bool) -> list[Any]:
    empty = ResponsesAPIResponse(id="r", created_at=0, output=[])
    events: list[Any] = [
        ResponseCreatedEvent(type="response.created", response=empty),
        OutputTextDeltaEvent(
            type="response.output_text.delta",
            item_id="m",
            output_index=0,
            content_index=0,
            delta="Hel",
        ),
        OutputTextDeltaEvent(
            type="response.output_text.delta",
            item_id="m",
            output_index=0,
            content_index=0,
            delta="lo",
        ),
        OutputItemAddedEvent(
            type="response.output_item.added",
            output_index=1,
            item={
                "type": "function_call",
                "id": "fc",
                "call_id": "c",
                "name": "f",
                "arguments": "",
            },
        ),
        FunctionCallArgumentsDeltaEvent(
            type="response.function_call_arguments.delta", item_id="fc", output_index=1, delta="{}"
        ),
    ]
    if completed:
        final = ResponsesAPIResponse(
            id="r",
            created_at=0,
            output=[
                {
                    "type": "message",
                    "id": "m",
                    "role": "assistant",
                    "status": "completed",
                    "content": [{"type": "output_text", "text": "Hello", "annotations": []}],
                },
                {
                    "type": "function_call",
                    "id": "fc",
                    "call_id": "c",
                    "name": "f",
                    "arguments": "{}",
                },
            ],
            usage={"input_tokens": 6, "output_tokens": 2, "total_tokens": 8},
        )
        events.append(ResponseCompletedEvent(type="response.completed", response=final))
    return events


@pytest.mark.parametrize("completed", [True, False], ids=["completed", "cut short"])
def test_responses_api_stream_events(completed: bool) -> None:
    events = responses_stream(completed=completed)
    assert extract_response_text(events) == "Hello\nf\n{}"
    assert response_usage(events) == ((6, 2, 8) if completed else (0, 0, 0))


def test_anthropic_raw_sse_stream() -> None:
    frames = [
        {
            "type": "message_start",
            "message": {"id": "m", "usage": {"input_tokens": 12, "output_tokens": 1}},
        },
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "thinking", "thinking": ""},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "hmm"},
        },
        {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Hi "}},
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "text_delta", "text": "there"},
        },
        {
            "type": "content_block_start",
            "index": 2,
            "content_block": {"type": "tool_use", "id": "t", "name": "lookup", "input": {}},
        },
        {
            "type": "content_block_delta",
            "index": 2,
            "delta": {"type": "input_json_delta", "partial_json": '{"q": '},
        },
        {
            "type": "content_block_delta",
            "index": 2,
            "delta": {"type": "input_json_delta", "partial_json": '"x"}'},
        },
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use"},
            "usage": {"output_tokens": 9},
        },
        {"type": "message_stop"},
    ]
    sse = "".join(f"event: {f['type']}\ndata: {json.dumps(f)}\n\n" for f in frames).encode()
    chunks = [sse[i : i + 37] for i in range(0, len(sse), 37)]  # frames split across chunks

    assert extract_response_text(chunks) == 'Hi there\nlookup\n{"q": "x"}'
    assert response_usage(chunks) == (12, 9, 21)


@pytest.mark.parametrize("response", [None, object(), 42, {"unexpected": True}])
def test_unknown_responses_give_nothing(response: Any) -> None:
    assert extract_response_text(response) == ""
    assert response_usage(response) == (0, 0, 0)
