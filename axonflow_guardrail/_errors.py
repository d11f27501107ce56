"""What the client receives when governance says no, or cannot answer.

LiteLLM turns an `HTTPException` raised by a guardrail into the route's own error envelope
(OpenAI's `{"error": {...}}`, Anthropic's on `/v1/messages`): `detail["error"]` becomes the
message and the whole detail dict lands under `error.provider_specific_fields`. So every
refusal here is an `HTTPException` with a machine-readable `code`.

Status codes are chosen so that OpenAI and Anthropic SDKs do *not* retry on their own (they
retry 408, 409, 429 and every 5xx): a policy block must not be re-sent three times. The only
5xx is 503: "AxonFlow cannot answer and fail_open is false", or the guardrail failed on this
request (`guardrail_error`, fail-closed); there a retry is right.
A plain exception escaping a hook would be a 500; the guardrail never lets one out.

Not every route reads the `detail` dict: `/v1/completions` builds its error from the
exception's `message` / `type` / `param` attributes, and a `/v1/responses` stream builds its
`response.failed` event from `message` and `code`. `GovernanceError` carries those too, so every
route shows the guardrail's message (and, on Responses streams, its `code`) instead of a
stringified dict.
"""

from __future__ import annotations

import enum
from typing import Any

from fastapi import HTTPException

from axonflow_guardrail.axonflow._failures import AxonFlowFailure, FailureKind

__all__ = ["ErrorCode", "GovernanceError", "failure_code", "governance_error"]


class ErrorCode(enum.StrEnum):
    """The `code` field of every error the guardrail returns. Documented in the README."""

    POLICY_DENIED = "policy_denied"
    OUTPUT_BLOCKED = "output_blocked"
    BUDGET_EXCEEDED = "budget_exceeded"
    GOVERNANCE_REJECTED = "governance_rejected"
    GOVERNANCE_UNAVAILABLE = "governance_unavailable"
    REQUEST_TOO_LARGE = "request_too_large_to_check"
    MALFORMED_REQUEST = "malformed_request"
    FIELD_NOT_ALLOWED = "field_not_allowed"
    UNVERIFIABLE_CONTENT = "unverifiable_content"
    GUARDRAIL_ERROR = "guardrail_error"
    REDACTION_FAILED = "redaction_failed"
    APPROVAL_REQUIRED = "approval_required"
    APPROVAL_PENDING = "approval_pending"
    APPROVAL_REJECTED = "approval_rejected"
    APPROVAL_EXPIRED = "approval_expired"
    APPROVAL_INVALID = "approval_invalid"
    APPROVALS_UNSUPPORTED = "approvals_unsupported"


_STATUS: dict[ErrorCode, int] = {
    ErrorCode.POLICY_DENIED: 400,
    ErrorCode.OUTPUT_BLOCKED: 400,
    ErrorCode.BUDGET_EXCEEDED: 402,
    ErrorCode.GOVERNANCE_REJECTED: 403,
    ErrorCode.GOVERNANCE_UNAVAILABLE: 503,
    ErrorCode.REQUEST_TOO_LARGE: 400,
    ErrorCode.MALFORMED_REQUEST: 400,
    ErrorCode.FIELD_NOT_ALLOWED: 400,
    ErrorCode.UNVERIFIABLE_CONTENT: 400,
    ErrorCode.GUARDRAIL_ERROR: 503,
    ErrorCode.REDACTION_FAILED: 400,
    ErrorCode.APPROVAL_REQUIRED: 403,
    ErrorCode.APPROVAL_PENDING: 403,
    ErrorCode.APPROVAL_REJECTED: 403,
    ErrorCode.APPROVAL_EXPIRED: 403,
    ErrorCode.APPROVAL_INVALID: 403,
    ErrorCode.APPROVALS_UNSUPPORTED: 403,
}


def status_of(code: ErrorCode) -> int:
    return _STATUS[code]


# The OpenAI error `type` LiteLLM derives from a status when an exception names none.
_OPENAI_TYPES: dict[int, str] = {
    401: "authentication_error",
    403: "permission_error",
    429: "rate_limit_error",
}


def openai_error_type(status_code: int) -> str:
    if status_code in _OPENAI_TYPES:
        return _OPENAI_TYPES[status_code]
    return "invalid_request_error" if status_code < 500 else "internal_server_error"


class GovernanceError(HTTPException):
    """A refusal: an `HTTPException` (rendered from `detail` on most routes) that also carries
    the attributes LiteLLM reads off other exceptions (`message`, `type`, `param`, `code`)."""

    def __init__(
        self,
        status_code: int,
        detail: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status_code=status_code, detail=detail, headers=headers)
        self.message = str(detail.get("error") or "Request refused by governance")
        self.type = openai_error_type(status_code)
        self.param: str | None = None
        self.code = str(detail.get("code") or "")


def governance_error(code: ErrorCode, message: str, **details: Any) -> GovernanceError:
    """An HTTPException LiteLLM renders in the route's error envelope.

    `details` must hold nothing secret: no tokens, no credentials, no prompt text.
    """
    detail: dict[str, Any] = {"error": message, "code": code.value}
    detail.update({k: v for k, v in details.items() if v is not None})
    retry = code in (ErrorCode.GOVERNANCE_UNAVAILABLE, ErrorCode.GUARDRAIL_ERROR)
    headers = {"Retry-After": "5"} if retry else None
    return GovernanceError(status_code=_STATUS[code], detail=detail, headers=headers)


def failure_code(failure: AxonFlowFailure) -> ErrorCode:
    """The client's code for an AxonFlow call that gave no usable answer, by its kind."""
    return {
        FailureKind.REJECTED: ErrorCode.GOVERNANCE_REJECTED,
        FailureKind.UNAVAILABLE: ErrorCode.GOVERNANCE_UNAVAILABLE,
        FailureKind.BROKEN: ErrorCode.GUARDRAIL_ERROR,
    }[failure.kind]
