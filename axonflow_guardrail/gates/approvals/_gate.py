"""Where approvals wait: human-in-the-loop holds for `require_approval` decisions.

Why this is more than the seed's hold-and-poll
----------------------------------------------
A proxy usually sits behind a load balancer that closes idle connections after ~60 s; the
seed's 300 s hold would outlive the client and lose the approval the reviewer grants later.
So a hold is *resumable*:

1. `hold` creates the approval row (`create_hitl_request`) and polls it every
   `approval_poll_interval_seconds` for at most `approval_max_wait_seconds` (0: do not poll).
   `approved`/`overridden` proceed; `rejected`/`expired` deny. When the wait runs out the
   client gets `approval_pending` (403, not retried by the OpenAI/Anthropic SDKs) with the
   `approval_request_id`.
2. The client re-sends the same request with `x-axonflow-approval-id: <id>` (or
   `metadata.axonflow_approval_id`); `redeem` checks the row and lets it through once approved.

Binding and one-time use
------------------------
The row's `request_context` carries `prompt_sha256` (of the exact pre-check query) and
`caller_binding_sha256` (of `CallerIdentity.binding()`: the LiteLLM key, else user and team).
They live server-side, so a client cannot alter them, and they bind the approval to the text
the reviewer saw and to the caller who asked. (Images and files reach the pre-check, and the
reviewer, as placeholders: the binding covers exactly what was reviewed.)

An approval is spent by its first successful use, by the held request itself or by a re-send.
`spend` runs after the fresh pre-check (so a transient failure does not burn the id) and
increments `axonflow_guardrail:approval_spent:<id>` in the proxy's `DualCache`: with Redis the
increment is atomic across workers and instances, and only the first use sees 1. An
in-process ledger is consulted as well, because the cache's in-memory layer is size-bounded
(a spent id could be evicted) and the during_call hook gets no cache at all. The marker lives
for the row's whole validity window plus an hour, and an approval is honoured only until the
row's `expires_at`, so the marker always outlives the id. If Redis fails, LiteLLM's DualCache
falls back to its in-memory result: one-time use then holds per instance only.

Failures
--------
Approvals never fail open: the platform has answered (`require_approval`), so `fail_open`
(which is about *no* answer) does not apply. Creating the row: 403/404 → `approvals_unsupported`
(Community edition has no queue), 401 → `governance_rejected`, anything else →
`governance_unavailable` (503). Polling failures are counted apart from the circuit breaker,
*per hold*: `breaker_failure_threshold` consecutive failed polls end that hold with
`approval_pending` (the row exists; the client re-sends the id later), a good poll resets the
count. A gate-wide counter was rejected: one failed round of N concurrent polls (a single
blip) would end all N holds at once, and a new hold needs a successful create first anyway,
so holds cannot pile up against a dead platform. Any unexpected error inside the gate ends in
`governance_unavailable`, never in a pass.

Clients that go away
--------------------
LiteLLM does not cancel the request task when a client disconnects during a pre-call hook
(uvicorn only flags the connection; the hook runs to its end and the request then goes on to
the model). A hold therefore looks up the Starlette `Request` of the call it serves (it is a
local of the proxy's endpoint frames, up the stack of the hook) and asks
`Request.is_disconnected()` before every poll: a vanished client ends the hold within one poll
interval, nothing is spent, no model call is made, and the row stays pending (a reviewer's
later approval is simply never used). If no `Request` can be found (another ASGI server or a
future LiteLLM), the hold is bounded by `approval_max_wait_seconds` (plus one
`call_timeout_seconds` for the last poll). Polling runs inline in the request's own task, so a
cancellation (server shutdown, LiteLLM's SSE keepalive mode) ends it with nothing left behind.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import HTTPException

from axonflow_guardrail._errors import ErrorCode, governance_error
from axonflow_guardrail._log import log
from axonflow_guardrail._settings import GuardrailSettings
from axonflow_guardrail.axonflow._client import AxonFlowClient, PreCheckDecision
from axonflow_guardrail.axonflow._failures import AxonFlowFailure
from axonflow_guardrail.gates.approvals._binding import (
    ROW_SOURCE,
    approval_id_from,
    caller_hash,
    canonical_uuid,
    prompt_hash,
    timestamp,
)
from axonflow_guardrail.gates.approvals._client_disconnect import DisconnectProbe
from axonflow_guardrail.gates.approvals._errors import invalid, pending_error, redeem_error
from axonflow_guardrail.gates.approvals._hold import ApprovalHold
from axonflow_guardrail.gates.approvals._ledger import SpentLedger
from axonflow_guardrail.gates.approvals._rows import GrantedApproval, granted, terminal_error
from axonflow_guardrail.observe._events import NO_EVENTS, ApprovalEvents
from axonflow_guardrail.request._governed import GovernedRequest
from axonflow_guardrail.request._identity import CallerIdentity

__all__ = ["ApprovalGate", "GrantedApproval"]

SPENT_KEY_PREFIX = "axonflow_guardrail:approval_spent:"

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]


class ApprovalGate:
    """Holds, redeems and spends human approvals (see the module docstring)."""

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
        self._wall_clock = wall_clock
        self._spent = SpentLedger(clock=clock)
        self._holds = ApprovalHold(
            client=client,
            settings=settings,
            sleep=sleep,
            clock=clock,
            wall_clock=wall_clock,
            events=events,
        )

    # ------------------------------------------------------------------ the journey's stages

    async def resume(self, request: GovernedRequest, *, cache: Any) -> GrantedApproval | None:
        """The approval a re-sent held request presents, checked now (enforce mode only).

        Spent only once the request may go on (`spend`), so a transient failure later does not
        burn it.
        """
        presented = approval_id_from(request.data)
        if presented is None or not request.enforcing:
            return None
        return await self.redeem(
            approval_id=presented, identity=request.identity, prompt=request.query, cache=cache
        )

    async def hold_for(
        self, request: GovernedRequest, decision: PreCheckDecision
    ) -> GrantedApproval:
        """Hold `request` until a reviewer decides (see `hold`)."""
        return await self.hold(
            decision=decision,
            identity=request.identity,
            prompt=request.query,
            model=request.model,
            call_id=request.call_id,
            call_type=request.call_type,
        )

    # ------------------------------------------------------------------ hold

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

        Nothing is spent here either: the caller spends it after the fresh pre-check.
        """
        return await self._holds.hold(
            decision=decision,
            identity=identity,
            prompt=prompt,
            model=model,
            call_id=call_id,
            call_type=call_type,
            client_gone=client_gone,
        )

    # ------------------------------------------------------------------ redeem

    async def redeem(
        self, *, approval_id: str, identity: CallerIdentity, prompt: str, cache: Any
    ) -> GrantedApproval:
        """Check a re-sent request's approval; return it if usable, else raise the error.

        Nothing is spent here: call `spend` once the request is allowed to go on.
        """
        try:
            return await self._redeem(
                approval_id=approval_id, identity=identity, prompt=prompt, cache=cache
            )
        except (HTTPException, asyncio.CancelledError):
            raise
        except Exception:
            log.exception("axonflow approval redeem failed unexpectedly; id=%r", approval_id[:64])
            raise governance_error(
                ErrorCode.GOVERNANCE_UNAVAILABLE,
                "The approval could not be checked; the request was not sent. Retry later "
                "with the same approval id.",
            ) from None

    async def _redeem(
        self, *, approval_id: str, identity: CallerIdentity, prompt: str, cache: Any
    ) -> GrantedApproval:
        canonical = canonical_uuid(approval_id)
        if canonical is None:
            # Never put client text into the agent's URL path.
            invalid(None, "malformed", "The approval id is not a valid approval request id.")
        approval_id = canonical
        if await self._is_spent(approval_id, cache=cache):
            invalid(approval_id, "spent", "This approval has already been used.")
        try:
            row = await self._client.get_approval(approval_id=approval_id)
        except AxonFlowFailure as failure:
            raise redeem_error(failure, approval_id=approval_id) from None

        context = row.request_context or {}
        if (
            canonical_uuid(row.request_id) != approval_id
            or row.client_id != self._client.client_id
            or context.get("source") != ROW_SOURCE
            or not isinstance(context.get("prompt_sha256"), str)
            or not isinstance(context.get("caller_binding_sha256"), str)
        ):
            invalid(approval_id, "foreign", "This approval was not issued by this gateway.")
        if not hmac.compare_digest(str(context["caller_binding_sha256"]), caller_hash(identity)):
            log.warning(
                "axonflow approval presented by another caller: approval_id=%s key_alias=%s",
                approval_id,
                identity.key_alias,
            )
            invalid(approval_id, "caller_mismatch", "This approval was granted to another caller.")
        if not hmac.compare_digest(str(context["prompt_sha256"]), prompt_hash(prompt)):
            invalid(
                approval_id,
                "prompt_mismatch",
                "This approval was granted for a different request; re-send exactly the "
                "request that was held.",
            )
        error = terminal_error(row, decision=None)
        if error is not None:
            raise error
        if row.status == "pending":
            raise pending_error(row, decision=None, waited=None)
        expires = timestamp(row.expires_at)
        if expires is not None and self._wall_clock() >= expires:
            raise governance_error(
                ErrorCode.APPROVAL_EXPIRED,
                "This approval was granted but not used before it expired; the request was "
                "not sent. Send it again to ask for a new approval.",
                approval_request_id=approval_id,
                status=row.status,
            )
        policy = context.get("triggered_policy_id") or row.triggered_policy_id
        return granted(row, policy_id=str(policy) if policy else None, wall_clock=self._wall_clock)

    # ------------------------------------------------------------------ spend

    async def spend(
        self, approval: GrantedApproval | None, *, cache: Any, call_id: str = ""
    ) -> None:
        """Mark the approval used (if there is one); raise `approval_invalid` if it was used
        already.

        Atomic across workers and instances through the shared cache (with Redis), and always
        within this process through the local ledger.
        """
        if approval is None:
            return
        approval_id = approval.approval_id
        ttl = approval.spent_ttl_seconds
        if not self._spent.claim(approval_id, ttl_seconds=ttl):
            invalid(approval_id, "spent", "This approval has already been used.")
        if cache is not None:
            try:
                count = await cache.async_increment_cache(
                    key=SPENT_KEY_PREFIX + approval_id, value=1, ttl=ttl
                )
            except asyncio.CancelledError:
                self._spent.release(approval_id)
                raise
            except Exception:
                self._spent.release(approval_id)
                log.exception("axonflow approval use could not be recorded; id=%s", approval_id)
                raise governance_error(
                    ErrorCode.GOVERNANCE_UNAVAILABLE,
                    "The approval's use could not be recorded; the request was not sent. "
                    "Retry with the same approval id.",
                    approval_request_id=approval_id,
                ) from None
            if count is not None and float(count) > 1:
                invalid(approval_id, "spent", "This approval has already been used.")
        log.info(
            "axonflow approval used: approval_id=%s status=%s call_id=%s",
            approval_id,
            approval.status,
            call_id,
        )

    async def _is_spent(self, approval_id: str, *, cache: Any) -> bool:
        """A cheap early answer for a replay; `spend` remains the atomic arbiter."""
        if self._spent.is_spent(approval_id):
            return True
        if cache is None:
            return False
        try:
            value = await cache.async_get_cache(key=SPENT_KEY_PREFIX + approval_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.debug("axonflow: spent-approval lookup failed", exc_info=True)
            return False
        try:
            return value is not None and float(value) >= 1
        except (TypeError, ValueError):
            return False


# ---------------------------------------------------------------------- helpers
