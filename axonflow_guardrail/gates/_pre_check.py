"""Where a request is pre-checked: its text → AxonFlow's decision → go on, hold, or refuse.

`PreCheckGate.admit` refuses at once while the pre-check's breaker is open; `check` asks
AxonFlow and refuses a denied request; `confirm_approved` asks again once a reviewer approved.
`on_failure` is the one place that decides what an AxonFlow failure means for the request, and
`on_internal_error` what the guardrail's own bug means:

| failure                                   | `fail_open: true`        | `fail_open: false` |
|-------------------------------------------|--------------------------|--------------------|
| rejected (401/402/403 from AxonFlow)      | refused                  | refused            |
| unavailable (connect/timeout/5xx/garbage) | proceeds, logged loudly  | 503                |
| breaker open                              | proceeds, logged loudly  | 503                |
| the guardrail's own bug, or a call broken | 503 (`fail_open_on_internal_error`: as above) | 503 |
| on our side before AxonFlow answered      |                          |                    |

In audit (shadow) mode nothing is refused: denials are recorded as "would have blocked".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException

from axonflow_guardrail._errors import ErrorCode, governance_error
from axonflow_guardrail._log import log
from axonflow_guardrail._settings import GuardrailSettings
from axonflow_guardrail.axonflow._client import AxonFlowClient, PreCheckDecision, Verdict
from axonflow_guardrail.axonflow._failures import AxonFlowFailure, FailureKind
from axonflow_guardrail.request._governed import GovernedRequest
from axonflow_guardrail.request._identity import CallerIdentity

__all__ = ["BREAKER_OPEN", "BreakerOpenLog", "Checked", "FailOpenPass", "PreCheckGate"]


@dataclass(frozen=True, slots=True)
class FailOpenPass:
    """AxonFlow could not answer and `fail_open` let the request through ungoverned."""

    reason: str
    breaker_open: bool


class BreakerOpenLog:
    """One loud line per window while the breaker is open, not one per request.

    With the breaker open every request takes the same path, and a log line costs ~0.3 ms in
    LiteLLM's handlers: per request that alone is a noticeable share of the proxy's capacity
    during an outage. The first refusal is logged at once; then one WARNING (fail-open) or
    ERROR (fail-closed) per `window_seconds`, with the count and the latest call id. Each
    request is still recorded, with its call id, in LiteLLM's guardrail logging.
    """

    def __init__(
        self, *, window_seconds: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._window = window_seconds
        self._clock = clock
        self._since: float | None = None
        self._count = 0

    def note(self, *, call_id: str, passed: bool) -> None:
        now = self._clock()
        self._count += 1
        if self._since is not None and now - self._since < self._window:
            return
        window = 0.0 if self._since is None else now - self._since
        self._since, count, self._count = now, self._count, 0
        if passed:
            log.warning(
                "axonflow FAIL-OPEN: circuit breaker open; %d request(s) in the last %.0f s "
                "proceeded WITHOUT a governance decision; latest call_id=%s",
                count,
                window,
                call_id,
            )
        else:
            log.error(
                "axonflow fail-closed: circuit breaker open; %d request(s) in the last %.0f s "
                "refused (503); latest call_id=%s",
                count,
                window,
                call_id,
            )


@dataclass(frozen=True, slots=True)
class Checked:
    """AxonFlow answered: its decision, and whether audit mode let through what it would have
    refused."""

    decision: PreCheckDecision
    would_have_blocked: bool


#: The pre-check breaker is open: no AxonFlow call is attempted, `fail_open` decides at once.
BREAKER_OPEN = AxonFlowFailure(
    FailureKind.UNAVAILABLE, "circuit breaker open (pre_check)", breaker_open=True
)


class PreCheckGate:
    def __init__(self, *, client: AxonFlowClient, settings: GuardrailSettings) -> None:
        self._client = client
        self._settings = settings
        self._breaker = client.breakers.pre_check
        self._breaker_open_log = BreakerOpenLog()

    def context_for(
        self, request: GovernedRequest, *, approval_id: str | None = None
    ) -> dict[str, Any]:
        """The pre-check `context`: operator's extra context, tenant, then LiteLLM's identity."""
        context: dict[str, Any] = dict(self._settings.extra_context)
        if self._settings.tenant_id:
            context["tenant_id"] = self._settings.tenant_id
        context.update({k: v for k, v in request.identity.context().items() if v is not None})
        context.update(
            {
                "source": "litellm-proxy",
                "model": request.model,
                "route": request.route,
                "call_type": request.call_type,
                "litellm_call_id": request.call_id,
                "approval_request_id": approval_id,
            }
        )
        return {k: v for k, v in context.items() if v is not None}

    def admit(self, request: GovernedRequest) -> FailOpenPass | None:
        """None when AxonFlow may be asked; while the breaker is open, the fail mode at once.

        Decided before any AxonFlow work: an outage must cost (almost) nothing per request.
        """
        if not self._breaker.refuses_outright():
            return None
        return self.on_failure(BREAKER_OPEN, identity=request.identity, call_id=request.call_id)

    async def check(
        self, request: GovernedRequest, *, approval_id: str | None = None
    ) -> Checked | FailOpenPass:
        """Ask AxonFlow. A denial is raised (in audit mode, recorded); an outage follows
        `fail_open` (`on_failure`)."""
        identity = request.identity
        try:
            decision = await self._ask(request, approval_id=approval_id)
        except AxonFlowFailure as failure:
            return self.on_failure(failure, identity=identity, call_id=request.call_id)
        log.debug(
            "axonflow decision: verdict=%s policies=%s decision_id=%s trace_id=%s call_id=%s",
            decision.verdict.value,
            ",".join(decision.policies),
            decision.decision_id,
            decision.trace_id,
            request.call_id,
        )
        flagged = request.unverifiable_refused
        if decision.verdict is Verdict.DENY:
            error = self.refuse(decision, identity=identity, call_id=request.call_id)
            if error is not None:
                raise error
            flagged = True
        elif decision.verdict is Verdict.NEEDS_APPROVAL and identity.enforcement_mode == "audit":
            flagged = True  # shadow mode holds nothing
        return Checked(decision=decision, would_have_blocked=flagged)

    async def _ask(self, request: GovernedRequest, *, approval_id: str | None) -> PreCheckDecision:
        """One pre-check call; raises `AxonFlowFailure`."""
        return await self._client.pre_check(
            user_token=request.identity.user_token,
            query=request.query,
            context=self.context_for(request, approval_id=approval_id),
            traceparent=request.traceparent,
        )

    async def confirm_approved(
        self, request: GovernedRequest, *, approval_id: str
    ) -> PreCheckDecision:
        """After an approval: a new context to audit against (the first one may have expired).

        Whatever AxonFlow answers short of deny (require_approval again included: this very
        prompt was approved), the request goes on: no loop. Only a refusal stops it now; an
        outage asks the client to re-send with the approval id.
        """
        identity = request.identity
        try:
            decision = await self._ask(request, approval_id=approval_id)
        except AxonFlowFailure as failure:
            if failure.kind is FailureKind.REJECTED:
                self.on_failure(failure, identity=identity, call_id=request.call_id)
            raise governance_error(
                ErrorCode.GOVERNANCE_UNAVAILABLE,
                f"Approved, but governance could not confirm the request ({failure.reason}); "
                f"re-send it with the approval id.",
                approval_request_id=approval_id,
            ) from None
        if decision.verdict is Verdict.DENY:
            error = self.refuse(decision, identity=identity, call_id=request.call_id)
            if error is not None:
                raise error
        return decision

    def on_failure(
        self, failure: AxonFlowFailure, *, identity: CallerIdentity, call_id: str
    ) -> FailOpenPass:
        """Decide fail-open or fail-closed. Returns the pass, or raises the client's error."""
        if failure.kind is FailureKind.BROKEN:
            log.error("axonflow pre-check: %s; call_id=%s", failure.reason, call_id)
            return self._internal_failure(failure, identity=identity, call_id=call_id)
        if failure.kind is FailureKind.REJECTED:
            log.warning(
                "axonflow pre-check rejected by the platform (HTTP %s): %s; call_id=%s",
                failure.status,
                failure.reason,
                call_id,
            )
            if identity.enforcement_mode == "audit":
                return FailOpenPass(reason=failure.reason, breaker_open=False)
            if failure.status == 402:
                raise governance_error(ErrorCode.BUDGET_EXCEEDED, failure.reason, **failure.details)
            if failure.status == 403:
                raise governance_error(
                    ErrorCode.POLICY_DENIED, failure.reason, policies=_policy_list(failure)
                )
            raise governance_error(
                ErrorCode.GOVERNANCE_REJECTED,
                "Governance refused this gateway's credentials; the request was not sent.",
            )
        passes = self._settings.fail_open or identity.enforcement_mode == "audit"
        if failure.breaker_open:
            self._breaker_open_log.note(call_id=call_id, passed=passes)
        elif passes:
            log.warning(
                "axonflow FAIL-OPEN: %s; the request proceeds WITHOUT a governance decision; "
                "call_id=%s",
                failure.reason,
                call_id,
            )
        else:
            log.error(
                "axonflow fail-closed: %s; request refused (503); call_id=%s",
                failure.reason,
                call_id,
            )
        if passes:
            return FailOpenPass(reason=failure.reason, breaker_open=failure.breaker_open)
        raise governance_error(
            ErrorCode.GOVERNANCE_UNAVAILABLE,
            f"Governance check unavailable ({failure.reason}); the request was not sent.",
        )

    def refuse(
        self, decision: PreCheckDecision, *, identity: CallerIdentity, call_id: str
    ) -> HTTPException | None:
        """The error for a deny verdict, or None in audit mode (recorded instead)."""
        log.info(
            "axonflow deny: policies=%s decision_id=%s trace_id=%s mode=%s call_id=%s",
            ",".join(decision.policies),
            decision.decision_id,
            decision.trace_id,
            identity.enforcement_mode,
            call_id,
        )
        if identity.enforcement_mode == "audit":
            return None
        return governance_error(
            ErrorCode.POLICY_DENIED,
            decision.block_reason or "Request blocked by governance policy",
            policies=list(decision.policies),
            decision_id=decision.decision_id,
            context_id=decision.context_id,
            trace_id=decision.trace_id,
        )

    def on_internal_error(
        self, exc: Exception, *, identity: CallerIdentity | None, call_id: str
    ) -> FailOpenPass | HTTPException:
        """The guardrail's own bug: refused (503), unless the operator accepted the risk
        (`fail_open_on_internal_error`) or the caller is in audit mode, which never blocks."""
        log.exception("axonflow guardrail internal error; call_id=%s", call_id)
        failure = AxonFlowFailure(
            FailureKind.BROKEN, f"guardrail internal error: {type(exc).__name__}"
        )
        try:
            return self._internal_failure(failure, identity=identity, call_id=call_id)
        except HTTPException as refusal:
            return refusal

    def _internal_failure(
        self, failure: AxonFlowFailure, *, identity: CallerIdentity | None, call_id: str
    ) -> FailOpenPass:
        """The guardrail's own failure: 503 `guardrail_error`, unless the operator accepted
        the risk (`fail_open_on_internal_error`, then `fail_open` decides as for an outage)
        or the caller is in audit mode."""
        passes = self._settings.fail_open_on_internal_error or (
            identity is not None and identity.enforcement_mode == "audit"
        )
        if not passes:
            raise governance_error(
                ErrorCode.GUARDRAIL_ERROR,
                "The governance layer failed on this request; it was not sent.",
            )
        unavailable = AxonFlowFailure(FailureKind.UNAVAILABLE, failure.reason)
        return self.on_failure(
            unavailable, identity=identity or self._fallback_identity(), call_id=call_id
        )

    def _fallback_identity(self) -> CallerIdentity:
        return CallerIdentity(
            user_token=self._settings.default_user_token,
            user_token_source="default",
            enforcement_mode=self._settings.enforcement_mode,
            enforcement_source="guardrail",
        )


def _policy_list(failure: AxonFlowFailure) -> list[str] | None:
    policy = failure.details.get("policy")
    if isinstance(policy, str):
        return [policy]
    return None
