"""The AxonFlow agent routes the guardrail uses: health, pre-check, audits, MCP checks.

Each answer has the shape the official SDK parses (see `/work/shared/axonflow-agent-api.md`):
a pre-check always carries `context_id`, `approved` and `expires_at` and never
`approved_data: null`; check-input/check-output answer a block as a 403 whose body the SDK
still parses; audits return the ids the SDK reads.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from aiohttp import web

from ._clock import rfc3339
from ._http import (
    CLIENT_KEY,
    ApiError,
    JsonObject,
    body_object,
    json_response,
    opt_bool,
    opt_int,
    opt_list,
    opt_object,
    opt_str,
    opt_str_list,
    req_str,
)
from ._log import log_debug_text, log_decision
from ._policies import ALL_ACTIONS, BLOCK_AND_REDACT, SEVERITIES, Evaluation, Policy, PolicySet
from ._state import AgentState
from ._trace import TRACEPARENT, trace_id_for

#: Content types check-input has a redaction detector for; others answer 415, as the platform.
SUPPORTED_CONTENT_TYPES = frozenset({"text/plain", "application/json"})
#: The marker the platform adds to a require_approval decision's policies.
HITL_MARKER = "hitl_enterprise"
MIN_SDK_PYTHON = "9.0.0"
RECOMMENDED_SDK_PYTHON = "9.5.0"
#: How deep response rows may nest (deeper answers 400 rather than exhausting the stack).
MAX_NESTING = 64


class CoreRoutes:
    """Handlers over the shared `AgentState` (policies are re-read on every request)."""

    def __init__(self, state: AgentState) -> None:
        self._state = state

    def register(self, app: web.Application) -> None:
        app.router.add_get("/health", self.health)
        app.router.add_post("/api/policy/pre-check", self.pre_check)
        app.router.add_post("/api/audit/llm-call", self.audit_llm_call)
        app.router.add_post("/api/v1/audit/tool-call", self.audit_tool_call)
        app.router.add_post("/api/v1/mcp/check-input", self.check_input)
        app.router.add_post("/api/v1/mcp/check-output", self.check_output)

    # ------------------------------------------------------------------ health

    async def health(self, request: web.Request) -> web.Response:
        state = self._state
        capabilities = [
            _capability("policy_pre_check", "1.0.0", "Gateway-mode policy pre-check"),
            _capability("audit_llm_call", "1.0.0", "Gateway-mode LLM call audit"),
            _capability("mcp_check_input", "7.1.0", "MCP input check with redaction"),
            _capability("mcp_check_output", "7.1.0", "MCP output check with redaction"),
            _capability("audit_tool_call", "9.0.0", "Tool call audit"),
        ]
        if state.enterprise:
            capabilities.append(_capability("hitl_queue", "9.0.0", "Human approval queue"))
        return json_response(
            {
                "status": "healthy",
                "service": "axonflow-agent",
                "version": state.version,
                "edition": state.config.edition,
                "emulator": {
                    "name": "axonflow-guardrail dev-agent",
                    "notice": "local emulator of the AxonFlow agent: not AxonFlow, "
                    "not for production",
                },
                "capabilities": capabilities,
                "sdk_compatibility": {
                    "min_sdk_version": {"python": MIN_SDK_PYTHON},
                    "recommended_sdk_version": {"python": RECOMMENDED_SDK_PYTHON},
                },
                "timestamp": rfc3339(state.clock.now()),
            }
        )

    # ------------------------------------------------------------------ pre-check

    async def pre_check(self, request: web.Request) -> web.Response:
        state = self._state
        body = body_object(request)
        query = opt_str(body, "query")
        if query is None or not query.strip():
            raise ApiError(400, "query field is required")
        req_str(body, "client_id")
        user_token = opt_str(body, "user_token")
        opt_str_list(body, "data_sources")
        opt_object(body, "context")
        if state.config.require_user_token and (
            not user_token or not user_token.strip() or user_token == "anonymous"
        ):
            raise ApiError(401, "Invalid user token")

        result = state.policies.evaluate((query,), phase="input", actions=ALL_ACTIONS)
        approvals = result.approvals if state.enterprise else []
        block_reason: str | None = None
        if approvals:
            verdict = "needs_approval"
            block_reason = "require_approval"
            policy_ids: list[str] | None = [p.id for p in approvals] + [HITL_MARKER]
        elif result.blocked_by is not None:
            verdict = "deny"
            block_reason = result.blocked_by.description
            policy_ids = [result.blocked_by.id]
        else:
            verdict = "allow"
            policy_ids = [p.id for p in result.matched] or None
        approval_request_id: str | None = None
        if approvals and state.config.v11_approvals:
            first = approvals[0]
            row, admitted = state.hitl.gate_pre_check(
                client_id=request[CLIENT_KEY],
                query=query,
                policy_id=first.id,
                policy_name=first.name,
                trigger_reason=first.description,
                severity=first.severity,
            )
            approval_request_id = row.request_id
            if admitted:
                verdict, block_reason = "allow", None
        approved = verdict == "allow"

        ctx = state.contexts.create(client_id=request[CLIENT_KEY], verdict=verdict)
        payload: JsonObject = {
            "context_id": ctx.context_id,
            "approved": approved,
            "requires_redaction": approved and bool(result.redactions),
            "policies": policy_ids,
            "expires_at": rfc3339(ctx.expires_at),
            "decision_id": str(uuid.uuid4()),
            "verdict": verdict,
            "trace_id": trace_id_for(request.headers.get(TRACEPARENT)),
        }
        if block_reason is not None:
            payload["block_reason"] = block_reason
        if approval_request_id is not None:
            payload["approval_request_id"] = approval_request_id
        log_decision(
            request,
            verdict=verdict,
            policies=policy_ids or (),
            context_id=ctx.context_id,
        )
        log_debug_text("query", query)
        return json_response(payload)

    # ------------------------------------------------------------------ audits

    async def audit_llm_call(self, request: web.Request) -> web.Response:
        state = self._state
        body = body_object(request)
        context_id = req_str(body, "context_id")
        req_str(body, "provider")
        req_str(body, "model")
        opt_str(body, "response_summary")
        usage = opt_object(body, "token_usage")
        if usage is not None:
            for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
                opt_int(usage, key, minimum=0)
        opt_int(body, "latency_ms", minimum=0)
        opt_object(body, "metadata")
        client_id: str = request[CLIENT_KEY]
        self._check_body_client(body, client_id)
        ctx = state.contexts.get_live(context_id)
        if ctx is None or ctx.client_id != client_id:
            raise ApiError(400, "Invalid or expired context")
        audit_id = state.audits.add(
            route="llm-call", client_id=client_id, body=body, now=state.clock.now()
        )
        log_decision(request, verdict="recorded", context_id=context_id, audit_id=audit_id)
        return json_response({"success": True, "audit_id": audit_id})

    async def audit_tool_call(self, request: web.Request) -> web.Response:
        state = self._state
        body = body_object(request)
        req_str(body, "tool_name")
        for key in ("caller_name", "tool_type", "workflow_id", "step_id", "user_id"):
            opt_str(body, key)
        opt_str(body, "error_message")
        opt_object(body, "input")
        opt_object(body, "output")
        opt_int(body, "duration_ms", minimum=0)
        opt_str_list(body, "policies_applied")
        opt_bool(body, "success")
        client_id: str = request[CLIENT_KEY]
        now = state.clock.now()
        audit_id = state.audits.add(route="tool-call", client_id=client_id, body=body, now=now)
        log_decision(request, verdict="recorded", audit_id=audit_id)
        return json_response(
            {"success": True, "audit_id": audit_id, "status": "recorded", "timestamp": rfc3339(now)}
        )

    @staticmethod
    def _check_body_client(body: JsonObject, client_id: str) -> None:
        body_client = opt_str(body, "client_id")
        if body_client and body_client != client_id:
            message = "client_id does not match the authenticated client"
            raise ApiError(403, message, extra={"message": message})

    # ------------------------------------------------------------------ MCP checks

    async def check_input(self, request: web.Request) -> web.Response:
        state = self._state
        body = body_object(request)
        req_str(body, "connector_type")
        statement = req_str(body, "statement")
        for key in ("operation", "tool", "client_id", "tenant_id", "user_id", "user_role"):
            opt_str(body, key)
        opt_str(body, "user_token")
        opt_object(body, "parameters")
        content_type = opt_str(body, "content_type")
        if content_type is not None:
            media = content_type.split(";", 1)[0].strip().lower()
            if media not in SUPPORTED_CONTENT_TYPES:
                raise ApiError(
                    415,
                    f"unsupported content_type {content_type!r}: no redaction detector for it "
                    f"(supported: {', '.join(sorted(SUPPORTED_CONTENT_TYPES))})",
                )

        result = state.policies.evaluate((statement,), phase="input", actions=BLOCK_AND_REDACT)
        decision_id = str(uuid.uuid4())
        log_debug_text("statement", statement)
        blocked = result.blocked_by
        if blocked is not None:
            log_decision(request, verdict="deny", policies=[blocked.id], decision_id=decision_id)
            return json_response(
                {
                    "allowed": False,
                    "block_reason": blocked.description,
                    "decision_id": decision_id,
                    "risk_level": blocked.severity,
                    "policies_evaluated": result.evaluated,
                    "policy_matches": [_explain(blocked)],
                    "policy_info": _policy_info(result, block_reason=blocked.description),
                    "redacted": False,
                    "redaction_evaluated": False,
                },
                status=403,
            )
        payload: JsonObject = {
            "allowed": True,
            "decision_id": decision_id,
            "risk_level": _risk(result.redactions),
            "policies_evaluated": result.evaluated,
            "policy_matches": [_explain(p) for p in result.redactions],
            "redacted": False,
            "redaction_evaluated": True,
        }
        count = 0
        if result.redactions:
            masked, count = PolicySet.redact(statement, result.redactions)
            if count:
                payload["redacted"] = True
                payload["redacted_statement"] = masked
        payload["policy_info"] = _policy_info(result, redactions=count)
        log_decision(
            request,
            verdict="redact" if count else "allow",
            policies=[p.id for p in result.redactions],
            decision_id=decision_id,
        )
        return json_response(payload)

    async def check_output(self, request: web.Request) -> web.Response:
        state = self._state
        body = body_object(request)
        req_str(body, "connector_type")
        message = opt_str(body, "message")
        rows = opt_list(body, "response_data")
        if rows is not None and not all(isinstance(row, dict) for row in rows):
            raise ApiError(400, "response_data must be a list of objects")
        if message is None and rows is None:
            raise ApiError(400, "message or response_data field is required")
        opt_object(body, "metadata")
        opt_int(body, "row_count", minimum=0)
        for key in ("tool", "client_id", "tenant_id", "user_id"):
            opt_str(body, key)
        opt_str(body, "user_token")

        texts = [message] if message is not None else []
        if rows is not None:
            texts.extend(_strings_in(rows))
        result = state.policies.evaluate(texts, phase="output", actions=BLOCK_AND_REDACT)
        decision_id = str(uuid.uuid4())
        if message is not None:
            log_debug_text("message", message)
        blocked = result.blocked_by
        if blocked is not None:
            reason = f"Response blocked: {blocked.description}"
            log_decision(request, verdict="deny", policies=[blocked.id], decision_id=decision_id)
            return json_response(
                {
                    "allowed": False,
                    "block_reason": reason,
                    "decision_id": decision_id,
                    "risk_level": blocked.severity,
                    "policies_evaluated": result.evaluated,
                    "policy_matches": [_explain(blocked)],
                    "policy_info": _policy_info(result, block_reason=reason),
                    "redaction_evaluated": False,
                },
                status=403,
            )
        payload: JsonObject = {
            "allowed": True,
            "decision_id": decision_id,
            "redacted_data": None,
            "policies_evaluated": result.evaluated,
            "policy_matches": [_explain(p) for p in result.redactions],
            "redaction_evaluated": True,
        }
        count = 0
        if result.redactions:
            counter = [0]
            masked_message = (
                _redact_counting(message, result.redactions, counter)
                if message is not None
                else None
            )
            masked_rows = (
                [_redact_value(row, result.redactions, counter) for row in rows]
                if rows is not None
                else None
            )
            count = counter[0]
            if count:
                payload["redacted_data"] = (
                    masked_rows if masked_rows is not None else masked_message
                )
                payload["redacted_message"] = masked_message
        payload["policy_info"] = _policy_info(result, redactions=count)
        log_decision(
            request,
            verdict="redact" if count else "allow",
            policies=[p.id for p in result.redactions],
            decision_id=decision_id,
        )
        return json_response(payload)


# ---------------------------------------------------------------------- helpers


def _capability(name: str, since: str, description: str) -> JsonObject:
    return {"name": name, "since": since, "description": description}


def _explain(policy: Policy) -> JsonObject:
    """A `policy_matches` entry (the SDK's `ExplainPolicy`)."""
    return {
        "policy_id": policy.id,
        "policy_name": policy.name,
        "action": policy.action,
        "risk_level": policy.severity,
        "allow_override": policy.allow_override,
        "policy_description": policy.description,
    }


def _policy_info(
    result: Evaluation, *, block_reason: str | None = None, redactions: int = 0
) -> JsonObject:
    """The SDK's `ConnectorPolicyInfo`."""
    return {
        "policies_evaluated": result.evaluated,
        "blocked": block_reason is not None,
        "block_reason": block_reason,
        "redactions_applied": redactions,
        "processing_time_ms": 0,
        "matched_policies": [
            {
                "policy_id": p.id,
                "policy_name": p.name,
                "category": p.category,
                "severity": p.severity,
                "action": p.action,
            }
            for p in result.matched
        ],
    }


def _risk(policies: Sequence[Policy]) -> str:
    if not policies:
        return "low"
    return max((p.severity for p in policies), key=SEVERITIES.index)


def _strings_in(value: Any, depth: int = 0) -> Iterator[str]:
    if depth > MAX_NESTING:
        raise ApiError(400, f"response_data is nested more than {MAX_NESTING} levels deep")
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings_in(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from _strings_in(item, depth + 1)


def _redact_counting(text: str, policies: Sequence[Policy], counter: list[int]) -> str:
    masked, count = PolicySet.redact(text, policies)
    counter[0] += count
    return masked


def _redact_value(value: Any, policies: Sequence[Policy], counter: list[int]) -> Any:
    if isinstance(value, str):
        return _redact_counting(value, policies, counter)
    if isinstance(value, dict):
        return {key: _redact_value(item, policies, counter) for key, item in value.items()}
    if isinstance(value, list):
        return [_redact_value(item, policies, counter) for item in value]
    return value
