"""Where a request is pre-checked: text → AxonFlow decision → allow, rewrite, hold or refuse.

`PreCheckGate.decide` asks AxonFlow; `PreCheckGate.on_failure` is the one place that decides
what an AxonFlow failure means for the request:

| failure                                   | `fail_open: true`        | `fail_open: false` |
|-------------------------------------------|--------------------------|--------------------|
| rejected (401/402/403 from AxonFlow)      | refused                  | refused            |
| unavailable (connect/timeout/5xx/garbage) | proceeds, logged loudly  | 503                |
| breaker open                              | proceeds, logged loudly  | 503                |

In audit (shadow) mode nothing is refused: denials are recorded as "would have blocked".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException

from axonflow_guardrail._axonflow_client import (
    AxonFlowClient,
    AxonFlowFailure,
    FailureKind,
    PreCheckDecision,
)
from axonflow_guardrail._errors import ErrorCode, governance_error
from axonflow_guardrail._identity import CallerIdentity
from axonflow_guardrail._log import log
from axonflow_guardrail._request_rewrite import (
    split_masked,
    write_back,
)
from axonflow_guardrail._request_text import ExtractedText
from axonflow_guardrail._settings import GuardrailSettings

__all__ = ["BreakerOpenLog", "FailOpenPass", "PreCheckGate"]


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


class PreCheckGate:
    def __init__(self, *, client: AxonFlowClient, settings: GuardrailSettings) -> None:
        self._client = client
        self._settings = settings
        self._breaker_open_log = BreakerOpenLog()

    def context_for(
        self,
        *,
        identity: CallerIdentity,
        model: str,
        route: str | None,
        call_type: str,
        litellm_call_id: str,
    ) -> dict[str, Any]:
        """The pre-check `context`: operator's extra context, tenant, then LiteLLM's identity."""
        context: dict[str, Any] = dict(self._settings.extra_context)
        if self._settings.tenant_id:
            context["tenant_id"] = self._settings.tenant_id
        context.update({k: v for k, v in identity.context().items() if v is not None})
        context.update(
            {
                "source": "litellm-proxy",
                "model": model,
                "route": route,
                "call_type": call_type,
                "litellm_call_id": litellm_call_id,
            }
        )
        return {k: v for k, v in context.items() if v is not None}

    async def decide(
        self, *, identity: CallerIdentity, query: str, context: Mapping[str, Any]
    ) -> PreCheckDecision:
        """One pre-check call; raises `AxonFlowFailure`."""
        return await self._client.pre_check(
            user_token=identity.user_token, query=query, context=context
        )

    def on_failure(
        self, failure: AxonFlowFailure, *, identity: CallerIdentity, call_id: str
    ) -> FailOpenPass:
        """Decide fail-open or fail-closed. Returns the pass, or raises the client's error."""
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
            "axonflow deny: policies=%s decision_id=%s mode=%s call_id=%s",
            ",".join(decision.policies),
            decision.decision_id,
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
        )

    async def masked_request(
        self,
        *,
        data: dict[str, Any],
        extracted: ExtractedText,
        identity: CallerIdentity,
        decision: PreCheckDecision,
    ) -> dict[str, Any] | None:
        """The request with the engine-masked text written back, or None if nothing to mask.

        Fails closed (whatever `fail_open` says): the platform has already said this text must
        not reach the model unmasked.
        """
        started = time.perf_counter()
        try:
            result = await self._client.mask_input(
                text=extracted.joined(), user_token=identity.user_token, user_id=identity.user_id
            )
        except AxonFlowFailure as failure:
            # Never sent unmasked, whatever `fail_open` says; a retry may find masking back.
            log.error("axonflow masking unavailable, request refused: %s", failure.reason)
            raise governance_error(
                ErrorCode.GOVERNANCE_UNAVAILABLE
                if failure.kind is FailureKind.UNAVAILABLE
                else ErrorCode.GOVERNANCE_REJECTED,
                "The request contains data that governance requires to be masked, and masking "
                f"is unavailable ({failure.reason}); the request was not sent.",
                policies=list(decision.policies),
                decision_id=decision.decision_id,
                context_id=decision.context_id,
            ) from None
        if not result.allowed:
            raise governance_error(
                ErrorCode.POLICY_DENIED,
                result.block_reason or "Request blocked by governance policy",
                policies=list(decision.policies),
                decision_id=result.decision_id or decision.decision_id,
                context_id=decision.context_id,
            )
        if result.masked_text is None:
            if not result.redaction_evaluated:
                raise self._redaction_failed(decision, "the platform did not run its redactor")
            return None
        pieces = split_masked(extracted, result.masked_text)
        if pieces is None:
            raise self._redaction_failed(decision, "masked text could not be mapped back")
        try:
            rewritten = write_back(data, extracted, pieces)
        except ValueError as exc:
            raise self._redaction_failed(decision, str(exc)) from None
        log.debug("axonflow masked input in %.1f ms", (time.perf_counter() - started) * 1000)
        return rewritten

    @staticmethod
    def _redaction_failed(decision: PreCheckDecision, why: str) -> HTTPException:
        log.error("axonflow redaction failed closed: %s", why)
        return governance_error(
            ErrorCode.REDACTION_FAILED,
            "The request contains data that governance requires to be masked, and masking "
            f"could not be applied ({why}); the request was not sent.",
            policies=list(decision.policies),
            decision_id=decision.decision_id,
            context_id=decision.context_id,
        )


def _policy_list(failure: AxonFlowFailure) -> list[str] | None:
    policy = failure.details.get("policy")
    if isinstance(policy, str):
        return [policy]
    return None
