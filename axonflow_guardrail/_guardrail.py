"""`AxonFlowGuardrail`: thin glue between LiteLLM Proxy's hooks and the governance modules.

- pre_call / during_call → `_pre_check` (decision, fail mode, input masking), `_approval_gate`
- post_call (non-streaming) → `_output_check`, then `_audit_sink`
- post_call (streaming) → `_stream_gate`, then `_audit_sink`
- failures after a pre-check → `_audit_sink`
- MCP tool calls (pre_mcp_call) → tool-input check, then `_audit_sink`

No hook lets a plain exception escape (LiteLLM would answer 500): an unexpected error is
logged with the call id and treated like AxonFlow being unavailable, so `fail_open` decides.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import time
from collections.abc import AsyncGenerator, Mapping
from typing import Any

from axonflow.types import AuditToolCallRequest
from fastapi import HTTPException
from litellm.integrations.custom_guardrail import CustomGuardrail
from litellm.types.guardrails import GuardrailEventHooks, LitellmParams

from axonflow_guardrail._approval_gate import ApprovalGate, GrantedApproval, approval_id_from
from axonflow_guardrail._audit_sink import AuditSink, LLMCallAudit, ToolCallAudit
from axonflow_guardrail._axonflow_client import (
    AxonFlowClient,
    AxonFlowFailure,
    FailureKind,
    PreCheckDecision,
    Verdict,
)
from axonflow_guardrail._call_state import REQUEST_ID_KEY, CallState, CallStateStore
from axonflow_guardrail._circuit_breaker import CircuitBreaker
from axonflow_guardrail._errors import ErrorCode, governance_error
from axonflow_guardrail._identity import CallerIdentity, resolve_identity, scrub_user_tokens
from axonflow_guardrail._litellm_compat import check_litellm_release
from axonflow_guardrail._log import log
from axonflow_guardrail._output_check import OutputGate, replace_response_text
from axonflow_guardrail._pre_check import FailOpenPass, PreCheckGate
from axonflow_guardrail._request_rewrite import (
    mcp_statement,
    write_back_mcp_statement,
)
from axonflow_guardrail._request_text import extract_request_text
from axonflow_guardrail._response_text import (
    extract_response_text,
    response_usage,
)
from axonflow_guardrail._settings import ConfigurationError, GuardrailSettings
from axonflow_guardrail._stream_gate import (
    anthropic_stream_refusal,
    estimate_usage,
    govern_stream,
)

__all__ = ["AxonFlowGuardrail"]


PROVIDER = "axonflow"
SUPPORTED_HOOKS = (
    GuardrailEventHooks.pre_call,
    GuardrailEventHooks.during_call,
    GuardrailEventHooks.post_call,
    GuardrailEventHooks.pre_mcp_call,
    GuardrailEventHooks.during_mcp_call,
)
_MCP_CALL_TYPES = frozenset({"call_mcp_tool"})
# Tool-catalog scans (LiteLLM runs MCP guardrails over listed tool descriptions): not a call,
# nothing reaches a model or a tool; not governed (see docs/routes.md).
_MCP_LISTING_CALL_TYPES = frozenset({"list_mcp_tools"})
_ANTHROPIC_CALL_TYPES = frozenset({"anthropic_messages", "aanthropic_messages"})
#: The audit summary of a response the client never received (it may hold what was blocked).
WITHHELD_SUMMARY = "[response withheld by governance]"
_SUMMARY_CHARS = 500

# Keyword arguments LiteLLM may pass that are its own, not ours.
_BASE_INIT_PARAMS = frozenset(
    name
    for name, p in inspect.signature(CustomGuardrail.__init__).parameters.items()
    if p.kind is not inspect.Parameter.VAR_KEYWORD and name != "self"
)
_LITELLM_KEYS = frozenset(LitellmParams.model_fields) | _BASE_INIT_PARAMS


def _stop_retrying_missing_otel() -> None:
    """Make LiteLLM's optional OTel import fail once, not on every guardrail record.

    `add_standard_logging_guardrail_information_to_request_data` imports
    `litellm.integrations.otel.logger` on every call (inside a try/except). Without
    `opentelemetry-sdk` (not part of `litellm[proxy]`) that import fails, and a failed import is
    retried in full each time: ~0.2 ms per governed request. Recording the failure in
    `sys.modules` makes later imports fail at once, which is what they did anyway.
    """
    name = "litellm.integrations.otel.logger"
    if name in sys.modules:
        return
    try:
        importlib.import_module(name)
    except ImportError:
        sys.modules[name] = None  # type: ignore[assignment]


def _modes(event_hook: Any) -> list[str]:
    hooks = event_hook if isinstance(event_hook, list) else [event_hook]
    return [str(getattr(h, "value", h)) for h in hooks if h is not None]


class AxonFlowGuardrail(CustomGuardrail):
    """AxonFlow governance for every request through LiteLLM Proxy.

    Configured entirely from the guardrail's `litellm_params` (see the README's table).
    """

    records_own_guardrail_information = True
    use_native_lifecycle_hooks = True

    def __init__(self, **kwargs: Any) -> None:
        settings_params = {k: v for k, v in kwargs.items() if k not in _BASE_INIT_PARAMS}
        self.settings = GuardrailSettings.from_litellm_params(
            settings_params, litellm_keys=_LITELLM_KEYS
        )
        modes = _modes(kwargs.get("event_hook"))
        supported = {h.value for h in SUPPORTED_HOOKS}
        unsupported = [m for m in modes if m not in supported]
        if unsupported:
            raise ConfigurationError(
                f"axonflow guardrail: 'mode' {unsupported} is not supported; "
                f"use any of {sorted(supported)}"
            )
        base_kwargs = {k: v for k, v in kwargs.items() if k in _BASE_INIT_PARAMS}
        try:
            super().__init__(**base_kwargs)
        except (ValueError, TypeError) as exc:  # LiteLLM would skip us silently
            raise ConfigurationError(f"axonflow guardrail: {exc}") from exc
        _stop_retrying_missing_otel()
        check_litellm_release(modes=modes)
        s = self.settings
        self.breaker = CircuitBreaker(
            failure_threshold=s.breaker_failure_threshold,
            recovery_seconds=s.breaker_recovery_seconds,
        )
        self.client = AxonFlowClient(
            endpoint=s.endpoint,
            client_id=s.client_id,
            client_secret=s.client_secret,
            tenant_id=s.tenant_id,
            call_timeout_seconds=s.call_timeout_seconds,
            breaker=self.breaker,
            # field_redact@1 only when masked text really replaces the original: pre_call
            # (requests) or pre_mcp_call (tool arguments); during_call cannot rewrite.
            declares_redaction=s.redact_input and bool({"pre_call", "pre_mcp_call"} & set(modes)),
        )
        self.pre_checks = PreCheckGate(client=self.client, settings=s)
        self.approvals = ApprovalGate(client=self.client, settings=s)
        self.outputs = OutputGate(client=self.client, settings=s)
        self.audits = AuditSink(
            client=self.client,
            queue_size=s.audit_queue_size,
            concurrency=s.audit_concurrency,
            send_timeout_seconds=max(s.call_timeout_seconds, 10.0),
        )
        self.calls = CallStateStore(key=f"{REQUEST_ID_KEY}:{self.guardrail_name}")
        # Audits and output checks run in post-call hooks. Without post_call in the mode no
        # hook would ever take a call's state, so none is kept (and nothing is audited).
        self._keeps_call_state = "post_call" in modes
        if not self._keeps_call_state:
            log.warning(
                "axonflow guardrail %r: mode has no post_call, so calls are pre-checked but "
                "NOT audited and outputs are not checked",
                self.guardrail_name,
            )
        if "during_call" in modes and "pre_call" not in modes and s.redact_input:
            log.warning(
                "axonflow guardrail %r: mode during_call runs in parallel with the LLM call, "
                "so input redaction cannot apply: text a policy wants masked reaches the model "
                "unmasked (add pre_call to mask it)",
                self.guardrail_name,
            )
        log.info(
            "axonflow guardrail %r ready: endpoint=%s client_id=%s mode=%s fail_open=%s "
            "enforcement=%s",
            self.guardrail_name,
            s.endpoint,
            s.client_id,
            ",".join(modes) or "-",
            s.fail_open,
            s.enforcement_mode,
        )

    # ------------------------------------------------------------------ pre-call

    async def async_pre_call_hook(
        self, user_api_key_dict: Any, cache: Any, data: dict[str, Any], call_type: str
    ) -> dict[str, Any] | None:
        return await self._guarded_pre_call(
            user_api_key_dict, cache, data, call_type, hook=GuardrailEventHooks.pre_call
        )

    async def async_moderation_hook(
        self, data: dict[str, Any], user_api_key_dict: Any, call_type: Any
    ) -> Any:
        """during_call: the same decision, in parallel with the LLM call (no rewrite)."""
        await self._guarded_pre_call(
            user_api_key_dict, None, data, str(call_type), hook=GuardrailEventHooks.during_call
        )
        return None

    async def _guarded_pre_call(
        self,
        user_api_key_dict: Any,
        cache: Any,
        data: dict[str, Any],
        call_type: str,
        *,
        hook: GuardrailEventHooks,
    ) -> dict[str, Any] | None:
        started = time.time()
        call_id = str(data.get("litellm_call_id") or "")
        try:
            if call_type in _MCP_LISTING_CALL_TYPES:
                return None
            if call_type in _MCP_CALL_TYPES:
                return await self._pre_mcp_call(user_api_key_dict, data, call_id, started, hook)
            return await self._pre_call(
                user_api_key_dict, cache, data, call_type, call_id, started, hook
            )
        except HTTPException as exc:
            self._record(data, "guardrail_intervened", _detail(exc), started, hook)
            raise
        except Exception as exc:  # a bug must never become a 500
            log.exception("axonflow guardrail internal error; call_id=%s", call_id)
            failure = AxonFlowFailure(
                FailureKind.UNAVAILABLE, f"guardrail internal error: {type(exc).__name__}"
            )
            identity = _fallback_identity(self.settings)
            passed = self.pre_checks.on_failure(failure, identity=identity, call_id=call_id)
            self._record(data, "guardrail_failed_to_respond", _pass_info(passed), started, hook)
            return None

    async def _pre_call(
        self,
        user_api_key_dict: Any,
        cache: Any,
        data: dict[str, Any],
        call_type: str,
        call_id: str,
        started: float,
        hook: GuardrailEventHooks,
    ) -> dict[str, Any] | None:
        identity = resolve_identity(
            user_api_key_dict=user_api_key_dict, data=data, settings=self.settings
        )
        scrub_user_tokens(data)
        if identity.enforcement_mode == "off":
            self._record(data, "not_run", {"enforcement": "off"}, started, hook)
            return None
        if not self.breaker.admits():
            # Decided before any other work: an outage must cost (almost) nothing per request.
            passed = self.pre_checks.on_failure(
                AxonFlowFailure(FailureKind.UNAVAILABLE, "circuit breaker open", breaker_open=True),
                identity=identity,
                call_id=call_id,
            )
            self._record(data, "guardrail_failed_to_respond", _pass_info(passed), started, hook)
            return None

        extracted = extract_request_text(data, call_type, max_chars=self.settings.max_check_chars)
        if extracted.truncated and identity.enforcement_mode == "enforce":
            raise governance_error(
                ErrorCode.REQUEST_TOO_LARGE,
                f"The request's text ({extracted.total_chars} characters) exceeds what the "
                f"governance layer checks ({self.settings.max_check_chars}); it was not sent.",
            )
        query = extracted.joined()
        model = str(data.get("model") or "")
        route = _route(user_api_key_dict, data)
        context = self.pre_checks.context_for(
            identity=identity,
            model=model,
            route=route,
            call_type=call_type,
            litellm_call_id=call_id,
        )

        # A re-sent held request: checked now, spent only once it is allowed to go on, so a
        # transient failure below does not burn the approval.
        granted: GrantedApproval | None = None
        presented_id = approval_id_from(data)
        if presented_id is not None and identity.enforcement_mode == "enforce":
            granted = await self.approvals.redeem(
                approval_id=presented_id, identity=identity, prompt=query, cache=cache
            )
            context["approval_request_id"] = granted.approval_id

        try:
            decision = await self.pre_checks.decide(identity=identity, query=query, context=context)
        except AxonFlowFailure as failure:
            passed = self.pre_checks.on_failure(failure, identity=identity, call_id=call_id)
            if granted is not None:
                await self.approvals.spend(granted, cache=cache, call_id=call_id)
            self._record(data, "guardrail_failed_to_respond", _pass_info(passed), started, hook)
            return None

        would_have_blocked = False
        rewritten: dict[str, Any] | None = None
        if decision.verdict is Verdict.DENY:
            error = self.pre_checks.refuse(decision, identity=identity, call_id=call_id)
            if error is not None:
                raise error
            would_have_blocked = True
        elif decision.verdict is Verdict.NEEDS_APPROVAL and granted is None:
            if identity.enforcement_mode == "audit":
                would_have_blocked = True
            else:
                granted = await self.approvals.hold(
                    decision=decision,
                    identity=identity,
                    prompt=query,
                    model=model,
                    call_id=call_id,
                    call_type=call_type,
                    cache=cache,
                )
                # Whatever the fresh pre-check answers short of deny (require_approval again
                # included: this very prompt was approved), the request goes on: no loop.
                decision = await self._fresh_pre_check(
                    identity, query, context, granted.approval_id, call_id
                )
        if (
            decision.verdict is Verdict.REDACT
            and self.settings.redact_input
            and identity.enforcement_mode == "enforce"  # audit mode never rewrites
            and hook is GuardrailEventHooks.pre_call
        ):
            rewritten = await self.pre_checks.masked_request(
                data=data, extracted=extracted, identity=identity, decision=decision
            )
        if granted is not None:
            await self.approvals.spend(granted, cache=cache, call_id=call_id)
        approval_id = granted.approval_id if granted is not None else None

        target = rewritten if rewritten is not None else data
        state = CallState(
            request_id=CallStateStore.new_request_id(),
            litellm_call_id=call_id,
            call_type=call_type,
            model=model,
            route=route,
            identity=identity,
            decision=decision,
            enforcement=identity.enforcement_mode,
            would_have_blocked=would_have_blocked,
            approval_id=approval_id,
            redacted=rewritten is not None,
        )
        if self._keeps_call_state:
            self.calls.put(target, state)
        self._record(
            target,
            "guardrail_flagged" if would_have_blocked else "success",
            _decision_info(decision, state),
            started,
            hook,
        )
        return rewritten

    async def _fresh_pre_check(
        self,
        identity: CallerIdentity,
        query: str,
        context: dict[str, Any],
        approval_id: str,
        call_id: str,
    ) -> PreCheckDecision:
        """After an approval: a new context to audit against (the first one may have expired)."""
        context = {**context, "approval_request_id": approval_id}
        try:
            decision = await self.pre_checks.decide(identity=identity, query=query, context=context)
        except AxonFlowFailure as failure:
            # The reviewer approved this very prompt; only a refusal stops it now.
            if failure.kind is FailureKind.REJECTED:
                self.pre_checks.on_failure(failure, identity=identity, call_id=call_id)
            raise governance_error(
                ErrorCode.GOVERNANCE_UNAVAILABLE,
                f"Approved, but governance could not confirm the request ({failure.reason}); "
                f"re-send it with the approval id.",
                approval_request_id=approval_id,
            ) from None
        if decision.verdict is Verdict.DENY:
            error = self.pre_checks.refuse(decision, identity=identity, call_id=call_id)
            if error is not None:
                raise error
        return decision

    async def _pre_mcp_call(
        self,
        user_api_key_dict: Any,
        data: dict[str, Any],
        call_id: str,
        started: float,
        hook: GuardrailEventHooks,
    ) -> dict[str, Any] | None:
        """An MCP tool call: check tool and arguments, audit it, mask the arguments if told to.

        Returns the request with masked arguments (LiteLLM applies `modified_arguments`), or
        None. Masking applies in pre_mcp_call only (during_mcp_call runs beside the tool).
        """
        event = (
            GuardrailEventHooks.pre_mcp_call
            if hook is GuardrailEventHooks.pre_call
            else GuardrailEventHooks.during_mcp_call
        )
        identity = resolve_identity(
            user_api_key_dict=user_api_key_dict, data=data, settings=self.settings
        )
        scrub_user_tokens(data)
        if identity.enforcement_mode == "off":
            return None
        tool = str(data.get("mcp_tool_name") or data.get("name") or "")
        server = str(data.get("mcp_server_name") or "mcp")
        arguments = data.get("mcp_arguments") or data.get("arguments") or {}
        statement = mcp_statement(tool, arguments)
        tool_started = time.monotonic()
        try:
            result = await self.client.check_tool_input(
                server_name=server,
                tool_name=tool,
                statement=statement,
                user_token=identity.user_token,
                user_id=identity.user_id,
            )
        except AxonFlowFailure as failure:
            passed = self.pre_checks.on_failure(failure, identity=identity, call_id=call_id)
            self._record(data, "guardrail_failed_to_respond", _pass_info(passed), started, event)
            return None
        rewritten: dict[str, Any] | None = None
        refusal: HTTPException | None = None
        if not result.allowed:
            if identity.enforcement_mode == "enforce":
                refusal = governance_error(
                    ErrorCode.POLICY_DENIED,
                    result.block_reason or "Tool call blocked by governance policy",
                    decision_id=result.decision_id,
                    tool=tool,
                )
        elif (
            result.masked_text is not None
            and self.settings.redact_input
            and identity.enforcement_mode == "enforce"
            and event is GuardrailEventHooks.pre_mcp_call
        ):
            try:
                if "mcp_arguments" not in data:
                    raise ValueError("the request carries no mcp_arguments to rewrite")
                extracted = extract_request_text(
                    data, "call_mcp_tool", max_chars=self.settings.max_check_chars
                )
                rewritten = write_back_mcp_statement(data, extracted, tool, result.masked_text)
            except ValueError as exc:
                log.error("axonflow tool-argument redaction failed closed: %s", exc)
                refusal = governance_error(
                    ErrorCode.REDACTION_FAILED,
                    "The tool call contains data that governance requires to be masked, and "
                    f"masking could not be applied ({exc}); the tool was not called.",
                    decision_id=result.decision_id,
                    tool=tool,
                )
        self.audits.submit(
            ToolCallAudit(
                call_id=call_id,
                request=AuditToolCallRequest(
                    tool_name=tool or "unknown",
                    caller_name="litellm-proxy",
                    tool_type="mcp",
                    input={
                        "server": server,
                        "arguments": (rewritten or {}).get("mcp_arguments", arguments),
                    },
                    user_id=identity.user_id,
                    duration_ms=int((time.monotonic() - tool_started) * 1000),
                    policies_applied=None,
                    success=result.allowed and refusal is None,
                    error_message=_detail(refusal).get("error")
                    if refusal is not None
                    else (None if result.allowed else result.block_reason),
                ),
            )
        )
        if refusal is not None:
            raise refusal
        info: dict[str, Any] = {"decision_id": result.decision_id, "tool": tool}
        if rewritten is not None:
            info["input_redacted"] = True
        target = rewritten if rewritten is not None else data
        self._record(
            target, "success" if result.allowed else "guardrail_flagged", info, started, event
        )
        return rewritten

    # ------------------------------------------------------------------ post-call

    async def async_post_call_success_hook(
        self, data: dict[str, Any], user_api_key_dict: Any, response: Any
    ) -> Any:
        state = self.calls.take(data)
        if state is None:
            return response
        outcome = "success"
        try:
            if self.settings.check_output and state.enforcement != "off":
                verdict = await self.outputs.check(extract_response_text(response), state=state)
                if verdict.masked_text is not None and not replace_response_text(
                    response, verdict.masked_text
                ):
                    raise governance_error(
                        ErrorCode.REDACTION_FAILED,
                        "The response must be masked and its format cannot carry the masked "
                        "text; it was withheld.",
                        decision_id=verdict.decision_id,
                    )
        except HTTPException:
            outcome = "blocked"
            raise
        except Exception:
            log.exception("axonflow output check failed; call_id=%s", state.litellm_call_id)
            if not self.settings.fail_open:
                outcome = "blocked"
                raise governance_error(
                    ErrorCode.GOVERNANCE_UNAVAILABLE, "The response could not be checked."
                ) from None
        finally:
            summary = WITHHELD_SUMMARY if outcome == "blocked" else None
            self._audit(state, response=response, outcome=outcome, summary=summary)
        return response

    async def async_post_call_streaming_iterator_hook(
        self, user_api_key_dict: Any, response: Any, request_data: dict[str, Any]
    ) -> AsyncGenerator[Any, None]:
        state = self.calls.take(request_data)
        if state is None:
            async for chunk in response:
                yield chunk
            return

        async def check(text: str) -> str | None:
            return (await self.outputs.check(text, state=state)).masked_text

        def done(chunks: list[Any], outcome: str) -> None:
            estimated = None
            if chunks and not any(response_usage(chunks)):  # e.g. /v1/completions streams
                estimated = estimate_usage(
                    state.model,
                    extract_request_text(request_data, state.call_type, max_chars=0).joined(),
                    extract_response_text(chunks),
                )
            self._audit(
                state,
                response=chunks,
                outcome=outcome,
                summary=WITHHELD_SUMMARY if outcome == "blocked" else None,
                estimated_usage=estimated,
            )

        hold = self.settings.check_output and state.enforcement != "off"
        relayed = False
        try:
            async for chunk in govern_stream(response, hold=hold, check=check, on_done=done):
                relayed = True
                yield chunk
        except HTTPException as exc:
            if hold and not relayed and state.call_type in _ANTHROPIC_CALL_TYPES:
                # /v1/messages: the same Anthropic error a non-streaming refusal gets.
                raise anthropic_stream_refusal(
                    exc, guardrail_name=self.guardrail_name, mode=self.event_hook
                ) from None
            raise

    async def async_post_call_failure_hook(
        self,
        request_data: dict[str, Any],
        original_exception: Exception,
        user_api_key_dict: Any,
        traceback_str: str | None = None,
    ) -> HTTPException | None:
        """Audit LLM calls that failed after a pre-check; ignore every other request."""
        state = self.calls.take(request_data)
        if state is not None:
            status = getattr(original_exception, "status_code", None)
            self._audit(
                state,
                response=None,
                outcome="llm_error",
                summary=f"LLM call failed: {type(original_exception).__name__}"
                + (f" (HTTP {status})" if status else ""),
            )
        return None

    # ------------------------------------------------------------------ helpers

    def _audit(
        self,
        state: CallState,
        *,
        response: Any,
        outcome: str,
        summary: str | None = None,
        estimated_usage: tuple[int, int, int] | None = None,
    ) -> None:
        """Queue the call's audit record. Never raises, never waits."""
        try:
            text = summary if summary is not None else extract_response_text(response)
            usage = response_usage(response) if response is not None else (0, 0, 0)
            if estimated_usage is not None:
                usage = estimated_usage
            latency_ms = int((time.monotonic() - state.checked_at) * 1000)
            metadata: dict[str, Any] = {
                "outcome": outcome,
                "call_type": state.call_type,
                "route": state.route,
                "enforcement": state.enforcement,
                "guardrail": self.guardrail_name,
                "user_token_source": state.identity.user_token_source,
            }
            if state.would_have_blocked:
                metadata["would_have_blocked"] = True
            if state.approval_id:
                metadata["approval_request_id"] = state.approval_id
            if state.redacted:
                metadata["input_redacted"] = True
            if estimated_usage is not None:
                metadata["usage_estimated"] = True
            self.audits.submit(
                LLMCallAudit(
                    call_id=state.litellm_call_id or state.request_id,
                    context_id=state.decision.context_id,
                    provider=_provider_of(response, state.model),
                    model=_model_of(response, state.model),
                    usage=usage,
                    latency_ms=latency_ms,
                    response_summary=text[:_SUMMARY_CHARS],
                    metadata={**metadata, "axonflow_request_id": state.request_id},
                )
            )
        except Exception:
            log.exception("axonflow audit could not be queued; call_id=%s", state.litellm_call_id)

    def _record(
        self,
        data: dict[str, Any],
        status: Any,
        info: Mapping[str, Any],
        started: float,
        hook: GuardrailEventHooks,
    ) -> None:
        """Record the decision as LiteLLM guardrail information (logs, spend logs, callbacks)."""
        try:
            ended = time.time()
            self.add_standard_logging_guardrail_information_to_request_data(
                guardrail_json_response=dict(info),
                request_data=data,
                guardrail_status=status,
                start_time=started,
                end_time=ended,
                duration=ended - started,
                guardrail_provider=PROVIDER,
                event_type=hook,
            )
        except Exception:
            log.debug("axonflow: could not record guardrail information", exc_info=True)


