"""What the client receives when an approval cannot be used, waited for or created.

Every error names the approval id (never the prompt or the reviewer) and says how to go on:
`approval_pending` tells the client to re-send with the id; `approval_invalid` says why the id
cannot be used (`reason`).
"""

from __future__ import annotations

from typing import Any, NoReturn

from axonflow.hitl import HITLApprovalRequest
from fastapi import HTTPException

from axonflow_guardrail._errors import ErrorCode, failure_code, governance_error
from axonflow_guardrail._log import log
from axonflow_guardrail.axonflow._client import PreCheckDecision
from axonflow_guardrail.axonflow._failures import AxonFlowFailure, FailureKind
from axonflow_guardrail.gates.approvals._binding import APPROVAL_ID_HEADER

__all__ = ["RETRY_HINT", "create_error", "invalid", "pending_error", "redeem_error"]

RETRY_HINT = f"Re-send the same request with the header '{APPROVAL_ID_HEADER}: <id>'."


def pending_error(
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
        f"This request is waiting for human approval{waited_text}; it was not sent. {RETRY_HINT}",
        **details,
    )


def invalid(approval_id: str | None, reason: str, message: str) -> NoReturn:
    raise governance_error(
        ErrorCode.APPROVAL_INVALID,
        f"{message} The request was not sent.",
        approval_request_id=approval_id,
        reason=reason,
    )


def create_error(
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
        failure_code(failure),  # unavailable, or the guardrail's own failure
        f"This request requires human approval, and the approval request could not be "
        f"created ({failure.reason}); it was not sent.",
        **details,
    )


def redeem_error(failure: AxonFlowFailure, *, approval_id: str) -> HTTPException:
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
        failure_code(failure),  # unavailable, or the guardrail's own failure
        f"The approval could not be checked ({failure.reason}); the request was not sent. "
        "Retry later with the same approval id.",
        approval_request_id=approval_id,
    )
