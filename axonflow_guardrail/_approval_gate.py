"""Where approvals wait: human-in-the-loop holds for `require_approval` decisions.

(Interface in place; the hold-and-poll and resumable approvals are being built.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from axonflow_guardrail._axonflow_client import AxonFlowClient, PreCheckDecision
from axonflow_guardrail._errors import ErrorCode, governance_error
from axonflow_guardrail._identity import CallerIdentity, request_headers
from axonflow_guardrail._settings import GuardrailSettings

__all__ = ["APPROVAL_ID_HEADER", "ApprovalGate", "approval_id_from"]

APPROVAL_ID_HEADER = "x-axonflow-approval-id"
APPROVAL_ID_METADATA_KEY = "axonflow_approval_id"


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


class ApprovalGate:
    def __init__(self, *, client: AxonFlowClient, settings: GuardrailSettings) -> None:
        self._client = client
        self._settings = settings

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
    ) -> str:
        """Wait for a reviewer; return the approval id once approved, else raise."""
        raise governance_error(
            ErrorCode.APPROVAL_REQUIRED,
            "This request requires human approval.",
            policies=list(decision.policies),
            decision_id=decision.decision_id,
        )

    async def redeem(
        self, *, approval_id: str, identity: CallerIdentity, prompt: str, cache: Any
    ) -> None:
        """Let a re-sent request through once its approval is granted, else raise."""
        raise governance_error(
            ErrorCode.APPROVAL_INVALID,
            "Approval ids are not accepted yet.",
            approval_request_id=approval_id,
        )
