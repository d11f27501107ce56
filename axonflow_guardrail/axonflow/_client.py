"""Every call to AxonFlow, through the official `axonflow` SDK: a few governed calls, each
bounded by one deadline, behind its function's breaker, its failures classified in one place
(`_failures.classify_failure`): every method here raises `AxonFlowFailure` only.

Speed: one SDK client per worker process and event loop, created lazily in the loop that
uses it (httpx pools are bound to a loop), kept alive, SDK retries off (they turn a 5 s
timeout into ~15 s), each call bounded by our own deadline, and its HTTP client replaced by
a lean one (`_http_client`, on `_http11`'s connections: the same calls at a fraction of the
CPU).
"""

from __future__ import annotations

import asyncio
import enum
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import axonflow
from axonflow.hitl import HITLApprovalRequest, HITLCreateInput
from axonflow.pep_handshake import PEPCapability, PEPHandshake
from axonflow.types import AuditToolCallRequest, RetryConfig, TokenUsage

from axonflow_guardrail._log import log
from axonflow_guardrail.axonflow._breakers import BreakerGate, Breakers
from axonflow_guardrail.axonflow._failures import AxonFlowFailure, FailureKind, classify_failure
from axonflow_guardrail.axonflow._http_client import install_lean_http_client
from axonflow_guardrail.axonflow._trace_headers import TracedCall, install_trace_hooks, traced
from axonflow_guardrail.observe._events import NO_EVENTS, AxonFlowCallEvents

__all__ = [
    "AxonFlowClient",
    "MaskResult",
    "OutputDecision",
    "PreCheckDecision",
    "Verdict",
]

T = TypeVar("T")


class Verdict(enum.Enum):
    ALLOW = "allow"
    REDACT = "redact"
    DENY = "deny"
    NEEDS_APPROVAL = "needs_approval"


@dataclass(frozen=True, slots=True)
class PreCheckDecision:
    verdict: Verdict
    context_id: str
    decision_id: str | None
    policies: tuple[str, ...]
    block_reason: str | None
    #: When AxonFlow stops accepting audits against `context_id` (epoch seconds), if it said.
    expires_at: float | None = None
    #: AxonFlow's trace id for this decision (the client's trace, when it sent one).
    trace_id: str | None = None


@dataclass(frozen=True, slots=True)
class MaskResult:
    allowed: bool
    masked_text: str | None
    block_reason: str | None
    decision_id: str | None
    redaction_evaluated: bool


@dataclass(frozen=True, slots=True)
class OutputDecision:
    allowed: bool
    masked_text: str | None
    block_reason: str | None
    decision_id: str | None


def _verdict_of(result: Any) -> Verdict:
    policies = result.policies or []
    if not result.approved:
        if (
            result.verdict == "needs_approval"
            or result.block_reason == "require_approval"
            or "hitl_enterprise" in policies
        ):
            return Verdict.NEEDS_APPROVAL
        return Verdict.DENY
    return Verdict.REDACT if result.requires_redaction else Verdict.ALLOW


def _epoch(value: Any) -> float | None:
    timestamp = getattr(value, "timestamp", None)
    return float(timestamp()) if callable(timestamp) else None


def _pep_handshake(*, declares_redaction: bool) -> PEPHandshake | None:
    """Only when the operator names an audience; never an empty header."""
    audience = os.environ.get("AXONFLOW_PEP_AUDIENCE", "").strip()
    if not audience:
        return None
    capabilities = [PEPCapability("field_redact", 1)] if declares_redaction else []
    return PEPHandshake(
        pep_id=os.environ.get("AXONFLOW_PEP_ID", "litellm-proxy").strip() or "litellm-proxy",
        audience=audience,
        capabilities=capabilities,
    )


