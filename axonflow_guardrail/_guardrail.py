"""`AxonFlowGuardrail`: LiteLLM Proxy's hooks, read as the request's journey.

Before the model: **identify** the caller (`request._identity`), **read** the whole request
and refuse what cannot be checked (`gates._admission`), **admit** it past the pre-check's
breaker, **decide** with AxonFlow (`gates._pre_check`), **hold** it for a reviewer when a
policy asks (`gates.approvals`), **mask** what must not reach the model (`gates._masking`),
**remember** what was decided (`audit._call_state`), and **record** the decision once,
whatever the path: LiteLLM's logging, the decisions metric, the applied-guardrails header
(`audit._litellm_record`; a pass that changed nothing reaches LiteLLM's logs just after
LiteLLM's shadow-eval snapshot, `audit._deferred_record`). Every room reports to the
guardrail's metrics (`observe/`).

After the model: **check the output** (`gates._output_check`, `gates._stream_gate`) and
**audit** the call, off the response path (`audit._records`, `audit._sink`). MCP tool calls
(`gates._tool_calls`) and the routes LiteLLM runs no hook on (`gates._unhooked_routes`) take
the same stages.

No hook lets a plain exception escape (LiteLLM would answer 500): a request that cannot be
checked is the client's 400, a failure of AxonFlow follows `fail_open`, and the guardrail's own
bug fails closed (`PreCheckGate.on_internal_error`).
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Mapping
from typing import Any

from fastapi import HTTPException
from litellm.integrations.custom_guardrail import CustomGuardrail
from litellm.types.guardrails import GuardrailEventHooks

from axonflow_guardrail._errors import ErrorCode, governance_error
from axonflow_guardrail._litellm_compat import check_litellm_release
from axonflow_guardrail._settings import ConfigurationError
from axonflow_guardrail._startup import (
    log_ready,
    read_configuration,
    stop_retrying_missing_otel,
    warn_about_modes,
)
from axonflow_guardrail.audit._call_state import REQUEST_ID_KEY, CallState, CallStateStore
from axonflow_guardrail.audit._deferred_record import PENDING_KEY, DeferredRecords
from axonflow_guardrail.audit._litellm_record import GuardrailRecorder, Recorded
from axonflow_guardrail.audit._outbox_setup import build_audit_sink
from axonflow_guardrail.audit._records import (
    WITHHELD_SUMMARY,
    llm_call_audit,
    stream_audit,
    tool_call_audit,
)
from axonflow_guardrail.axonflow._breakers import Breakers
from axonflow_guardrail.axonflow._client import AxonFlowClient, Verdict
from axonflow_guardrail.gates._admission import not_checkable, read_request
from axonflow_guardrail.gates._masking import InputMasking
from axonflow_guardrail.gates._output_check import OutputCall, OutputGate
from axonflow_guardrail.gates._pre_check import FailOpenPass, PreCheckGate
from axonflow_guardrail.gates._stream_gate import anthropic_stream_refusal, govern_stream
from axonflow_guardrail.gates._tool_calls import ToolCallGate, tool_call_target
from axonflow_guardrail.gates._unhooked_routes import (
    UnhookedRouteGate,
    install_route_guard,
    log_ungoverned_features,
    should_govern,
)
from axonflow_guardrail.gates.approvals import ApprovalGate
from axonflow_guardrail.observe._prometheus import GuardrailMetrics
from axonflow_guardrail.request._extracted import RequestNotCheckable
from axonflow_guardrail.request._floor import opt_out_overridden
from axonflow_guardrail.request._governed import GovernedRequest, route_of
from axonflow_guardrail.request._identity import CallerIdentity, resolve_identity, scrub_user_tokens
from axonflow_guardrail.request._token_logs import install_log_scrub
from axonflow_guardrail.request._trace import traceparent_of

__all__ = ["AxonFlowGuardrail"]

_MCP_CALL_TYPES = frozenset({"call_mcp_tool"})
# Tool-catalog scans (LiteLLM runs MCP guardrails over listed tool descriptions): not a call,
# nothing reaches a model or a tool; not governed (see docs/routes.md).
_MCP_LISTING_CALL_TYPES = frozenset({"list_mcp_tools"})
_ANTHROPIC_CALL_TYPES = frozenset({"anthropic_messages", "aanthropic_messages"})
#: How a pre-call journey ends: LiteLLM's record of it (None: nothing to record), and the
#: rewritten request if any.
Journey = tuple[Recorded | None, dict[str, Any] | None]


class AxonFlowGuardrail(CustomGuardrail):
    """AxonFlow governance for every request through LiteLLM Proxy.

    Configured entirely from the guardrail's `litellm_params` (see the README's table).
    """

    records_own_guardrail_information = True
    use_native_lifecycle_hooks = True

    def __init__(self, **kwargs: Any) -> None:
        self.settings, modes, base_kwargs = read_configuration(kwargs)
        try:
            super().__init__(**base_kwargs)
        except (ValueError, TypeError) as exc:  # LiteLLM would skip us silently
            raise ConfigurationError(f"axonflow guardrail: {exc}") from exc
        s, name = self.settings, str(self.guardrail_name)
        stop_retrying_missing_otel()
        check_litellm_release(modes=sorted(modes))
        install_log_scrub()
        self.metrics = metrics = GuardrailMetrics(guardrail=name)
        self.breakers = Breakers.create(
            failure_threshold=s.breaker_failure_threshold,
            recovery_seconds=s.breaker_recovery_seconds,
            events=metrics,
        )
        self.client = AxonFlowClient(
            endpoint=s.endpoint,
            client_id=s.client_id,
            client_secret=s.client_secret,
            tenant_id=s.tenant_id,
            call_timeout_seconds=s.call_timeout_seconds,
            breakers=self.breakers,
            # field_redact@1 only when masked text really replaces the original: pre_call
            # (requests) or pre_mcp_call (tool arguments); during_call cannot rewrite.
            declares_redaction=s.redact_input and bool({"pre_call", "pre_mcp_call"} & modes),
            events=metrics,
        )
        self.pre_checks = PreCheckGate(client=self.client, settings=s)
        self.masking = InputMasking(client=self.client, settings=s)
        self.approvals = ApprovalGate(client=self.client, settings=s, events=metrics)
        self.tool_calls = ToolCallGate(client=self.client, settings=s, pre_checks=self.pre_checks)
        self.outputs = OutputGate(client=self.client, settings=s)
        self.unhooked_routes = UnhookedRouteGate(settings=s, pre_checks=self.pre_checks)
        self.audits = build_audit_sink(s, client=self.client, channel=name, events=metrics)
        self.calls = CallStateStore(key=f"{REQUEST_ID_KEY}:{name}")
        self._recorder = GuardrailRecorder(self, events=metrics)
        # Unchanged requests' entries wait past LiteLLM's shadow-eval snapshot; only where a
        # post-call hook is sure to follow (`audit._deferred_record`).
        self._deferred = DeferredRecords(
            recorder=self._recorder, key=f"{PENDING_KEY}:{name}", enabled="post_call" in modes
        )
        self._modes = modes
        # Audits and output checks run in post-call hooks: without post_call no hook would
        # ever take a call's state, so none is kept (and nothing is audited).
        self._keeps_call_state = "post_call" in modes
        warn_about_modes(name, modes, s)
        if {"pre_call", "during_call"} & modes and install_route_guard(self):
            log_ungoverned_features(name)
        log_ready(name, s, modes)

    def should_run_guardrail(self, data: Any, event_type: GuardrailEventHooks) -> bool:
        """LiteLLM's decision, except that an enforcement floor overrides a non-exempt caller's
        opt-out (`request._floor`)."""
        if super().should_run_guardrail(data, event_type):
            return True
        kept = opt_out_overridden(self, data, self.settings)
        return kept is not None and bool(super().should_run_guardrail(kept, event_type))

    # ------------------------------------------------------------------ before the model

    async def async_pre_call_hook(
        self, user_api_key_dict: Any, cache: Any, data: dict[str, Any], call_type: str
    ) -> dict[str, Any] | None:
        return await self._pre_call(
            user_api_key_dict, cache, data, call_type, GuardrailEventHooks.pre_call
        )

    async def async_moderation_hook(
        self, data: dict[str, Any], user_api_key_dict: Any, call_type: Any
    ) -> Any:
        """during_call: the same decision, in parallel with the LLM call (no rewrite)."""
        await self._pre_call(
            user_api_key_dict, None, data, str(call_type), GuardrailEventHooks.during_call
        )
        return None

    async def _pre_call(
        self,
        auth: Any,
        cache: Any,
        data: dict[str, Any],
        call_type: str,
        hook: GuardrailEventHooks,
    ) -> dict[str, Any] | None:
        """Every pre-call path ends in one `Recorded` outcome, recorded here and only here."""
        if call_type in _MCP_LISTING_CALL_TYPES:
            return None
        started, call_id = time.time(), str(data.get("litellm_call_id") or "")
        tool_call = call_type in _MCP_CALL_TYPES
        if tool_call:
            hook = _tool_hook(hook)
        identity: CallerIdentity | None = None
        recorded: Recorded | None = None
        rewritten: dict[str, Any] | None = None
        try:
            identity = self._identify(auth, data)
            if tool_call:
                recorded, rewritten = await self._tool_call(identity, data, call_id, hook)
            else:
                recorded, rewritten = await self._llm_call(
                    identity, auth, cache, data, call_type, call_id, hook
                )
            return rewritten
        except HTTPException as refusal:
            recorded = Recorded.refused(refusal)
            raise
        except RequestNotCheckable as exc:
            error = not_checkable(exc, call_id)
            recorded = Recorded.refused(error)
            raise error from None
        except Exception as exc:  # a bug must never become a 500, nor an unchecked pass
            outcome = self.pre_checks.on_internal_error(exc, identity=identity, call_id=call_id)
            if isinstance(outcome, HTTPException):
                recorded = Recorded.refused(outcome)
                raise outcome from None
            recorded = Recorded.failed_open(outcome)
            return None
        finally:
            if recorded is not None:
                self._deferred.record(
                    data, recorded, started=started, hook=hook, rewritten=rewritten
                )

    def _identify(self, auth: Any, data: dict[str, Any]) -> CallerIdentity:
        """Who calls and how strictly to govern them; their tokens out of LiteLLM's logs."""
        identity = resolve_identity(user_api_key_dict=auth, data=data, settings=self.settings)
        scrub_user_tokens(data)
        return identity

    async def _llm_call(
        self,
        identity: CallerIdentity,
        auth: Any,
        cache: Any,
        data: dict[str, Any],
        call_type: str,
        call_id: str,
        hook: GuardrailEventHooks,
    ) -> Journey:
        if identity.enforcement_mode == "off":
            return Recorded.not_run(), None
        request = read_request(
            data=data,
            call_type=call_type,
            call_id=call_id,
            route=route_of(auth, data),
            identity=identity,
            settings=self.settings,
        )
        self._refuse_if_audits_cannot_be_kept(identity)
        passed = self.pre_checks.admit(request)
        if passed is not None:
            return self._passed_ungoverned(data, request, passed), None
        granted = await self.approvals.resume(request, cache=cache)
        checked = await self.pre_checks.check(
            request, approval_id=granted.approval_id if granted else None
        )
        if isinstance(checked, FailOpenPass):
            await self.approvals.spend(granted, cache=cache, call_id=call_id)
            return self._passed_ungoverned(data, request, checked), None
        decision = checked.decision
        if decision.verdict is Verdict.NEEDS_APPROVAL and granted is None and request.enforcing:
            granted = await self.approvals.hold_for(request, decision)
            decision = await self.pre_checks.confirm_approved(
                request, approval_id=granted.approval_id
            )
        rewritten = await self.masking.mask(
            request, decision, can_rewrite=hook is GuardrailEventHooks.pre_call
        )
        await self.approvals.spend(granted, cache=cache, call_id=call_id)
        state = self.calls.remember(
            rewritten if rewritten is not None else data,
            request=request,
            decision=decision,
            would_have_blocked=checked.would_have_blocked,
            approval_id=granted.approval_id if granted else None,
            redacted=rewritten is not None,
            keep=self._keeps_call_state,
        )
        return Recorded.decided(decision, state), rewritten

    async def _tool_call(
        self, identity: CallerIdentity, data: dict[str, Any], call_id: str, hook: Any
    ) -> Journey:
        """An MCP tool call: checked, audited at once (no post-call hook follows), decided."""
        if identity.enforcement_mode == "off":
            return None, None
        outcome = await self.tool_calls.check(
            identity=identity,
            data=data,
            call_id=call_id,
            can_rewrite=hook is GuardrailEventHooks.pre_mcp_call,
        )
        if isinstance(outcome, FailOpenPass):
            if self.audits.keeps_failed_open:  # a durable outbox delivers it once AxonFlow is back
                await self._audit_unchecked_tool_call(identity, data, call_id, outcome)
            return Recorded.failed_open(outcome), None
        kept = self.audits.submit_built(
            lambda: tool_call_audit(
                call_id=call_id,
                identity=identity,
                tool=outcome.tool,
                server=outcome.server,
                arguments=outcome.arguments,
                duration_ms=outcome.duration_ms,
                success=outcome.succeeded,
                error_message=outcome.error_message,
                traceparent=outcome.traceparent,
            ),
            call_id=call_id,
        )
        await self.audits.settle(kept, call_id=call_id)
        if outcome.refusal is not None:
            raise outcome.refusal
        return Recorded.tool_call(outcome), outcome.rewritten

    # ------------------------------------------------------------------ routes without hooks

    def governs_unhooked_route(self, body: Mapping[str, Any], auth: Any) -> bool:
        return should_govern(self, modes=self._modes, body=body, auth=auth)

    async def govern_unhooked_route(
        self, *, route: str, path: str, body: Mapping[str, Any], auth: Any
    ) -> None:
        await self.unhooked_routes.govern(route=route, path=path, body=body, auth=auth)

    # ------------------------------------------------------------------ after the model

    def log_pre_api_call(self, model: Any, messages: Any, kwargs: Any) -> None:
        """LiteLLM is about to call the provider (past its snapshot): a deferred entry is
        written now, so a failing model call's log carries it too."""
        self._deferred.flush(kwargs)

    async def async_post_call_success_hook(
        self, data: dict[str, Any], user_api_key_dict: Any, response: Any
    ) -> Any:
        self._deferred.flush(data)
        state = self.calls.take(data)
        if state is None:
            return response
        outcome = "success"
        try:
            if self.outputs.enabled and state.enforcement != "off":
                verdict = await self.outputs.check_response(response, call=_output_call(state))
                state.would_have_blocked = state.would_have_blocked or verdict.would_have_blocked
        except HTTPException:
            outcome = "blocked"
            raise
        finally:
            summary = WITHHELD_SUMMARY if outcome == "blocked" else None
            kept = self._audit(state, response=response, outcome=outcome, summary=summary)
            await self.audits.settle(kept, call_id=state.litellm_call_id)
        return response

    async def async_post_call_streaming_iterator_hook(
        self, user_api_key_dict: Any, response: Any, request_data: dict[str, Any]
    ) -> AsyncGenerator[Any, None]:
        self._deferred.flush(request_data)  # before the first chunk: a client may leave
        state = self.calls.take(request_data)
        if state is None:
            async for chunk in response:
                yield chunk
            return
        call = _output_call(state)

        async def check(text: str) -> str | None:
            verdict = await self.outputs.check(text, call=call)
            state.would_have_blocked = state.would_have_blocked or verdict.would_have_blocked
            return verdict.masked_text

        kept: list[Any] = []

        def done(chunks: list[Any], outcome: str) -> None:
            name = str(self.guardrail_name)
            kept.append(
                self.audits.submit_built(
                    lambda: stream_audit(
                        state,
                        guardrail_name=name,
                        chunks=chunks,
                        outcome=outcome,
                        request_data=request_data,
                    ),
                    call_id=state.litellm_call_id,
                )
            )

        def refusal(exc: HTTPException) -> Exception:
            # /v1/messages: the same Anthropic error a non-streaming refusal gets.
            if state.call_type not in _ANTHROPIC_CALL_TYPES:
                return exc
            return anthropic_stream_refusal(
                exc, guardrail_name=self.guardrail_name, mode=self.event_hook
            )

        hold = self.outputs.enabled and state.enforcement != "off"
        async for chunk in govern_stream(
            response, hold=hold, check=check, on_done=done, refusal=refusal
        ):
            yield chunk
        # Kept before the stream's end reaches the client (LiteLLM sends `[DONE]` after us).
        await self.audits.settle(kept[0] if kept else None, call_id=state.litellm_call_id)

    async def async_post_call_failure_hook(
        self,
        request_data: dict[str, Any],
        original_exception: Exception,
        user_api_key_dict: Any,
        traceback_str: str | None = None,
    ) -> HTTPException | None:
        """Audit LLM calls that failed after a pre-check; ignore every other request."""
        self._deferred.flush(request_data)
        state = self.calls.take(request_data)
        if state is not None:
            status = getattr(original_exception, "status_code", None)
            kept = self._audit(
                state,
                response=None,
                outcome="llm_error",
                summary=f"LLM call failed: {type(original_exception).__name__}"
                + (f" (HTTP {status})" if status else ""),
            )
            await self.audits.settle(kept, call_id=state.litellm_call_id)
        return None

    # ------------------------------------------------------------------ audits

    def _audit(
        self, state: CallState, *, response: Any, outcome: str, summary: str | None = None
    ) -> Any:
        """Hand the record over; returns what `audits.settle` awaits (written, not sent)."""
        name = str(self.guardrail_name)
        return self.audits.submit_built(
            lambda: llm_call_audit(
                state, guardrail_name=name, response=response, outcome=outcome, summary=summary
            ),
            call_id=state.litellm_call_id,
        )

    async def _audit_unchecked_tool_call(
        self, identity: CallerIdentity, data: dict[str, Any], call_id: str, passed: FailOpenPass
    ) -> None:
        tool, server, arguments = tool_call_target(data)
        kept = self.audits.submit_built(
            lambda: tool_call_audit(
                call_id=call_id,
                identity=identity,
                tool=tool,
                server=server,
                arguments=arguments,
                duration_ms=0,
                success=True,
                error_message=None,
                traceparent=traceparent_of(data),
                failed_open=passed.reason,
            ),
            call_id=call_id,
        )
        await self.audits.settle(kept, call_id=call_id)

    def _refuse_if_audits_cannot_be_kept(self, identity: CallerIdentity) -> None:
        """With `fail_open: false`, an audit that cannot be kept is a governance failure:
        while the outbox is full, new calls are refused (503) until there is room."""
        if self.settings.fail_open or not self._keeps_call_state:
            return
        if identity.enforcement_mode == "enforce" and not self.audits.has_room():
            raise governance_error(
                ErrorCode.GOVERNANCE_UNAVAILABLE,
                "The audit outbox is full, so this call could not be audited; it was not sent.",
            )

    def _passed_ungoverned(
        self, data: dict[str, Any], request: GovernedRequest, passed: FailOpenPass
    ) -> Recorded:
        """A `fail_open` pass: kept (with its text) so it is audited and pre-checked after
        the fact, when the outbox is durable."""
        if self._keeps_call_state and self.audits.keeps_failed_open:
            self.calls.remember_failed_open(data, request=request, reason=passed.reason)
        return Recorded.failed_open(passed)


def _tool_hook(hook: GuardrailEventHooks) -> GuardrailEventHooks:
    """LiteLLM calls the pre-call hooks for MCP tool calls; record them under the MCP mode."""
    if hook is GuardrailEventHooks.pre_call:
        return GuardrailEventHooks.pre_mcp_call
    return GuardrailEventHooks.during_mcp_call


def _output_call(state: CallState) -> OutputCall:
    return OutputCall(
        identity=state.identity,
        enforcement=state.enforcement,
        call_id=state.litellm_call_id,
        context_id=state.decision.context_id,
        traceparent=state.traceparent,
    )
