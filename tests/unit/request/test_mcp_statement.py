"""MCP tool calls: the checked statement, and masked arguments written back faithfully."""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.support.processes import TEST_ENV

os.environ.update(TEST_ENV)

from axonflow_guardrail.request._rewrite import (
    mcp_statement,
    write_back_mcp_statement,
)
from axonflow_guardrail.request._text import extract_request_text


def tool_call(arguments: Any, tool: str = "lookup") -> dict[str, Any]:
    """What LiteLLM hands a pre_mcp_call guardrail (the synthetic request)."""
    return {
        "messages": [{"role": "user", "content": f"Tool: {tool}\nArguments: {arguments}"}],
        "mcp_tool_name": tool,
        "mcp_arguments": arguments,
        "mcp_server_name": "crm",
    }


def masked(statement: str) -> str:
    return statement.replace("123-45-6789", "1*********9")


def test_statement_names_the_tool_and_keeps_non_ascii() -> None:
    assert mcp_statement("lookup", {"q": "Zoë", "n": 2}) == (
        'Tool: lookup\nArguments: {"q": "Zoë", "n": 2}'
    )


def test_masked_string_arguments_are_written_back_where_litellm_reads_them() -> None:
    arguments = {"query": "SSN 123-45-6789", "filters": {"names": ["a", "123-45-6789"]}, "n": 3}
    data = tool_call(arguments)
    extracted = extract_request_text(data, "call_mcp_tool", max_chars=0)
    result = write_back_mcp_statement(
        data, extracted, "lookup", masked(mcp_statement("lookup", arguments))
    )
    expected = {"query": "SSN 1*********9", "filters": {"names": ["a", "1*********9"]}, "n": 3}
    assert result["modified_arguments"] == expected  # what LiteLLM applies to the call
    assert result["mcp_arguments"] == expected
    assert "123-45-6789" not in result["messages"][0]["content"]
    assert data["mcp_arguments"] == arguments  # the caller's request is not mutated


@pytest.mark.parametrize(
    ("arguments", "masked_statement"),
    [
        pytest.param({"n": 123456789}, 'Tool: lookup\nArguments: {"n": 1*******9}', id="number"),
        pytest.param({"a": "x"}, 'Tool: lookup\nArguments: {"b": "x"}', id="key-changed"),
        pytest.param({"a": "x"}, 'Tool: lo*kup\nArguments: {"a": "x"}', id="tool-line"),
        pytest.param({"a": "x"}, 'Tool: lookup\nArguments: {"a": ', id="not-json"),
        pytest.param({"a": "x"}, 'Tool: lookup\nArguments: {"a": 5}', id="type-changed"),
    ],
)
def test_unfaithful_masking_raises(arguments: dict[str, Any], masked_statement: str) -> None:
    data = tool_call(arguments)
    extracted = extract_request_text(data, "call_mcp_tool", max_chars=0)
    with pytest.raises(ValueError, match=r"mask|changed"):
        write_back_mcp_statement(data, extracted, "lookup", masked_statement)
