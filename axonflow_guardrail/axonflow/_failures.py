"""The one place an AxonFlow failure is classified: the platform refused, or it is unavailable.

Why one place: the SDK reports trouble in a dozen shapes (its own exception classes, raw
`httpx` errors from the MCP routes, `KeyError`/`ValidationError`/`JSONDecodeError` on
malformed answers, `AxonFlowError("HTTP 503: …")`). The guardrail only needs to know two
things: did the platform *refuse* (401/402/403: it is up and says no, always fail closed), or
was it *unavailable* (connection, timeout, 5xx, malformed answer: `fail_open` decides).
`classify_failure` answers that, and every call in `_client` raises `AxonFlowFailure` only.

A third answer keeps `fail_open` to its promise: a call that raised before AxonFlow answered,
and not on the wire (a `ValueError` while the SDK encoded the request, a `TypeError` in our
own code), is *broken*: the guardrail's own failure, never AxonFlow's unavailability, so it
fails closed like any other bug of the guardrail (`fail_open_on_internal_error` decides).
Without that, any input the guardrail or the SDK could not encode would pass unchecked under
`fail_open: true`, as a lone surrogate once did.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping
from typing import Any

import httpx
import pydantic
from axonflow import exceptions as sdk_errors

__all__ = ["AxonFlowFailure", "FailureKind", "classify_failure"]

_HTTP_STATUS_IN_MESSAGE = re.compile(r"^HTTP (\d{3})\b")
_REJECTION_STATUSES = frozenset({401, 402, 403})


class FailureKind(enum.Enum):
    #: AxonFlow is up and said no (401/402/403): always fails closed.
    REJECTED = "rejected"
    #: AxonFlow could not answer (connection, timeout, 5xx, malformed answer): `fail_open`.
    UNAVAILABLE = "unavailable"
    #: The call failed on our side before any answer: the guardrail's bug, fails closed.
    BROKEN = "broken"


class AxonFlowFailure(Exception):
    """An AxonFlow call that gave no usable answer, classified.

    `reason` is short and safe to log or show a client: it never carries credentials,
    tokens or prompt text.
    """

    def __init__(
        self,
        kind: FailureKind,
        reason: str,
        *,
        status: int | None = None,
        breaker_open: bool = False,
        unsent: bool = False,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason
        self.status = status
        self.breaker_open = breaker_open
        #: True when the request certainly never reached AxonFlow (safe to send again).
        self.unsent = unsent or breaker_open or status == 503
        self.details = dict(details or {})


def _status_from(exc: BaseException) -> int | None:
    """The HTTP status behind an SDK error, wherever the SDK left it."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, httpx.HTTPStatusError):
            return current.response.status_code
        if isinstance(current, sdk_errors.AxonFlowError):
            match = _HTTP_STATUS_IN_MESSAGE.match(str(current))
            if match:
                return int(match.group(1))
        current = current.__cause__ or current.__context__
    return None


def classify_failure(
    exc: BaseException, *, answered: int | None = None, answer_seen: bool | None = None
) -> AxonFlowFailure:
    """Map anything an SDK call raised to rejected, unavailable or broken. The only such
    mapping.

    `answered`: the HTTP status of the call's answer when known (read by a response hook),
    for SDK errors that drop it (the MCP checks raise `ConnectorError` with only the body's
    message): a 401 there is a refusal, never an outage that `fail_open` could let through.
    `answer_seen`: whether the response hook saw an answer (None: not known, e.g. an SDK
    that takes no hooks). False, with an error that is neither the wire's nor the SDK's own,
    means the call broke on our side before AxonFlow said anything: broken, not unavailable.
    """
    if isinstance(exc, AxonFlowFailure):
        return exc
    if isinstance(exc, sdk_errors.AuthenticationError):
        return AxonFlowFailure(
            FailureKind.REJECTED, "AxonFlow rejected the guardrail's credentials", status=401
        )
    if isinstance(exc, sdk_errors.BudgetExceededError):
        budget = {
            "budget_id": exc.budget_id,
            "budget_name": exc.budget_name,
            "used_usd": exc.used_usd,
            "limit_usd": exc.limit_usd,
        }
        return AxonFlowFailure(
            FailureKind.REJECTED, "AxonFlow budget exceeded", status=402, details=budget
        )
    if isinstance(exc, sdk_errors.PolicyViolationError):
        return AxonFlowFailure(
            FailureKind.REJECTED,
            exc.block_reason or str(exc) or "Request blocked by policy",
            status=403,
            details={"policy": getattr(exc, "policy", None)},
        )
    status = _status_from(exc)
    if status is None and answered is not None and answered >= 400:
        status = answered
    if status in _REJECTION_STATUSES:
        # A 401/402/403 whose body the SDK could not parse: still a refusal.
        return AxonFlowFailure(
            FailureKind.REJECTED, f"AxonFlow refused the call (HTTP {status})", status=status
        )
    if isinstance(exc, (sdk_errors.TimeoutError, TimeoutError, httpx.TimeoutException)):
        return AxonFlowFailure(FailureKind.UNAVAILABLE, "AxonFlow did not answer in time")
    if isinstance(exc, (sdk_errors.ConnectionError, httpx.ConnectError, ConnectionRefusedError)):
        return AxonFlowFailure(FailureKind.UNAVAILABLE, "AxonFlow is unreachable", unsent=True)
    if isinstance(exc, (httpx.TransportError, OSError)):
        # Connected, then the connection broke: the request may have been processed.
        return AxonFlowFailure(FailureKind.UNAVAILABLE, "AxonFlow dropped the connection")
    if status is not None:
        return AxonFlowFailure(
            FailureKind.UNAVAILABLE, f"AxonFlow answered HTTP {status}", status=status
        )
    if answer_seen is False and not isinstance(exc, sdk_errors.AxonFlowError):
        return AxonFlowFailure(
            FailureKind.BROKEN,
            f"the guardrail failed before AxonFlow answered: {type(exc).__name__}",
        )
    if isinstance(
        exc, (KeyError, pydantic.ValidationError, json.JSONDecodeError, ValueError, TypeError)
    ):
        return AxonFlowFailure(FailureKind.UNAVAILABLE, "AxonFlow sent a malformed answer")
    if isinstance(exc, sdk_errors.AxonFlowError):
        return AxonFlowFailure(
            FailureKind.UNAVAILABLE, f"AxonFlow call failed: {type(exc).__name__}"
        )
    return AxonFlowFailure(FailureKind.UNAVAILABLE, f"unexpected error: {type(exc).__name__}")
