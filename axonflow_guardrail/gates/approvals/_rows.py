"""An approval row's state: usable, still pending, or an error for the client.

Shared by the hold (which waits for a decision) and the gate (which redeems a re-sent id): a
row in a final state that forbids the call is an error (`terminal_error`); an approved row
becomes a `GrantedApproval`, spent once, whose spent marker outlives the row's validity.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from axonflow.hitl import HITLApprovalRequest
from fastapi import HTTPException

from axonflow_guardrail._errors import ErrorCode, governance_error
from axonflow_guardrail.axonflow._client import PreCheckDecision
from axonflow_guardrail.gates.approvals._binding import timestamp

__all__ = ["GO", "GrantedApproval", "granted", "spent_ttl", "terminal_error"]

Clock = Callable[[], float]
#: Statuses that let the request go on.
GO = frozenset({"approved", "overridden"})
_SPENT_MARGIN_S = 3600
#: When a row's timestamps cannot be read: the platform's longest expiry (168 h) plus a day.
_FALLBACK_SPENT_TTL_S = 8 * 24 * 3600


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class GrantedApproval:
    """An approval that may be used once: by the held request, or by the request re-sent."""

    approval_id: str
    status: str
    #: How long the spent marker must live (covers the row's validity window).
    spent_ttl_seconds: int
    policy_id: str | None = None


def terminal_error(
    row: HITLApprovalRequest, *, decision: PreCheckDecision | None
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
    if row.status in GO or row.status == "pending":
        return None
    return governance_error(
        ErrorCode.APPROVAL_INVALID,
        f"The approval request is in an unknown state ({row.status!r}); the request was not sent.",
        reason="unknown_status",
        **details,
    )


def granted(
    row: HITLApprovalRequest, *, policy_id: str | None, wall_clock: Clock
) -> GrantedApproval:
    return GrantedApproval(
        approval_id=row.request_id,
        status=row.status,
        spent_ttl_seconds=spent_ttl(row, wall_clock=wall_clock),
        policy_id=policy_id,
    )


def spent_ttl(row: HITLApprovalRequest, *, wall_clock: Clock) -> int:
    """The row's validity window, measured two ways so clock skew cannot shorten it."""
    expires = timestamp(row.expires_at)
    created = timestamp(row.created_at)
    if expires is None or created is None:
        return _FALLBACK_SPENT_TTL_S
    window = max(expires - created, expires - wall_clock(), 0.0)
    return int(window) + _SPENT_MARGIN_S


# ------------------------------------------------------------------ redeem
