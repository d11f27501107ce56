"""Every call to AxonFlow, through the official `axonflow` SDK, and the one place its failures
are classified.

Why one place: the SDK reports trouble in a dozen shapes (its own exception classes, raw
`httpx` errors from the MCP routes, `KeyError`/`ValidationError`/`JSONDecodeError` on
malformed answers, `AxonFlowError("HTTP 503: …")`). The guardrail only needs to know two
things: did the platform *refuse* (401/402/403: it is up and says no, always fail closed), or
was it *unavailable* (connection, timeout, 5xx, malformed answer: `fail_open` decides).
`classify_failure` answers that, and every method here raises `AxonFlowFailure` only.

Speed: one SDK client per worker process and event loop, created lazily in the loop that
uses it (httpx pools are bound to a loop), kept alive, SDK retries off (they turn a 5 s
timeout into ~15 s), each call bounded by our own deadline, and its HTTP client replaced by
a lean one on aiohttp (`_http_client`: the same calls at a fraction of the CPU).
"""

from __future__ import annotations

import asyncio
import enum
import json
import os
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import axonflow
import httpx
import pydantic
from axonflow import exceptions as sdk_errors
from axonflow.hitl import HITLApprovalRequest, HITLCreateInput
from axonflow.pep_handshake import PEPCapability, PEPHandshake
from axonflow.types import AuditToolCallRequest, RetryConfig, TokenUsage

from axonflow_guardrail._circuit_breaker import CircuitBreaker
from axonflow_guardrail._http_client import install_lean_http_client
from axonflow_guardrail._log import log

__all__ = [
    "AxonFlowClient",
    "AxonFlowFailure",
    "FailureKind",
    "MaskResult",
    "OutputDecision",
    "PreCheckDecision",
    "Verdict",
    "classify_failure",
]

T = TypeVar("T")

_HTTP_STATUS_IN_MESSAGE = re.compile(r"^HTTP (\d{3})\b")
_REJECTION_STATUSES = frozenset({401, 402, 403})


class FailureKind(enum.Enum):
    REJECTED = "rejected"
    UNAVAILABLE = "unavailable"


