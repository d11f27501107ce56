"""The whole body is read: what the provider receives is what gets checked.

Each test puts a payload where an attacker would (a tool definition, a schema description,
`extra_body`, an unknown key, a base64 file, ...) and shows it in the pre-check query, or the
request refused as it stands. The few things never read (LiteLLM's metadata, ids, credentials)
are shown not to be.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from axonflow_guardrail.request._text import (
    NON_TEXT_PARAMS,
    ExtractedText,
    FieldNotAllowed,
    MalformedRequest,
    extract_request_text,
)

PAYLOAD = "x' UNION SELECT password FROM users --"
USER = [{"role": "user", "content": "hi"}]


def extract(data: dict[str, Any], call_type: str = "acompletion") -> ExtractedText:
    return extract_request_text(data, call_type, max_chars=0)


def query(data: dict[str, Any], call_type: str = "acompletion") -> str:
    return extract(data, call_type).joined()


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# --------------------------------------------------------------------------------------------
# extra_body
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call_type", "field"),
    [
        ("acompletion", "messages"),
        ("acompletion", "prompt"),
        ("acompletion", "input"),
        ("atext_completion", "prompt"),
        ("aembedding", "input"),
        ("aresponses", "instructions"),
        ("anthropic_messages", "system"),
        ("aimage_generation", "prompt"),
        ("agenerate_content", "contents"),
    ],
)
def test_a_prompt_field_in_extra_body_is_refused_with_its_name(call_type: str, field: str) -> None:
    data = {"model": "m", "messages": USER, "extra_body": {field: PAYLOAD}}
    with pytest.raises(FieldNotAllowed) as raised:
        extract(data, call_type)
    assert raised.value.code == "field_not_allowed"
    assert raised.value.reason.startswith(f"extra_body.{field}:")
    assert PAYLOAD not in raised.value.reason


def test_other_extra_body_parameters_are_checked_like_the_body() -> None:
    data = {
        "messages": USER,
        "extra_body": {
            "provider_hint": PAYLOAD,
            "tools": [{"type": "function", "function": {"name": "f", "description": "d1"}}],
            "metadata": {"note": "LiteLLM's own"},
            "api_key": "sk-secret",
        },
    }
    text = query(data)
    assert PAYLOAD in text
    assert "d1" in text
    assert "LiteLLM's own" not in text
    assert "sk-secret" not in text


# --------------------------------------------------------------------------------------------
# Text outside the route's prompt fields
# --------------------------------------------------------------------------------------------


def test_tool_and_function_definitions_are_checked() -> None:
    data = {
        "messages": USER,
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "run_sql",
                    "description": PAYLOAD,
                    "parameters": {
                        "type": "object",
                        "properties": {"ignore_all_rules": {"type": "string", "enum": ["e1"]}},
                    },
                },
            }
        ],
        "functions": [{"name": "legacy", "description": "legacy description"}],
    }
    text = query(data)
    for expected in (PAYLOAD, "run_sql", "ignore_all_rules", "e1", "legacy description"):
        assert expected in text


def test_response_format_and_text_format_schemas_are_checked() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string", "description": PAYLOAD}}}
    chat = {
        "messages": USER,
        "response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": schema}},
    }
    responses = {"input": "hi", "text": {"format": {"type": "json_schema", "schema": schema}}}
    assert PAYLOAD in query(chat)
    assert PAYLOAD in query(responses, "aresponses")


def test_anthropic_tools_are_checked() -> None:
    data = {
        "messages": USER,
        "tools": [{"name": "t", "description": PAYLOAD, "input_schema": {"type": "object"}}],
    }
    assert PAYLOAD in query(data, "anthropic_messages")


def test_unknown_keys_on_the_body_messages_and_parts_are_checked() -> None:
    data = {
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": "hi", "x_extra": "in a part"}],
                "x_note": "on a message",
            }
        ],
        "x_provider_param": {"nested": ["deep", {"deeper": PAYLOAD}]},
    }
    text = query(data)
    for expected in ("in a part", "on a message", "deep", PAYLOAD):
        assert expected in text


def test_text_litellm_inserts_into_the_prompt_is_checked() -> None:
    data = {
        "messages": USER,
        "user_continue_message": {"role": "user", "content": PAYLOAD},
        "custom_prompt_dict": {"m": {"roles": {"user": {"pre_message": "pre text"}}}},
    }
    text = query(data)
    assert PAYLOAD in text
    assert "pre text" in text


def test_keys_that_are_text_rather_than_names_are_checked() -> None:
    data = {"messages": USER, "x_param": {"123-45-6789": 1, "plain_name": 2}}
    extracted = extract(data)
    assert "123-45-6789" in extracted.joined()
    assert "plain_name" not in extracted.joined()
    assert all(not s.writable for s in extracted.segments if s.path[0] == "x_param")


def test_the_non_text_list_metadata_ids_and_credentials_are_never_read() -> None:
    data: dict[str, Any] = {name: f"value-of-{name}" for name in NON_TEXT_PARAMS}
    data.update(
        {
            "messages": [{"role": "user", "content": "hi", "tool_call_id": "call-secret-id"}],
            "previous_response_id": "resp_1",
            "api_key": "sk-1",
            "aws_secret_access_key": "aws-1",
            "extra_headers": {"Authorization": "Bearer x"},
            "user_config": {"model_list": [{"litellm_params": {"api_key": "sk-2", "m": "ok"}}]},
            "_litellm_internal": "internal",
        }
    )
    text = query(data)
    assert text == "hi\n\u241e\nok"
    for secret in ("value-of-", "call-secret-id", "resp_1", "sk-1", "aws-1", "Bearer", "sk-2"):
        assert secret not in text


def test_order_does_not_depend_on_how_the_client_serialised_the_body() -> None:
    first = {"messages": USER, "b": "bee", "a": {"y": "why", "x": "ex"}, "tools": ["t"]}
    second = {"tools": ["t"], "a": {"x": "ex", "y": "why"}, "b": "bee", "messages": USER}
    assert query(first) == query(second)


# --------------------------------------------------------------------------------------------
# Encoded content
# --------------------------------------------------------------------------------------------


def test_base64_text_files_are_decoded_and_checked_on_every_route() -> None:
    data_url = f"data:text/plain;base64,{b64(PAYLOAD)}"
    chat = {
        "messages": [
            {"role": "user", "content": [{"type": "file", "file": {"file_data": data_url}}]}
        ]
    }
    responses = {
        "input": [{"role": "user", "content": [{"type": "input_file", "file_data": data_url}]}]
    }
    anthropic = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "document",
                        "source": {
                            "type": "base64",
                            "media_type": "text/csv",
                            "data": b64(PAYLOAD),
                        },
                    }
                ],
            }
        ]
    }
    raw_with_name = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "file", "file": {"file_data": b64(PAYLOAD), "filename": "a.json"}}
                ],
            }
        ]
    }
    gemini = {
        "contents": [
            {"parts": [{"inline_data": {"mime_type": "text/plain", "data": b64(PAYLOAD)}}]}
        ]
    }
    for data, call_type in (
        (chat, "acompletion"),
        (responses, "aresponses"),
        (anthropic, "anthropic_messages"),
        (raw_with_name, "acompletion"),
        (gemini, "agenerate_content"),
    ):
        extracted = extract(data, call_type)
        assert PAYLOAD in extracted.joined(), call_type
        assert extracted.unverifiable == (), call_type


def test_data_urls_of_text_are_decoded_anywhere_prose_that_starts_with_data_is_not() -> None:
    data = {
        "messages": [
            {"role": "user", "content": f"data:,{PAYLOAD.replace(' ', '%20')}"},
            {"role": "user", "content": "Data: the numbers, as promised"},
            {
                "role": "user",
                "content": [
                    {
                        "type": "image_url",
                        "image_url": {"url": f"data:text/plain;base64,{b64('hidden')}"},
                    }
                ],
            },
        ]
    }
    extracted = extract(data)
    assert PAYLOAD in extracted.joined()
    assert "Data: the numbers, as promised" in extracted.joined()
    assert "hidden" in extracted.joined()


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (
            {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0="}},
            "binary_file",
        ),
        ({"type": "file", "file": {"file_id": "file-abc"}}, "file_reference"),
        ({"type": "input_file", "file_url": "https://example.com/a.pdf"}, "remote_file"),
        (
            {"type": "file", "file": {"file_data": "data:text/plain;charset=utf-8;base64,/w=="}},
            "undecodable_text",
        ),
        (
            {"type": "document", "source": {"type": "url", "url": "https://example.com/a.pdf"}},
            "remote_file",
        ),
        ({"type": "document", "source": {"type": "file", "file_id": "file_1"}}, "file_reference"),
        ({"type": "container_upload", "file_id": "file_2"}, "file_reference"),
    ],
)
def test_what_cannot_be_read_is_reported_as_unverifiable(
    content: dict[str, Any], kind: str
) -> None:
    extracted = extract({"messages": [{"role": "user", "content": [content]}]})
    assert [u.kind for u in extracted.unverifiable] == [kind]
    assert "[file]" in extracted.joined()


def test_token_ids_are_unverifiable_images_and_audio_are_placeholders() -> None:
    tokens = extract({"prompt": [[1, 2, 3], "text"]}, "atext_completion")
    assert [u.kind for u in tokens.unverifiable] == ["token_ids"]
    media = extract(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR"}},
                        {"type": "input_audio", "input_audio": {"data": "UklGR", "format": "wav"}},
                    ],
                }
            ]
        }
    )
    assert media.unverifiable == ()
    assert media.joined() == "[image]\n\u241e\n[audio]"


# --------------------------------------------------------------------------------------------
# Malformed requests
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad_type", [["text"], {"a": 1}, 7, True])
def test_a_part_whose_type_is_not_a_string_is_malformed(bad_type: Any) -> None:
    data = {"messages": [{"role": "user", "content": [{"type": bad_type, "text": PAYLOAD}]}]}
    with pytest.raises(MalformedRequest) as raised:
        extract(data)
    assert raised.value.reason == "messages[0].content[0].type: 'type' must be a string"


@pytest.mark.parametrize(
    ("data", "call_type", "path"),
    [
        ({"messages": [{"role": ["user"], "content": "x"}]}, "acompletion", "messages[0].role"),
        ({"input": [{"type": {"t": 1}}]}, "aresponses", "input[0].type"),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "document", "source": {"type": 1}}]}
                ]
            },
            "anthropic_messages",
            "messages[0].content[0].source.type",
        ),
    ],
)
def test_malformed_discriminators_name_their_path(
    data: dict[str, Any], call_type: str, path: str
) -> None:
    with pytest.raises(MalformedRequest) as raised:
        extract(data, call_type)
    assert raised.value.reason.startswith(f"{path}: ")
