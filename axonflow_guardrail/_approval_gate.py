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
import dataclasses
import hashlib
import heapq
import hmac
import re
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, NoReturn

from axonflow.hitl import HITLApprovalRequest, HITLCreateInput
from fastapi import HTTPException

from axonflow_guardrail._axonflow_client import (
    AxonFlowClient,
    AxonFlowFailure,
    FailureKind,
    PreCheckDecision,
)
from axonflow_guardrail._client_disconnect import DisconnectProbe, find_disconnect_probe
from axonflow_guardrail._errors import ErrorCode, governance_error
from axonflow_guardrail._identity import CallerIdentity, request_headers
from axonflow_guardrail._log import log
from axonflow_guardrail._settings import GuardrailSettings

__all__ = [
    "APPROVAL_ID_HEADER",
    "APPROVAL_ID_METADATA_KEY",
    "ApprovalGate",
    "GrantedApproval",
    "approval_id_from",
]

APPROVAL_ID_HEADER = "x-axonflow-approval-id"
APPROVAL_ID_METADATA_KEY = "axonflow_approval_id"

#: `request_type` of the rows this gate creates.
REQUEST_TYPE = "llm_chat"
SEVERITY = "high"
#: Marks rows created by this gate (with `binding_version`), so a row from another
#: integration can never be redeemed here.
ROW_SOURCE = "axonflow-litellm-guardrail"
BINDING_VERSION = 1
#: The marker policy the platform adds to a require_approval decision; never the trigger.
HITL_MARKER_POLICY = "hitl_enterprise"
DEFAULT_TRIGGER_POLICY = "require_approval"

SPENT_KEY_PREFIX = "axonflow_guardrail:approval_spent:"
_SPENT_MARGIN_S = 3600
#: When a row's timestamps cannot be read: the platform's longest expiry (168 h) plus a day.
_FALLBACK_SPENT_TTL_S = 8 * 24 * 3600

_GO = frozenset({"approved", "overridden"})
_RETRY_HINT = f"Re-send the same request with the header '{APPROVAL_ID_HEADER}: <id>'."

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]


def approval_id_from(data: Mapping[str, Any]) -> str | None:
    """The approval id a client re-sends with a held request (header, or metadata)."""
    value = request_headers(data).get(APPROVAL_ID_HEADER)
    if not value:
        for bucket_name in ("metadata", "litellm_metadata"):
            bucket = data.get(bucket_name)
            if isinstance(bucket, Mapping) and bucket.get(APPROVAL_ID_METADATA_KEY):
                value = bucket.get(APPROVAL_ID_METADATA_KEY)
                break
    return value.strip() if isinstance(value, str) and value.strip() else None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class GrantedApproval:
    """An approval that may be used once: by the held request, or by the request re-sent."""

    approval_id: str
    status: str
    #: How long the spent marker must live (covers the row's validity window).
    spent_ttl_seconds: int
    policy_id: str | None = None


class _SpentLedger:
    """Approval ids spent in this process, each forgotten after its TTL.

    The authoritative record when there is no shared cache, and a backstop when the cache's
    bounded in-memory layer evicts a marker. Human approvals are rare, so it stays small.
    """

    def __init__(self, *, clock: Clock) -> None:
        self._clock = clock
        self._until: dict[str, float] = {}
        self._expiries: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def is_spent(self, approval_id: str) -> bool:
        with self._lock:
            self._prune()
            return approval_id in self._until

    def claim(self, approval_id: str, *, ttl_seconds: float) -> bool:
        """Record a use; False if the id was already spent here."""
        with self._lock:
            self._prune()
            if approval_id in self._until:
                return False
            until = self._clock() + ttl_seconds
            self._until[approval_id] = until
            heapq.heappush(self._expiries, (until, approval_id))
            return True

    def release(self, approval_id: str) -> None:
        """Undo a claim whose use did not happen (the shared record could not be written)."""
        with self._lock:
            self._until.pop(approval_id, None)

    def __len__(self) -> int:
        with self._lock:
            self._prune()
            return len(self._until)

    def _prune(self) -> None:
        now = self._clock()
        while self._expiries and self._expiries[0][0] <= now:
            until, approval_id = heapq.heappop(self._expiries)
            if self._until.get(approval_id) == until:
                del self._until[approval_id]


