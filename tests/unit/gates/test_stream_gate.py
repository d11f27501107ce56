"""Held streams: masking every chunk shape, failing closed when it cannot, and the relay itself.

Chunks are the objects LiteLLM hands `async_post_call_streaming_iterator_hook`: chat
`ModelResponseStream`, text-completion `TextCompletionResponse`, `/v1/responses` event objects
(built with LiteLLM's own event classes) and `/v1/messages` raw SSE bytes.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.support.processes import TEST_ENV

os.environ.update(TEST_ENV)

from fastapi import HTTPException
from litellm.llms.openai.responses.transformation import OpenAIResponsesAPIConfig
from litellm.types.utils import ModelResponseStream, TextCompletionResponse

from axonflow_guardrail._errors import ErrorCode, governance_error
from axonflow_guardrail.gates._stream_gate import (
    AnthropicStreamRefusal,
    anthropic_stream_refusal,
    govern_stream,
)
from axonflow_guardrail.response._stream_masking import mask_stream
from axonflow_guardrail.response._text import (
    extract_response_text,
    response_usage,
)
from axonflow_guardrail.response._usage import estimate_usage

MASKED = "SSN 1*********9."
ORIGINAL_PIECES = ["SSN 12", "3-45-67", "89."]


# ------------------------------------------------------------------ chunk builders


def chat_chunks(pieces: list[str], **delta_extra: Any) -> list[Any]:
    chunks = [
        ModelResponseStream(
            id="c",
            choices=[{"index": 0, "delta": {"role": "assistant", "content": p, **delta_extra}}],
        )
        for p in pieces
    ]
    chunks.append(ModelResponseStream(id="c", choices=[{"index": 0, "delta": {}}]))
    return chunks


def text_chunks(pieces: list[str]) -> list[Any]:
    return [
        TextCompletionResponse(id="t", choices=[{"index": 0, "text": p, "finish_reason": None}])
        for p in pieces
    ]


def responses_events(pieces: list[str], *, extra_items: list[Any] = ()) -> list[Any]:  # type: ignore[assignment]
    make = OpenAIResponsesAPIConfig.get_event_model_class
    full = "".join(pieces)

    def message(text: str) -> dict[str, Any]:
        part = {"type": "output_text", "text": text, "annotations": []}
        return {"id": "m", "type": "message", "role": "assistant", "status": "completed",
                "content": [part]}  # fmt: skip

    def response(output: list[Any]) -> dict[str, Any]:
        return {"id": "r", "object": "response", "created_at": 1, "status": "completed",
                "model": "x", "output": output, "parallel_tool_calls": True,
                "tool_choice": "auto", "tools": [],
                "usage": {"input_tokens": 3, "output_tokens": 5, "total_tokens": 8}}  # fmt: skip

    raw: list[dict[str, Any]] = [
        {"type": "response.created", "response": {**response([]), "status": "in_progress"}},
        {"type": "response.output_item.added", "output_index": 0,
         "item": {**message(""), "content": [], "status": "in_progress"}},
        {"type": "response.content_part.added", "item_id": "m", "output_index": 0,
         "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}},
    ]  # fmt: skip
    raw += [
        {"type": "response.output_text.delta", "item_id": "m", "output_index": 0,
         "content_index": 0, "delta": p}
        for p in pieces
    ]  # fmt: skip
    raw += [
        {"type": "response.output_text.done", "item_id": "m", "output_index": 0,
         "content_index": 0, "text": full},
        {"type": "response.content_part.done", "item_id": "m", "output_index": 0,
         "content_index": 0,
         "part": {"type": "output_text", "text": full, "annotations": [], "logprobs": []}},
        {"type": "response.output_item.done", "output_index": 0, "item": message(full)},
        *extra_items,
        {"type": "response.completed", "response": response([message(full)])},
    ]  # fmt: skip
    return [
        make(event["type"]).model_validate({**event, "sequence_number": n})
        for n, event in enumerate(raw)
    ]


def sse(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


def anthropic_chunks(pieces: list[str], *, tool: bool = False) -> list[bytes]:
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": {"id": "m", "type": "message", "role": "assistant",
         "content": [], "model": "x", "usage": {"input_tokens": 0, "output_tokens": 0}}},
        {"type": "content_block_start", "index": 0,
         "content_block": {"type": "text", "text": ""}},
    ]  # fmt: skip
    events += [
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}}
        for p in pieces
    ]
    events.append({"type": "content_block_stop", "index": 0})
    if tool:
        events += [
            {"type": "content_block_start", "index": 1,
             "content_block": {"type": "tool_use", "id": "t", "name": "lookup", "input": {}}},
            {"type": "content_block_delta", "index": 1,
             "delta": {"type": "input_json_delta", "partial_json": '{"q": "123-45-6789"}'}},
        ]  # fmt: skip
    events += [
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
         "usage": {"input_tokens": 9, "output_tokens": 6}},
        {"type": "message_stop"},
    ]  # fmt: skip
    chunks = [sse(e) for e in events]
    # Two frames in one chunk, and one frame torn across two chunks, as transports deliver.
    torn = chunks[2]
    return [chunks[0] + chunks[1], torn[:10], torn[10:], *chunks[3:]]


# ------------------------------------------------------------------ mask_stream


def test_chat_chunks_carry_the_masked_text_once() -> None:
    chunks = chat_chunks(ORIGINAL_PIECES)
    assert extract_response_text(chunks) == "SSN 123-45-6789."
    masked = mask_stream(chunks, MASKED)
    assert masked is chunks
    assert [c.choices[0].delta.content for c in masked[:3]] == [MASKED, "", ""]
    assert extract_response_text(masked) == MASKED


def test_text_completion_chunks_carry_the_masked_text_once() -> None:
    chunks = text_chunks(ORIGINAL_PIECES)
    masked = mask_stream(chunks, MASKED)
    assert masked is not None
    assert [c.choices[0].text for c in masked] == [MASKED, "", ""]


def test_responses_events_are_masked_everywhere_the_text_appears() -> None:
    events = responses_events(ORIGINAL_PIECES)
    masked = mask_stream(events, MASKED)
    assert masked is not None
    dumped = json.dumps([e.model_dump(mode="json") for e in masked])
    assert "123-45" not in dumped
    assert "6789" not in dumped
    deltas = [e.delta for e in masked if e.type == "response.output_text.delta"]
    assert deltas == [MASKED, "", ""]
    assert extract_response_text(masked) == MASKED
    final = masked[-1].response.output[0].content[0].text
    assert final == MASKED
    assert response_usage(masked) == (3, 5, 8)


def test_anthropic_sse_is_reencoded_with_the_masked_text() -> None:
    chunks = anthropic_chunks(ORIGINAL_PIECES)
    assert extract_response_text(chunks) == "SSN 123-45-6789."
    masked = mask_stream(chunks, MASKED)
    assert masked is not None
    assert all(isinstance(c, bytes) for c in masked)
    raw = b"".join(masked).decode()
    assert "123-45" not in raw
    assert extract_response_text(masked) == MASKED
    assert raw.count("event: ") == raw.count("\n\n")  # every frame whole
    assert raw.endswith('event: message_stop\ndata: {"type": "message_stop"}\n\n')
    assert response_usage(masked) == (9, 6, 15)


@pytest.mark.parametrize(
    "chunks",
    [
        pytest.param(
            chat_chunks(["x"], tool_calls=[{"index": 0, "function": {"arguments": "{}"}}]),
            id="chat-tool-call",
        ),
        pytest.param(
            [
                ModelResponseStream(
                    id="c",
                    choices=[
                        {"index": 0, "delta": {"content": "a"}},
                        {"index": 1, "delta": {"content": "b"}},
                    ],
                )
            ],
            id="chat-two-choices",
        ),
        pytest.param(anthropic_chunks(["x"], tool=True), id="anthropic-tool-use"),
        pytest.param(
            responses_events(
                ["x"],
                extra_items=[
                    {
                        "type": "response.output_item.done",
                        "output_index": 1,
                        "item": {
                            "id": "f",
                            "type": "function_call",
                            "call_id": "c",
                            "name": "lookup",
                            "arguments": "{}",
                            "status": "completed",
                        },
                    }
                ],
            ),
            id="responses-function-call",
        ),
        pytest.param([], id="empty"),
    ],
)
def test_streams_that_cannot_carry_the_masked_text_are_refused(chunks: list[Any]) -> None:
    assert mask_stream(chunks, MASKED) is None


# ------------------------------------------------------------------ govern_stream


async def relay(chunks: list[Any]) -> AsyncIterator[Any]:
    for chunk in chunks:
        yield chunk


async def run(chunks: list[Any], *, hold: bool, check: Any) -> tuple[list[Any], list[Any], Any]:
    done: list[tuple[list[Any], str]] = []
    out: list[Any] = []
    error: Any = None
    try:
        async for chunk in govern_stream(
            relay(chunks), hold=hold, check=check, on_done=lambda c, o: done.append((c, o))
        ):
            out.append(chunk)
    except HTTPException as exc:
        error = exc
    assert len(done) == 1  # exactly once, whatever happened
    return out, done[0], error


async def test_unheld_stream_relays_as_it_comes_and_reports_once() -> None:
    async def never(text: str) -> str | None:
        raise AssertionError("not held: no check")

    chunks = chat_chunks(ORIGINAL_PIECES)
    out, (seen, outcome), error = await run(chunks, hold=False, check=never)
    assert out == chunks
    assert seen == chunks
    assert outcome == "success"
    assert error is None


async def test_held_stream_blocked_emits_nothing() -> None:
    async def block(text: str) -> str | None:
        assert text == "SSN 123-45-6789."
        raise governance_error(ErrorCode.OUTPUT_BLOCKED, "Response blocked: no")

    out, (_, outcome), error = await run(chat_chunks(ORIGINAL_PIECES), hold=True, check=block)
    assert out == []
    assert outcome == "blocked"
    assert error.detail["code"] == "output_blocked"


async def test_held_stream_masked_emits_the_masked_chunks_and_reports_them() -> None:
    async def mask(text: str) -> str | None:
        return MASKED

    out, (seen, outcome), _ = await run(anthropic_chunks(ORIGINAL_PIECES), hold=True, check=mask)
    assert outcome == "success"
    assert extract_response_text(out) == MASKED
    assert seen == out  # the audit gets what the client got


async def test_held_stream_that_cannot_be_masked_is_withheld() -> None:
    async def mask(text: str) -> str | None:
        return MASKED

    chunks = anthropic_chunks(ORIGINAL_PIECES, tool=True)
    out, (_, outcome), error = await run(chunks, hold=True, check=mask)
    assert out == []
    assert outcome == "blocked"
    assert error.detail["code"] == "redaction_failed"


# ------------------------------------------------------------------ refusals and usage


def test_anthropic_stream_refusal_carries_the_non_streaming_body() -> None:
    exc = governance_error(ErrorCode.OUTPUT_BLOCKED, "Response blocked: no", decision_id="d-1")
    refusal = anthropic_stream_refusal(exc, guardrail_name="af", mode=["pre_call", "post_call"])
    assert isinstance(refusal, AnthropicStreamRefusal)
    assert not isinstance(refusal, HTTPException)  # LiteLLM renders those OpenAI-style
    assert refusal.status_code == 400
    body = json.loads(refusal.message)
    assert body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["message"] == "Response blocked: no"
    fields = body["error"]["provider_specific_fields"]
    assert fields["code"] == "output_blocked"
    assert fields["decision_id"] == "d-1"
    assert fields["guardrail_name"] == "af"


def test_governance_errors_carry_the_attributes_other_routes_read() -> None:
    exc = governance_error(ErrorCode.POLICY_DENIED, "blocked: SQL")
    assert isinstance(exc, HTTPException)
    assert (exc.message, exc.type, exc.param, exc.code) == (
        "blocked: SQL",
        "invalid_request_error",
        None,
        "policy_denied",
    )
    assert governance_error(ErrorCode.GOVERNANCE_UNAVAILABLE, "down").type == (
        "internal_server_error"
    )


def test_usage_is_estimated_for_a_stream_without_any() -> None:
    prompt, completion, total = estimate_usage("gpt-4o-mini", "a prompt here", "an answer")
    assert prompt > 0
    assert completion > 0
    assert total == prompt + completion
    assert estimate_usage("gpt-4o-mini", "", "") == (0, 0, 0)