class AxonFlowFailure(Exception):
    """An AxonFlow call that gave no usable answer, classified.

    `reason` is short and safe to log or show a client: it never carries credentials,
    tokens or prompt text.
    """

    def __init__(
        self,
        kind: FailureKind,
        reason: str,
        *,
        status: int | None = None,
        breaker_open: bool = False,
        unsent: bool = False,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason
        self.status = status
        self.breaker_open = breaker_open
        #: True when the request certainly never reached AxonFlow (safe to send again).
        self.unsent = unsent or breaker_open or status == 503
        self.details = dict(details or {})


def _status_from(exc: BaseException) -> int | None:
    """The HTTP status behind an SDK error, wherever the SDK left it."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, httpx.HTTPStatusError):
            return current.response.status_code
        if isinstance(current, sdk_errors.AxonFlowError):
            match = _HTTP_STATUS_IN_MESSAGE.match(str(current))
            if match:
                return int(match.group(1))
        current = current.__cause__ or current.__context__
    return None


def classify_failure(exc: BaseException) -> AxonFlowFailure:
    """Map anything an SDK call raised to rejected or unavailable. The only such mapping."""
    if isinstance(exc, AxonFlowFailure):
        return exc
    if isinstance(exc, sdk_errors.AuthenticationError):
        return AxonFlowFailure(
            FailureKind.REJECTED, "AxonFlow rejected the guardrail's credentials", status=401
        )
    if isinstance(exc, sdk_errors.BudgetExceededError):
        budget = {
            "budget_id": exc.budget_id,
            "budget_name": exc.budget_name,
            "used_usd": exc.used_usd,
            "limit_usd": exc.limit_usd,
        }
        return AxonFlowFailure(
            FailureKind.REJECTED, "AxonFlow budget exceeded", status=402, details=budget
        )
    if isinstance(exc, sdk_errors.PolicyViolationError):
        return AxonFlowFailure(
            FailureKind.REJECTED,
            exc.block_reason or str(exc) or "Request blocked by policy",
            status=403,
            details={"policy": getattr(exc, "policy", None)},
        )
    status = _status_from(exc)
    if status in _REJECTION_STATUSES:
        # A 401/402/403 whose body the SDK could not parse: still a refusal.
        return AxonFlowFailure(
            FailureKind.REJECTED, f"AxonFlow refused the call (HTTP {status})", status=status
        )
    if isinstance(exc, (sdk_errors.TimeoutError, TimeoutError, httpx.TimeoutException)):
        return AxonFlowFailure(FailureKind.UNAVAILABLE, "AxonFlow did not answer in time")
    if isinstance(exc, (sdk_errors.ConnectionError, httpx.ConnectError, ConnectionRefusedError)):
        return AxonFlowFailure(FailureKind.UNAVAILABLE, "AxonFlow is unreachable", unsent=True)
    if isinstance(exc, (httpx.TransportError, OSError)):
        # Connected, then the connection broke: the request may have been processed.
        return AxonFlowFailure(FailureKind.UNAVAILABLE, "AxonFlow dropped the connection")
    if status is not None:
        return AxonFlowFailure(
            FailureKind.UNAVAILABLE, f"AxonFlow answered HTTP {status}", status=status
        )
    if isinstance(
        exc, (KeyError, pydantic.ValidationError, json.JSONDecodeError, ValueError, TypeError)
    ):
        return AxonFlowFailure(FailureKind.UNAVAILABLE, "AxonFlow sent a malformed answer")
    if isinstance(exc, sdk_errors.AxonFlowError):
        return AxonFlowFailure(
            FailureKind.UNAVAILABLE, f"AxonFlow call failed: {type(exc).__name__}"
        )
    return AxonFlowFailure(FailureKind.UNAVAILABLE, f"unexpected error: {type(exc).__name__}")


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
        breaker: CircuitBreaker,
        declares_redaction: bool,
    ) -> None:
        self._endpoint = endpoint
        self._client_id = client_id
        self._client_secret = client_secret
        self._tenant_id = tenant_id
        self._timeout = call_timeout_seconds
        self.breaker = breaker
        self._pep = _pep_handshake(declares_redaction=declares_redaction)
        self._sdk: axonflow.AxonFlow | None = None
        self._sdk_loop: asyncio.AbstractEventLoop | None = None

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
        use_breaker: bool,
        timeout: float | None = None,
    ) -> T:
        permit = None
        if use_breaker:
            permit = self.breaker.acquire()
            if permit is None:
                raise AxonFlowFailure(
                    FailureKind.UNAVAILABLE, "circuit breaker open", breaker_open=True
                )
        try:
            async with asyncio.timeout(timeout or self._timeout):
                result = await call(self.sdk())
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            failure = classify_failure(exc)
            if permit is not None:
                if failure.kind is FailureKind.UNAVAILABLE:
                    permit.failure()
                else:
                    permit.success()
            raise failure from exc
        else:
            if permit is not None:
                permit.success()
            return result
        finally:
            if permit is not None:
                permit.release()  # no-op once settled; frees the probe slot on cancellation

    async def pre_check(
        self, *, user_token: str, query: str, context: Mapping[str, Any]
    ) -> PreCheckDecision:
        result = await self._call(
            lambda sdk: sdk.pre_check(user_token=user_token, query=query, context=dict(context)),
            use_breaker=True,
        )
        return PreCheckDecision(
            verdict=_verdict_of(result),
            context_id=result.context_id,
            decision_id=result.decision_id,
            policies=tuple(result.policies or ()),
            block_reason=result.block_reason,
        )

    async def mask_input(self, *, text: str, user_token: str, user_id: str | None) -> MaskResult:
        """Engine-masked text for a prompt the pre-check flagged for redaction."""
        return await self._check_input(
            "litellm", text, user_token=user_token, user_id=user_id, content_type="text/plain"
        )

    async def check_tool_input(
        self,
        *,
        server_name: str,
        tool_name: str,
        statement: str,
        user_token: str,
        user_id: str | None,
    ) -> MaskResult:
        """An MCP tool call, checked with the server's name as the connector type."""
        return await self._check_input(
            server_name or "mcp",
            statement,
            user_token=user_token,
            user_id=user_id,
            tool=tool_name or None,
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
            use_breaker=True,
        )
        return MaskResult(
            allowed=result.allowed,
            masked_text=result.redacted_statement if result.redacted else None,
            block_reason=result.block_reason,
            decision_id=result.decision_id,
            redaction_evaluated=result.redaction_evaluated,
        )

    async def check_output(
        self, *, text: str, user_token: str, user_id: str | None
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
            use_breaker=True,
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
            use_breaker=False,
            timeout=timeout,
        )
        return result.audit_id

    async def audit_tool_call(self, *, request: AuditToolCallRequest, timeout: float) -> str:
        result = await self._call(
            lambda sdk: sdk.audit_tool_call(request), use_breaker=False, timeout=timeout
        )
        return result.audit_id

    async def create_approval(self, *, request: HITLCreateInput) -> HITLApprovalRequest:
        # Approval traffic is counted apart from the breaker (see _approval_gate).
        return await self._call(lambda sdk: sdk.create_hitl_request(request), use_breaker=False)

    async def get_approval(self, *, approval_id: str) -> HITLApprovalRequest:
        return await self._call(lambda sdk: sdk.get_hitl_request(approval_id), use_breaker=False)
