"""What the LiteLLM release under test does differently, as `make compat` found it.

The end-to-end core runs unchanged against every release in the matrix (README
"Compatibility"); where LiteLLM itself behaves differently on older releases, the tests assert
the older behaviour there, named here once. The same differences are logged by the guardrail
at startup (`axonflow_guardrail._litellm_compat.DIFFERENCES`, whose release numbers these are).
"""

from __future__ import annotations

from importlib.metadata import version

from axonflow_guardrail._litellm_compat import DIFFERENCES

__all__ = [
    "ANTHROPIC_REFUSAL_ENVELOPE",
    "ANTHROPIC_STREAM_REFUSAL_ENVELOPE",
    "CHAT_STREAMS_CARRY_USAGE",
    "COMPLETIONS_REFUSALS_CARRY_CALL_ID",
    "MCP_HOOK_NAMES_SERVER",
    "MCP_REST_TAKES_SERVER_NAME",
    "MCP_TOOL_CALLS_CHECKED_ONCE",
    "MODEL_GUARDRAILS_SEE_PUBLIC_NAME",
    "RELEASE",
]


def _numbers(text: str) -> tuple[int, ...]:
    return tuple(int("".join(c for c in part if c.isdigit()) or 0) for part in text.split(".")[:3])


RELEASE = _numbers(version("litellm"))


def _behaves_new(name: str) -> bool:
    return DIFFERENCES[name].since <= RELEASE


#: /v1/messages refusals use Anthropic's error envelope (`type: error`) with the guardrail's
#: code; before, OpenAI's envelope with `code: "400"` and the message only.
ANTHROPIC_REFUSAL_ENVELOPE = _behaves_new("anthropic_refusal_envelope")
#: The same for a refused /v1/messages stream (refused before its first byte).
ANTHROPIC_STREAM_REFUSAL_ENVELOPE = _behaves_new("anthropic_stream_refusal_envelope")
#: A refused /v1/completions call answers with an `x-litellm-call-id` header.
COMPLETIONS_REFUSALS_CARRY_CALL_ID = _behaves_new("completions_refusal_call_id")
#: Chat streams end with a usage chunk without `stream_options.include_usage`; before, the
#: guardrail's audit estimates the tokens (`usage_estimated: true`).
CHAT_STREAMS_CARRY_USAGE = _behaves_new("chat_stream_usage")
#: A model-level guardrail sees the public model name; before, the deployment's
#: (`openai/<name>`), which then is the pre-check's context.model.
MODEL_GUARDRAILS_SEE_PUBLIC_NAME = _behaves_new("model_guardrail_public_name")
#: An MCP tool call runs the pre_mcp_call hook once; before, twice: first without the server's
#: name (connector type `mcp`), then with it; checked and audited twice.
MCP_TOOL_CALLS_CHECKED_ONCE = _behaves_new("mcp_hook_once")
#: LiteLLM passes the MCP server's name to the hook; before, checks and audits name the
#: connector `mcp`.
MCP_HOOK_NAMES_SERVER = _behaves_new("mcp_server_name")
#: /mcp-rest/tools/call takes the server's name as `server_id` (not a guardrail matter: seen
#: refused with 403 on 1.84.0, accepted on 1.94.1).
MCP_REST_TAKES_SERVER_NAME = RELEASE >= (1, 94, 1)