def _detail(exc: HTTPException) -> dict[str, Any]:
    detail = exc.detail if isinstance(exc.detail, dict) else {"error": str(exc.detail)}
    return {**detail, "http_status": exc.status_code}


def _pass_info(passed: FailOpenPass) -> dict[str, Any]:
    return {
        "fail_open": True,
        "warning": f"request passed WITHOUT a governance decision: {passed.reason}",
        "breaker_open": passed.breaker_open,
    }


def _decision_info(decision: PreCheckDecision, state: CallState) -> dict[str, Any]:
    info: dict[str, Any] = {
        "verdict": decision.verdict.value,
        "policies": list(decision.policies),
        "decision_id": decision.decision_id,
        "context_id": decision.context_id,
        "enforcement": state.enforcement,
    }
    if state.would_have_blocked:
        info["would_have_blocked"] = True
    if state.redacted:
        info["input_redacted"] = True
    if state.approval_id:
        info["approval_request_id"] = state.approval_id
    return info


def _fallback_identity(settings: GuardrailSettings) -> CallerIdentity:
    return CallerIdentity(
        user_token=settings.default_user_token,
        user_token_source="default",
        enforcement_mode=settings.enforcement_mode,
        enforcement_source="guardrail",
    )


def _route(user_api_key_dict: Any, data: Mapping[str, Any]) -> str | None:
    route = getattr(user_api_key_dict, "request_route", None)
    if isinstance(route, str) and route:
        return route
    psr = data.get("proxy_server_request")
    url = psr.get("url") if isinstance(psr, Mapping) else None
    if isinstance(url, str) and "://" in url:
        return "/" + url.split("://", 1)[1].split("/", 1)[-1].split("?", 1)[0]
    return None


def _hidden(response: Any) -> Mapping[str, Any]:
    hidden = getattr(response, "_hidden_params", None)
    return hidden if isinstance(hidden, Mapping) else {}


def _provider_of(response: Any, model: str) -> str:
    provider = _hidden(response).get("custom_llm_provider")
    if isinstance(provider, str) and provider:
        return provider
    return model.split("/", 1)[0] if "/" in model else "litellm"


def _model_of(response: Any, model: str) -> str:
    value = getattr(response, "model", None)
    if isinstance(response, Mapping):
        value = response.get("model")
    return value if isinstance(value, str) and value else (model or "unknown")
