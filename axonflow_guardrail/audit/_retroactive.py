"""Governance after the fact: a new pre-check for a record that has no usable context.

Two kinds of record need one. A call that passed on `fail_open` (AxonFlow unreachable, the
breaker open) never had a context: when AxonFlow is back, the shipper pre-checks its text as
the caller would have been checked, audits the call against that context, and records the
verdict in the audit's metadata. A call that was pre-checked, but whose audit could not be
delivered within AxonFlow's context window (5 minutes; AxonFlow then answers 400), is
pre-checked again the same way, and its audit is marked `retroactive` with the original
decision's id and time.

A retroactive verdict that would have blocked the call (deny, or an approval it never had) is
logged at WARNING with the call id and policies, counted, and listed by `outbox status`:
the answer to "what went through while governance was down?".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from axonflow_guardrail._log import log
from axonflow_guardrail._settings import GuardrailSettings
from axonflow_guardrail.audit._outbox import FlaggedCall, Outbox
from axonflow_guardrail.audit._outbox_entry import OutboxEntry
from axonflow_guardrail.audit._records import LLMCallAudit, Replay
from axonflow_guardrail.axonflow._client import AxonFlowClient, Verdict
from axonflow_guardrail.axonflow._failures import FailureKind

__all__ = ["FreshContext", "NotReplayable", "Retroactive"]

#: Verdicts that would have stopped the call had AxonFlow answered in time.
_FLAGGED = frozenset({Verdict.DENY, Verdict.NEEDS_APPROVAL})


class NotReplayable(Exception):
    """The record cannot get a new context (no text kept, token unreadable): a dead letter."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FreshContext:
    context_id: str
    metadata: Mapping[str, Any]
    expires_at: float | None


class Retroactive:
    def __init__(
        self, *, client: AxonFlowClient, settings: GuardrailSettings, outbox: Outbox
    ) -> None:
        self._client = client
        self._settings = settings
        self._outbox = outbox

    async def context_for(self, entry: OutboxEntry, *, now: float) -> FreshContext:
        """Pre-check the call again; raises `NotReplayable` or `AxonFlowFailure`."""
        record = entry.record
        if not isinstance(record, LLMCallAudit) or record.replay is None:
            raise NotReplayable("the context expired and the record carries no request text")
        replay = record.replay
        if entry.token_problem:
            raise NotReplayable(entry.token_problem)
        if not replay.query:
            raise NotReplayable(
                "the context expired and the request text was not kept "
                "(audit_outbox_keep_prompts: false)"
            )
        try:
            decision = await self._client.pre_check(
                user_token=replay.user_token,
                query=replay.query,
                context=self._context(replay, call_id=record.call_id),
                traceparent=record.traceparent,
                gated=False,  # behind the shipper's own breaker
            )
        except Exception as failure:
            kind = getattr(failure, "kind", None)
            if kind is FailureKind.REJECTED:
                raise NotReplayable(f"the retroactive pre-check was refused: {failure}") from None
            if kind is FailureKind.BROKEN:  # sending it again would fail the same way
                raise NotReplayable(f"the retroactive pre-check failed: {failure}") from None
            raise
        verdict = decision.verdict
        metadata: dict[str, Any] = {
            "retroactive": True,
            "retroactive_verdict": verdict.value,
            "retroactive_policies": list(decision.policies),
            "retroactive_decision_id": decision.decision_id,
            "original_decision_id": replay.decision_id,
            "original_context_id": record.context_id or None,
            "original_checked_at": replay.checked_at,
        }
        self._outbox.count(f"retroactive_{verdict.value}")
        if verdict in _FLAGGED:
            metadata["would_have_blocked"] = True
            self._outbox.flag(
                FlaggedCall(
                    call_id=record.call_id,
                    verdict=verdict.value,
                    policies=decision.policies,
                    decided_at=now,
                    called_at=replay.checked_at,
                )
            )
            log.warning(
                "axonflow retroactive pre-check: call_id=%s %s would have been %s; "
                "policies=%s decision_id=%s",
                record.call_id,
                "that passed on fail_open" if replay.failed_open else "(context expired)",
                "held for approval" if verdict is Verdict.NEEDS_APPROVAL else "BLOCKED",
                ",".join(decision.policies) or "-",
                decision.decision_id,
            )
        return FreshContext(
            context_id=decision.context_id, metadata=metadata, expires_at=decision.expires_at
        )

    def _context(self, replay: Replay, *, call_id: str) -> dict[str, Any]:
        """The context of the original pre-check (`PreCheckGate.context_for`), marked."""
        context: dict[str, Any] = dict(self._settings.extra_context)
        if self._settings.tenant_id:
            context["tenant_id"] = self._settings.tenant_id
        context.update(replay.identity)
        context.update(
            {
                "source": "litellm-proxy",
                "model": replay.model,
                "route": replay.route,
                "call_type": replay.call_type,
                "litellm_call_id": call_id,
                "retroactive": True,
                "original_decision_id": replay.decision_id,
                "failed_open": bool(replay.failed_open),
            }
        )
        return {k: v for k, v in context.items() if v is not None}
