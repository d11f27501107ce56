"""MCP tool calls: the tool and its arguments checked, the arguments masked, the call decided.

LiteLLM runs MCP guardrails with mode `pre_mcp_call` (or `during_mcp_call`, beside the tool)
on a request it builds itself: `mcp_tool_name`, `mcp_arguments`, `mcp_server_name`. The check
is `mcp_check_input(<server>, "Tool: <name>\\nArguments: <JSON>")` (`request._rewrite`); a
masked answer is written back value by value and published as `modified_arguments`, the only
key LiteLLM applies to the tool call (pre_mcp_call only). An outage follows `fail_open`; a mask
that cannot be applied refuses the call (`redaction_failed`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException

from axonflow_guardrail._errors import ErrorCode, governance_error
from axonflow_guardrail._log import log
from axonflow_guardrail._settings import GuardrailSettings
from axonflow_guardrail.axonflow._client import AxonFlowClient, MaskResult
from axonflow_guardrail.axonflow._failures import AxonFlowFailure
from axonflow_guardrail.gates._pre_check import FailOpenPass, PreCheckGate
from axonflow_guardrail.request._identity import CallerIdentity
from axonflow_guardrail.request._rewrite import mcp_statement, write_back_mcp_statement
from axonflow_guardrail.request._text import extract_request_text
from axonflow_guardrail.request._trace import traceparent_of

__all__ = ["ToolCallGate", "ToolCallOutcome", "tool_call_target"]


def tool_call_target(data: Mapping[str, Any]) -> tuple[str, str, Any]:
    """The tool, its server and its arguments, as LiteLLM hands an MCP call to the hook."""
    tool = str(data.get("mcp_tool_name") or data.get("name") or "")
    server = str(data.get("mcp_server_name") or "mcp")
    return tool, server, data.get("mcp_arguments") or data.get("arguments") or {}


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCallOutcome:
    """What the check decided about one tool call, and what its audit record needs."""

    tool: str
    server: str
    #: The arguments as the tool receives them (masked when they were).
    arguments: Any
    duration_ms: int
    allowed: bool
    decision_id: str | None
    rewritten: dict[str, Any] | None = None
    refusal: HTTPException | None = None
    block_reason: str | None = None
    traceparent: str | None = None

    @property
    def succeeded(self) -> bool:
        """The tool will be called (allowed, and not refused for a failed mask)."""
        return self.allowed and self.refusal is None

    @property
    def error_message(self) -> str | None:
        """Why the tool was not called (the refusal's message), or the flag in audit mode."""
        if self.refusal is not None:
            detail = self.refusal.detail
            return str(detail.get("error")) if isinstance(detail, dict) else str(detail)
        return None if self.allowed else self.block_reason


class ToolCallGate:
    def __init__(
        self, *, client: AxonFlowClient, settings: GuardrailSettings, pre_checks: PreCheckGate
    ) -> None:
        self._client = client
        self._settings = settings
        self._pre_checks = pre_checks

    async def check(
        self, *, identity: CallerIdentity, data: dict[str, Any], call_id: str, can_rewrite: bool
    ) -> ToolCallOutcome | FailOpenPass:
        """Check the call; the refusal, if any, is in the outcome (raised after the audit)."""
        tool, server, arguments = tool_call_target(data)
        traceparent = traceparent_of(data)
        started = time.monotonic()
        try:
            result = await self._client.check_tool_input(
                server_name=server,
                tool_name=tool,
                statement=mcp_statement(tool, arguments),
                user_token=identity.user_token,
                user_id=identity.user_id,
                traceparent=traceparent,
            )
        except AxonFlowFailure as failure:
            return self._pre_checks.on_failure(failure, identity=identity, call_id=call_id)
        enforcing = identity.enforcement_mode == "enforce"
        rewritten: dict[str, Any] | None = None
        refusal: HTTPException | None = None
        if not result.allowed:
            if enforcing:
                refusal = governance_error(
                    ErrorCode.POLICY_DENIED,
                    result.block_reason or "Tool call blocked by governance policy",
                    decision_id=result.decision_id,
                    tool=tool,
                )
        elif (
            result.masked_text is not None
            and self._settings.redact_input
            and enforcing
            and can_rewrite  # pre_mcp_call: during_mcp_call runs beside the tool
        ):
            rewritten, refusal = self._masked(data, tool, result)
        return ToolCallOutcome(
            tool=tool,
            server=server,
            arguments=(rewritten or {}).get("mcp_arguments", arguments),
            duration_ms=int((time.monotonic() - started) * 1000),
            allowed=result.allowed,
            decision_id=result.decision_id,
            rewritten=rewritten,
            refusal=refusal,
            block_reason=result.block_reason,
            traceparent=traceparent,
        )

    def _masked(
        self, data: dict[str, Any], tool: str, result: MaskResult
    ) -> tuple[dict[str, Any] | None, HTTPException | None]:
        assert result.masked_text is not None
        try:
            if "mcp_arguments" not in data:
                raise ValueError("the request carries no mcp_arguments to rewrite")
            extracted = extract_request_text(
                data, "call_mcp_tool", max_chars=self._settings.max_check_chars
            )
            return write_back_mcp_statement(data, extracted, tool, result.masked_text), None
        except ValueError as exc:
            log.error("axonflow tool-argument redaction failed closed: %s", exc)
            return None, governance_error(
                ErrorCode.REDACTION_FAILED,
                "The tool call contains data that governance requires to be masked, and "
                f"masking could not be applied ({exc}); the tool was not called.",
                decision_id=result.decision_id,
                tool=tool,
            )