class AxonFlowClient:
    """The guardrail's view of AxonFlow: a few governed calls, each bounded and classified."""

    def __init__(
        self,
        *,
        endpoint: str,
        client_id: str,
        client_secret: str,
        tenant_id: str | None,
        call_timeout_seconds: float,
        breakers: Breakers,
        declares_redaction: bool,
        events: AxonFlowCallEvents = NO_EVENTS,
    ) -> None:
        self._endpoint = endpoint
        self._client_id = client_id
        self._client_secret = client_secret
        self._tenant_id = tenant_id
        self._timeout = call_timeout_seconds
        self.breakers = breakers
        self._pep = _pep_handshake(declares_redaction=declares_redaction)
        self._sdk: axonflow.AxonFlow | None = None
        self._sdk_loop: asyncio.AbstractEventLoop | None = None
        #: The SDK client's response hook records each answer's status (`_trace_headers`).
        self._answers_seen = False
        self._events = events

    @property
    def client_id(self) -> str:
        return self._client_id

    def sdk(self) -> axonflow.AxonFlow:
        """The SDK client of the running loop, created on first use."""
        loop = asyncio.get_running_loop()
        if self._sdk is None or self._sdk_loop is not loop:
            axonflow.register_adapter("litellm")
            self._sdk = axonflow.AxonFlow(
                endpoint=self._endpoint,
                client_id=self._client_id,
                client_secret=self._client_secret or None,
                timeout=self._timeout,
                retry_config=RetryConfig(enabled=False),
                cache_enabled=False,
                pep_handshake=self._pep,
            )
            self._answers_seen = install_trace_hooks(self._sdk)
            if not self._answers_seen:
                log.warning("axonflow: this SDK takes no trace hooks; calls carry no traceparent")
            install_lean_http_client(self._sdk)
            self._sdk_loop = loop
            # One per worker process and loop: operators (and the workers test) can count them.
            log.info("axonflow SDK client created: pid=%d", os.getpid())
        return self._sdk

    async def close(self) -> None:
        sdk, self._sdk, self._sdk_loop = self._sdk, None, None
        if sdk is not None:
            await sdk.close()

    async def _call(
        self,
        call: Callable[[axonflow.AxonFlow], Awaitable[T]],
        *,
        function: str,
        gate: BreakerGate | None,
        timeout: float | None = None,
        trace: TracedCall | None = None,
    ) -> T:
        """One SDK call, behind `gate`'s breaker, bounded by one deadline, failures classified,
        timed and counted (`function` names it), carrying `trace`'s traceparent.

        The deadline covers the wait for a half-open probe's outcome as well as the call itself.
        """
        permit = None
        started: float | None = None
        trace = trace or TracedCall(traceparent=None)  # reads the answer's status too
        try:
            async with asyncio.timeout(timeout or self._timeout):
                if gate is not None:
                    permit = await gate.acquire()
                    if permit is None:
                        raise AxonFlowFailure(
                            FailureKind.UNAVAILABLE,
                            f"circuit breaker open ({gate.name})",
                            breaker_open=True,
                        )
                started = time.perf_counter()
                with traced(trace):
                    result = await call(self.sdk())
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            failure = classify_failure(
                exc,
                answered=trace.status,
                # Only known when the response hook is in place (it records every answer).
                answer_seen=trace.status is not None if self._answers_seen else None,
            )
            if started is not None:
                self._finished(function, started, failure.kind.value)
            if permit is not None:
                if failure.kind is FailureKind.UNAVAILABLE:
                    permit.failure()
                elif failure.kind is FailureKind.REJECTED:
                    permit.success()  # it answered: it is up
                # broken: says nothing about AxonFlow; the permit is released below
            raise failure from exc
        else:
            self._finished(function, started, None)
            if permit is not None:
                permit.success()
            return result
        finally:
            if permit is not None and gate is not None:
                permit.release()  # no-op once settled; frees the probe slot on cancellation
                gate.settled(permit)

    def _finished(self, function: str, started: float | None, failure: str | None) -> None:
        if started is not None:
            self._events.call_finished(
                function=function, seconds=time.perf_counter() - started, failure=failure
            )

    async def pre_check(
        self,
        *,
        user_token: str,
        query: str,
        context: Mapping[str, Any],
        traceparent: str | None = None,
        gated: bool = True,
    ) -> PreCheckDecision:
        """`gated=False`: not behind the request path's breaker (the audit shipper has its
        own, and must never take the request path's half-open probe); counted apart, as
        `retroactive_pre_check`, so the request path's latency stays its own."""
        trace = TracedCall(traceparent=traceparent, read_trace_id=True)
        result = await self._call(
            lambda sdk: sdk.pre_check(user_token=user_token, query=query, context=dict(context)),
            function="pre_check" if gated else "retroactive_pre_check",
            gate=self.breakers.pre_check if gated else None,
            trace=trace,
        )
        return PreCheckDecision(
            verdict=_verdict_of(result),
            context_id=result.context_id,
            decision_id=result.decision_id,
            policies=tuple(result.policies or ()),
            block_reason=result.block_reason,
            expires_at=_epoch(result.expires_at),
            trace_id=trace.trace_id,
        )

    async def mask_input(
        self, *, text: str, user_token: str, user_id: str | None, traceparent: str | None = None
    ) -> MaskResult:
        """Engine-masked text for a prompt the pre-check flagged for redaction."""
        return await self._check_input(
            "litellm",
            text,
            user_token=user_token,
            user_id=user_id,
            content_type="text/plain",
            traceparent=traceparent,
        )

    async def check_tool_input(
        self,
        *,
        server_name: str,
        tool_name: str,
        statement: str,
        user_token: str,
        user_id: str | None,
        traceparent: str | None = None,
    ) -> MaskResult:
        """An MCP tool call, checked with the server's name as the connector type."""
        return await self._check_input(
            server_name or "mcp",
            statement,
            user_token=user_token,
            user_id=user_id,
            tool=tool_name or None,
            traceparent=traceparent,
        )

    async def _check_input(
        self,
        connector_type: str,
        statement: str,
        *,
        user_token: str,
        user_id: str | None,
        content_type: str | None = None,
        tool: str | None = None,
        traceparent: str | None = None,
    ) -> MaskResult:
        result = await self._call(
            lambda sdk: sdk.mcp_check_input(
                connector_type,
                statement,
                tool=tool,
                content_type=content_type,
                client_id=self._client_id,
                tenant_id=self._tenant_id,
                user_id=user_id,
                user_token=user_token,
            ),
            function="check_input",
            gate=self.breakers.check_input,
            trace=TracedCall(traceparent=traceparent),
        )
        return MaskResult(
            allowed=result.allowed,
            masked_text=result.redacted_statement if result.redacted else None,
            block_reason=result.block_reason,
            decision_id=result.decision_id,
            redaction_evaluated=result.redaction_evaluated,
        )

    async def check_output(
        self, *, text: str, user_token: str, user_id: str | None, traceparent: str | None = None
    ) -> OutputDecision:
        result = await self._call(
            lambda sdk: sdk.mcp_check_output(
                "litellm",
                message=text,
                client_id=self._client_id,
                tenant_id=self._tenant_id,
                user_id=user_id,
                user_token=user_token,
            ),
            function="check_output",
            gate=self.breakers.check_output,
            trace=TracedCall(traceparent=traceparent),
        )
        masked = result.redacted_message
        if masked is None and isinstance(result.redacted_data, str):
            masked = result.redacted_data
        return OutputDecision(
            allowed=result.allowed,
            masked_text=masked,
            block_reason=result.block_reason,
            decision_id=result.decision_id,
        )

    async def audit_llm_call(
        self,
        *,
        context_id: str,
        response_summary: str,
        provider: str,
        model: str,
        usage: tuple[int, int, int],
        latency_ms: int,
        metadata: Mapping[str, Any],
        timeout: float,
        traceparent: str | None = None,
    ) -> str:
        prompt, completion, total = usage
        result = await self._call(
            lambda sdk: sdk.audit_llm_call(
                context_id=context_id,
                response_summary=response_summary,
                provider=provider,
                model=model,
                token_usage=TokenUsage(
                    prompt_tokens=prompt, completion_tokens=completion, total_tokens=total
                ),
                latency_ms=latency_ms,
                metadata=dict(metadata),
            ),
            function="audit",
            gate=None,
            timeout=timeout,
            trace=TracedCall(traceparent=traceparent),
        )
        return result.audit_id

    async def audit_tool_call(
        self, *, request: AuditToolCallRequest, timeout: float, traceparent: str | None = None
    ) -> str:
        result = await self._call(
            lambda sdk: sdk.audit_tool_call(request),
            function="audit",
            gate=None,
            timeout=timeout,
            trace=TracedCall(traceparent=traceparent),
        )
        return result.audit_id

    async def create_approval(self, *, request: HITLCreateInput) -> HITLApprovalRequest:
        # Approval traffic is counted apart from the breaker (see _approval_gate).
        return await self._call(
            lambda sdk: sdk.create_hitl_request(request), function="approval", gate=None
        )

    async def get_approval(self, *, approval_id: str) -> HITLApprovalRequest:
        return await self._call(
            lambda sdk: sdk.get_hitl_request(approval_id), function="approval", gate=None
        )
