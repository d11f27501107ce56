"""Input masking: the engine-masked text written back where it was read, or the request refused.

When the pre-check says `requires_redaction`, the guardrail asks AxonFlow's check-input route
for the masked text of the whole query (`content_type="text/plain"`), splits it back into the
request's pieces and writes each where it came from (`request._rewrite`). It fails closed,
whatever `fail_open` says: the platform has already said this text must not reach the model
unmasked. Masking unavailable is a 503 (a retry may find it back); a mask that cannot be
applied faithfully is a 400 `redaction_failed`.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import HTTPException

from axonflow_guardrail._errors import ErrorCode, failure_code, governance_error
from axonflow_guardrail._log import log
from axonflow_guardrail._settings import GuardrailSettings
from axonflow_guardrail.axonflow._client import AxonFlowClient, PreCheckDecision, Verdict
from axonflow_guardrail.axonflow._failures import AxonFlowFailure
from axonflow_guardrail.request._governed import GovernedRequest
from axonflow_guardrail.request._rewrite import split_masked, write_back

__all__ = ["InputMasking"]


class InputMasking:
    def __init__(self, *, client: AxonFlowClient, settings: GuardrailSettings) -> None:
        self._client = client
        self._settings = settings

    async def mask(
        self, request: GovernedRequest, decision: PreCheckDecision, *, can_rewrite: bool
    ) -> dict[str, Any] | None:
        """The request with masked text, or None when nothing is to be masked here.

        Masking applies when AxonFlow asked for it, `redact_input` is on, the caller is
        enforced (audit mode never rewrites) and the hook can rewrite (`pre_call`, not
        `during_call`).
        """
        if not (
            decision.verdict is Verdict.REDACT
            and self._settings.redact_input
            and request.enforcing
            and can_rewrite
        ):
            return None
        return await self.masked_request(request=request, decision=decision)

    async def masked_request(
        self, *, request: GovernedRequest, decision: PreCheckDecision
    ) -> dict[str, Any] | None:
        """The request with the engine-masked text written back, or None if nothing to mask.

        Fails closed (whatever `fail_open` says): the platform has already said this text must
        not reach the model unmasked.
        """
        started = time.perf_counter()
        try:
            result = await self._client.mask_input(
                text=request.query,
                user_token=request.identity.user_token,
                user_id=request.identity.user_id,
                traceparent=request.traceparent,
            )
        except AxonFlowFailure as failure:
            # Never sent unmasked, whatever `fail_open` says; a retry may find masking back.
            log.error("axonflow masking unavailable, request refused: %s", failure.reason)
            raise governance_error(
                failure_code(failure),
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
        pieces = split_masked(request.text, result.masked_text)
        if pieces is None:
            raise self._redaction_failed(decision, "masked text could not be mapped back")
        try:
            rewritten = write_back(request.data, request.text, pieces)
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