class ApprovalGate:
    """Creates, waits for, redeems and spends human approvals (see the module docstring)."""

    def __init__(
        self,
        *,
        client: AxonFlowClient,
        settings: GuardrailSettings,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
    ) -> None:
        self._client = client
        self._settings = settings
        self._sleep = sleep
        self._clock = clock
        self._wall_clock = wall_clock
        self._spent = _SpentLedger(clock=clock)

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
        cache: Any,
        client_gone: DisconnectProbe | None = None,
    ) -> GrantedApproval:
        """Wait for a reviewer; return the approval once granted, else raise the client's error.

        `client_gone` defaults to the disconnect probe of the HTTP request on the stack.
        `cache` is unused here (spending happens in `spend`, after the fresh pre-check); it is
        accepted so every approval call has the same shape.
        """
        policy_id = _trigger_policy(decision)
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

        def outcome(what: str) -> None:
            log.info(
                "axonflow approval %s: approval_id=%s policy=%s call_id=%s waited=%.1fs",
                what,
                approval_id,
                policy_id,
                call_id,
                self._clock() - started,
            )

        failures = 0
        last_failure = ""
        try:
            while True:
                outcome_error = self._terminal(row, decision=decision)
                if outcome_error is not None:
                    outcome(row.status)
                    raise outcome_error
                if row.status in _GO:
                    outcome(row.status)
                    return self._granted(row, policy_id=policy_id)
                remaining = deadline - self._clock()
                if remaining <= 0:
                    outcome("still pending at the deadline")
                    raise _pending_error(row, decision=decision, waited=max_wait)
                await self._sleep(min(self._settings.approval_poll_interval_seconds, remaining))
                if client_gone is not None and await _gone(client_gone):
                    outcome("abandoned: the client disconnected")
                    raise _pending_error(
                        row, decision=decision, waited=max_wait, client_disconnected=True
                    )
                try:
                    polled = await self._client.get_approval(approval_id=approval_id)
                    if _canonical_uuid(polled.request_id) != approval_id:
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
                        outcome("abandoned: its status could not be read")
                        raise governance_error(
                            ErrorCode.APPROVAL_PENDING,
                            f"The approval status could not be read ({last_failure}); the "
                            f"request was not sent. {_RETRY_HINT}",
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
            outcome("cancelled")
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
            request_context=_request_context(
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
            trigger_reason=_trigger_reason(decision, policy_id),
            severity=SEVERITY,
        )
        try:
            row = await self._client.create_approval(request=request)
            approval_id = _canonical_uuid(row.request_id)
            if approval_id is None:
                raise AxonFlowFailure(
                    FailureKind.UNAVAILABLE, "AxonFlow sent a malformed approval id"
                )
        except AxonFlowFailure as failure:
            raise _create_error(failure, decision=decision, call_id=call_id) from None
        return row.model_copy(update={"request_id": approval_id})

    def _terminal(
        self, row: HITLApprovalRequest, *, decision: PreCheckDecision | None
    ) -> HTTPException | None:
        """The error for a row that can no longer be used; None while it may still be."""
        details: dict[str, Any] = {"approval_request_id": row.request_id, "status": row.status}
        if decision is not None:
            details.update(policies=list(decision.policies), decision_id=decision.decision_id)
        if row.status == "rejected":
            # The reviewer's identity and comment stay with the platform: they may be internal.
            return governance_error(
                ErrorCode.APPROVAL_REJECTED,
                "A reviewer rejected this request; it was not sent.",
                **details,
            )
        if row.status == "expired":
            return governance_error(
                ErrorCode.APPROVAL_EXPIRED,
                "The approval request expired before a reviewer decided; the request was not "
                "sent. Send it again to ask for a new approval.",
                **details,
            )
        if row.status in _GO or row.status == "pending":
            return None
        return governance_error(
            ErrorCode.APPROVAL_INVALID,
            f"The approval request is in an unknown state ({row.status!r}); the request was "
            "not sent.",
            reason="unknown_status",
            **details,
        )

    def _granted(self, row: HITLApprovalRequest, *, policy_id: str | None) -> GrantedApproval:
        return GrantedApproval(
            approval_id=row.request_id,
            status=row.status,
            spent_ttl_seconds=self._spent_ttl(row),
            policy_id=policy_id,
        )

    def _spent_ttl(self, row: HITLApprovalRequest) -> int:
        """The row's validity window, measured two ways so clock skew cannot shorten it."""
        expires = _timestamp(row.expires_at)
        created = _timestamp(row.created_at)
        if expires is None or created is None:
            return _FALLBACK_SPENT_TTL_S
        window = max(expires - created, expires - self._wall_clock(), 0.0)
        return int(window) + _SPENT_MARGIN_S

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
        canonical = _canonical_uuid(approval_id)
        if canonical is None:
            # Never put client text into the agent's URL path.
            _invalid(None, "malformed", "The approval id is not a valid approval request id.")
        approval_id = canonical
        if await self._is_spent(approval_id, cache=cache):
            _invalid(approval_id, "spent", "This approval has already been used.")
        try:
            row = await self._client.get_approval(approval_id=approval_id)
        except AxonFlowFailure as failure:
            raise _redeem_error(failure, approval_id=approval_id) from None

        context = row.request_context or {}
        if (
            _canonical_uuid(row.request_id) != approval_id
            or row.client_id != self._client.client_id
            or context.get("source") != ROW_SOURCE
            or not isinstance(context.get("prompt_sha256"), str)
            or not isinstance(context.get("caller_binding_sha256"), str)
        ):
            _invalid(approval_id, "foreign", "This approval was not issued by this gateway.")
        if not hmac.compare_digest(str(context["caller_binding_sha256"]), _caller_hash(identity)):
            log.warning(
                "axonflow approval presented by another caller: approval_id=%s key_alias=%s",
                approval_id,
                identity.key_alias,
            )
            _invalid(approval_id, "caller_mismatch", "This approval was granted to another caller.")
        if not hmac.compare_digest(str(context["prompt_sha256"]), _prompt_hash(prompt)):
            _invalid(
                approval_id,
                "prompt_mismatch",
                "This approval was granted for a different request; re-send exactly the "
                "request that was held.",
            )
        error = self._terminal(row, decision=None)
        if error is not None:
            raise error
        if row.status == "pending":
            raise _pending_error(row, decision=None, waited=None)
        expires = _timestamp(row.expires_at)
        if expires is not None and self._wall_clock() >= expires:
            raise governance_error(
                ErrorCode.APPROVAL_EXPIRED,
                "This approval was granted but not used before it expired; the request was "
                "not sent. Send it again to ask for a new approval.",
                approval_request_id=approval_id,
                status=row.status,
            )
        policy = context.get("triggered_policy_id") or row.triggered_policy_id
        return self._granted(row, policy_id=str(policy) if policy else None)

    # ------------------------------------------------------------------ spend

    async def spend(self, approval: GrantedApproval, *, cache: Any, call_id: str = "") -> None:
        """Mark the approval used; raise `approval_invalid` if it was used already.

        Atomic across workers and instances through the shared cache (with Redis), and always
        within this process through the local ledger.
        """
        approval_id = approval.approval_id
        ttl = approval.spent_ttl_seconds
        if not self._spent.claim(approval_id, ttl_seconds=ttl):
            _invalid(approval_id, "spent", "This approval has already been used.")
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
                _invalid(approval_id, "spent", "This approval has already been used.")
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


async def _gone(probe: DisconnectProbe) -> bool:
    try:
        return bool(await probe())
    except asyncio.CancelledError:
        raise
    except Exception:
        log.debug("axonflow: client disconnect probe failed", exc_info=True)
        return False


def _trigger_policy(decision: PreCheckDecision) -> str:
    for policy in decision.policies:
        if policy and policy != HITL_MARKER_POLICY:
            return policy
    return DEFAULT_TRIGGER_POLICY


def _trigger_reason(decision: PreCheckDecision, policy_id: str) -> str:
    reason = (decision.block_reason or "").strip()
    if reason and reason != "require_approval":
        return reason
    return f"Policy '{policy_id}' requires human approval before this LLM request is sent."


def _prompt_hash(prompt: str) -> str:
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()


def _caller_hash(identity: CallerIdentity) -> str:
    return hashlib.sha256(f"axonflow-approval-caller\x00{identity.binding()}".encode()).hexdigest()


def _request_context(
    *,
    decision: PreCheckDecision,
    identity: CallerIdentity,
    prompt: str,
    model: str,
    call_id: str,
    call_type: str,
    tenant_id: str | None,
) -> dict[str, Any]:
    """What the reviewer sees next to the prompt, plus the server-side binding hashes."""
    context: dict[str, Any] = {
        "source": ROW_SOURCE,
        "binding_version": BINDING_VERSION,
        "model": model or None,
        "call_type": call_type,
        "litellm_call_id": call_id or None,
        "key_alias": identity.key_alias,
        "team_id": identity.team_id,
        "user_id": identity.user_id,
        "end_user_id": identity.end_user_id,
        "org_id": identity.org_id,
        "tenant_id": tenant_id,
        "triggered_policy_id": _trigger_policy(decision),
        "policies": list(decision.policies),
        "decision_id": decision.decision_id,
        "context_id": decision.context_id,
        "prompt_sha256": _prompt_hash(prompt),
        "caller_binding_sha256": _caller_hash(identity),
    }
    return {k: v for k, v in context.items() if v is not None}


def _pending_error(
    row: HITLApprovalRequest,
    *,
    decision: PreCheckDecision | None,
    waited: float | None,
    client_disconnected: bool = False,
) -> HTTPException:
    waited_text = f" after {waited:g} s" if waited else ""
    details: dict[str, Any] = {
        "approval_request_id": row.request_id,
        "status": "pending",
        "expires_at": row.expires_at,
        "retry_header": APPROVAL_ID_HEADER,
    }
    if decision is not None:
        details.update(policies=list(decision.policies), decision_id=decision.decision_id)
    if client_disconnected:
        details["client_disconnected"] = True
    return governance_error(
        ErrorCode.APPROVAL_PENDING,
        f"This request is waiting for human approval{waited_text}; it was not sent. {_RETRY_HINT}",
        **details,
    )


def _invalid(approval_id: str | None, reason: str, message: str) -> NoReturn:
    raise governance_error(
        ErrorCode.APPROVAL_INVALID,
        f"{message} The request was not sent.",
        approval_request_id=approval_id,
        reason=reason,
    )


def _create_error(
    failure: AxonFlowFailure, *, decision: PreCheckDecision, call_id: str
) -> HTTPException:
    details: dict[str, Any] = {
        "policies": list(decision.policies),
        "decision_id": decision.decision_id,
    }
    if failure.status in (403, 404):
        log.error(
            "axonflow approvals unavailable (HTTP %s creating an approval request): human "
            "approvals need AxonFlow Enterprise with the HITL queue; call_id=%s",
            failure.status,
            call_id,
        )
        return governance_error(
            ErrorCode.APPROVALS_UNSUPPORTED,
            "This request requires human approval, but the governance platform does not "
            "offer approvals (they need AxonFlow Enterprise); it was not sent.",
            **details,
        )
    if failure.kind is FailureKind.REJECTED:
        log.error(
            "axonflow refused to create an approval request (HTTP %s); call_id=%s",
            failure.status,
            call_id,
        )
        return governance_error(
            ErrorCode.GOVERNANCE_REJECTED,
            "This request requires human approval, and governance refused this gateway's "
            "request for one; it was not sent.",
            **details,
        )
    log.error(
        "axonflow approval request could not be created: %s; call_id=%s", failure.reason, call_id
    )
    return governance_error(
        ErrorCode.GOVERNANCE_UNAVAILABLE,
        f"This request requires human approval, and the approval request could not be "
        f"created ({failure.reason}); it was not sent.",
        **details,
    )


def _redeem_error(failure: AxonFlowFailure, *, approval_id: str) -> HTTPException:
    if failure.status in (400, 404):
        return governance_error(
            ErrorCode.APPROVAL_INVALID,
            "Governance knows no approval with this id; the request was not sent.",
            approval_request_id=approval_id,
            reason="unknown",
        )
    if failure.kind is FailureKind.REJECTED:
        log.error("axonflow refused to read approval %s (HTTP %s)", approval_id, failure.status)
        return governance_error(
            ErrorCode.GOVERNANCE_REJECTED,
            "Governance refused to read this approval; the request was not sent.",
            approval_request_id=approval_id,
        )
    log.warning("axonflow approval %s could not be read: %s", approval_id, failure.reason)
    return governance_error(
        ErrorCode.GOVERNANCE_UNAVAILABLE,
        f"The approval could not be checked ({failure.reason}); the request was not sent. "
        "Retry later with the same approval id.",
        approval_request_id=approval_id,
    )


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _canonical_uuid(value: object) -> str | None:
    """The lower-case hyphenated form of a UUID string, or None for anything else."""
    if not isinstance(value, str) or _UUID.fullmatch(value) is None:
        return None
    return value.lower()


_FRACTION = re.compile(r"(\.\d{6})\d+")


def _timestamp(value: str | None) -> float | None:
    """Seconds since the epoch of an RFC 3339 timestamp (nanoseconds tolerated), or None."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(_FRACTION.sub(r"\1", value.strip()))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.timestamp()
