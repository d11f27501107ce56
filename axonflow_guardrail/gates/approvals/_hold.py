"""Holding a request while a reviewer decides: create the approval row, poll it, answer.

The hold runs inline in the request's own task (a cancellation ends it with nothing left
behind), checks before each poll whether the client is still there (`_client_disconnect`), and
counts failed polls per hold, apart from the circuit breaker: `breaker_failure_threshold`
consecutive failures end this hold with `approval_pending` (the row exists; the client re-sends
the id later), a good poll resets the count. Anything unexpected ends in
`governance_unavailable`, never in a pass.

Each hold is reported to its `ApprovalEvents` (metrics) when it starts (the row exists) and
when it ends: approved (or overridden), rejected, expired, pending (answered
`approval_pending`: the wait ran out, the client left, or the status could not be read),
cancelled, or invalid (a status the gate does not know), with how long it held.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from axonflow.hitl import HITLApprovalRequest, HITLCreateInput
from fastapi import HTTPException

from axonflow_guardrail._errors import ErrorCode, governance_error
from axonflow_guardrail._log import log
from axonflow_guardrail._settings import GuardrailSettings
from axonflow_guardrail.axonflow._client import AxonFlowClient, PreCheckDecision
from axonflow_guardrail.axonflow._failures import AxonFlowFailure, FailureKind
from axonflow_guardrail.gates.approvals._binding import (
    APPROVAL_ID_HEADER,
    canonical_uuid,
    request_context,
    trigger_policy,
    trigger_reason,
)
from axonflow_guardrail.gates.approvals._client_disconnect import (
    DisconnectProbe,
    find_disconnect_probe,
)
from axonflow_guardrail.gates.approvals._errors import RETRY_HINT, create_error, pending_error
from axonflow_guardrail.gates.approvals._rows import GO, GrantedApproval, granted, terminal_error
from axonflow_guardrail.observe._events import NO_EVENTS, ApprovalEvents
from axonflow_guardrail.request._identity import CallerIdentity

__all__ = ["ApprovalHold"]

#: `request_type` and severity of the rows this gateway creates.
REQUEST_TYPE = "llm_chat"
SEVERITY = "high"

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]


class ApprovalHold:
    """Creates an approval row and waits for the reviewer (see the module docstring)."""

    def __init__(
        self,
        *,
        client: AxonFlowClient,
        settings: GuardrailSettings,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
        events: ApprovalEvents = NO_EVENTS,
    ) -> None:
        self._client = client
        self._settings = settings
        self._sleep = sleep
        self._clock = clock
        self._wall_clock = wall_clock
        self._events = events

    async def hold(
        self,
        *,
        decision: PreCheckDecision,
        identity: CallerIdentity,
        prompt: str,
        model: str,
        call_id: str,
        call_type: str,
        client_gone: DisconnectProbe | None = None,
    ) -> GrantedApproval:
        """Wait for a reviewer; return the approval once granted, else raise the client's error.

        `client_gone` defaults to the disconnect probe of the HTTP request on the stack.
        """
        policy_id = trigger_policy(decision)
        if not self._settings.enable_hitl_polling:
            log.info(
                "axonflow approval required, polling disabled: policy=%s call_id=%s",
                policy_id,
                call_id,
            )
            raise governance_error(
                ErrorCode.APPROVAL_REQUIRED,
                "This request requires human approval, and this gateway does not hold "
                "requests for approval; it was not sent.",
                policies=list(decision.policies),
                decision_id=decision.decision_id,
            )
        probe = client_gone if client_gone is not None else find_disconnect_probe()
        try:
            return await self._hold(
                decision=decision,
                identity=identity,
                prompt=prompt,
                model=model,
                call_id=call_id,
                call_type=call_type,
                policy_id=policy_id,
                client_gone=probe,
            )
        except (HTTPException, asyncio.CancelledError):
            raise
        except Exception:
            log.exception("axonflow approval hold failed unexpectedly; call_id=%s", call_id)
            raise governance_error(
                ErrorCode.GOVERNANCE_UNAVAILABLE,
                "The approval for this request could not be processed; it was not sent.",
                policies=list(decision.policies),
                decision_id=decision.decision_id,
            ) from None

    async def _hold(
        self,
        *,
        decision: PreCheckDecision,
        identity: CallerIdentity,
        prompt: str,
        model: str,
        call_id: str,
        call_type: str,
        policy_id: str,
        client_gone: DisconnectProbe | None,
    ) -> GrantedApproval:
        row = await self._create(
            decision=decision,
            identity=identity,
            prompt=prompt,
            model=model,
            call_id=call_id,
            call_type=call_type,
            policy_id=policy_id,
        )
        approval_id = row.request_id
        started = self._clock()
        max_wait = self._settings.approval_max_wait_seconds
        deadline = started + max_wait
        log.info(
            "axonflow approval hold: approval_id=%s policy=%s call_id=%s max_wait=%gs",
            approval_id,
            policy_id,
            call_id,
            max_wait,
        )
        self._events.hold_started()

        def outcome(what: str, counted: str) -> None:
            waited = self._clock() - started
            self._events.hold_ended(outcome=counted, seconds=waited)
            log.info(
                "axonflow approval %s: approval_id=%s policy=%s call_id=%s waited=%.1fs",
                what,
                approval_id,
                policy_id,
                call_id,
                waited,
            )

        failures = 0
        last_failure = ""
        try:
            while True:
                outcome_error = terminal_error(row, decision=decision)
                if outcome_error is not None:
                    counted = row.status if row.status in ("rejected", "expired") else "invalid"
                    outcome(row.status, counted)
                    raise outcome_error
                if row.status in GO:
                    outcome(row.status, "approved")
                    return granted(row, policy_id=policy_id, wall_clock=self._wall_clock)
                remaining = deadline - self._clock()
                if remaining <= 0:
                    outcome("still pending at the deadline", "pending")
                    raise pending_error(row, decision=decision, waited=max_wait)
                await self._sleep(min(self._settings.approval_poll_interval_seconds, remaining))
                if client_gone is not None and await _gone(client_gone):
                    outcome("abandoned: the client disconnected", "pending")
                    raise pending_error(
                        row, decision=decision, waited=max_wait, client_disconnected=True
                    )
                try:
                    polled = await self._client.get_approval(approval_id=approval_id)
                    if canonical_uuid(polled.request_id) != approval_id:
                        raise AxonFlowFailure(
                            FailureKind.UNAVAILABLE, "AxonFlow answered for another approval"
                        )
                except AxonFlowFailure as failure:
                    failures += 1
                    last_failure = failure.reason
                    log.warning(
                        "axonflow approval poll failed (%d/%d): %s; approval_id=%s call_id=%s",
                        failures,
                        self._settings.breaker_failure_threshold,
                        failure.reason,
                        approval_id,
                        call_id,
                    )
                    if failures >= self._settings.breaker_failure_threshold:
                        outcome("abandoned: its status could not be read", "pending")
                        raise governance_error(
                            ErrorCode.APPROVAL_PENDING,
                            f"The approval status could not be read ({last_failure}); the "
                            f"request was not sent. {RETRY_HINT}",
                            approval_request_id=approval_id,
                            status_unavailable=True,
                            retry_header=APPROVAL_ID_HEADER,
                            policies=list(decision.policies),
                            decision_id=decision.decision_id,
                        ) from None
                    continue
                failures = 0
                row = polled
        except asyncio.CancelledError:
            outcome("cancelled", "cancelled")
            raise

    async def _create(
        self,
        *,
        decision: PreCheckDecision,
        identity: CallerIdentity,
        prompt: str,
        model: str,
        call_id: str,
        call_type: str,
        policy_id: str,
    ) -> HITLApprovalRequest:
        request = HITLCreateInput(
            client_id=self._client.client_id,
            user_id=identity.user_id or identity.end_user_id,
            original_query=prompt,
            request_type=REQUEST_TYPE,
            request_context=request_context(
                decision=decision,
                identity=identity,
                prompt=prompt,
                model=model,
                call_id=call_id,
                call_type=call_type,
                tenant_id=self._settings.tenant_id,
            ),
            triggered_policy_id=policy_id,
            triggered_policy_name=policy_id,
            trigger_reason=trigger_reason(decision, policy_id),
            severity=SEVERITY,
        )
        try:
            row = await self._client.create_approval(request=request)
            approval_id = canonical_uuid(row.request_id)
            if approval_id is None:
                raise AxonFlowFailure(
                    FailureKind.UNAVAILABLE, "AxonFlow sent a malformed approval id"
                )
        except AxonFlowFailure as failure:
            raise create_error(failure, decision=decision, call_id=call_id) from None
        return row.model_copy(update={"request_id": approval_id})


async def _gone(probe: DisconnectProbe) -> bool:
    try:
        return bool(await probe())
    except asyncio.CancelledError:
        raise
    except Exception:
        log.debug("axonflow: client disconnect probe failed", exc_info=True)
        return False
