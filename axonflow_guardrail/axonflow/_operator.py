"""AxonFlow as the operator commands see it: the doctor's probes and a reviewer's queue.

Every call goes through the official SDK, retries off and bounded by the caller's timeout,
its failures classified by `classify_failure` like the guardrail's own. The one call outside
the SDK's public methods is `/health`'s `edition`, which `health_check_detailed` drops: it is
read through the SDK's own request method (the same client, credentials and proxies).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import axonflow
import orjson
from axonflow.hitl import HITLApprovalRequest, HITLQueueListOptions, HITLReviewInput
from axonflow.types import RetryConfig

from axonflow_guardrail.axonflow._failures import AxonFlowFailure, FailureKind, classify_failure

__all__ = [
    "DOCTOR_QUERY",
    "PlatformHealth",
    "ReviewerIdentity",
    "approvals_available",
    "approve",
    "doctor_pre_check",
    "get_approval",
    "list_pending",
    "operator_client",
    "platform_health",
    "reject",
    "server_message",
]

T = TypeVar("T")
#: The doctor's pre-check: harmless text no policy should hold, marked as the doctor's.
DOCTOR_QUERY = "axonflow-guardrail doctor: connectivity check"
_BODY_IN_MESSAGE = re.compile(r"^HTTP \d{3}: (.*)$", re.DOTALL)


def operator_client(
    *, endpoint: str, client_id: str, client_secret: str, timeout: float
) -> axonflow.AxonFlow:
    """An SDK client for one command: no retries (the command reports, the operator retries)."""
    return axonflow.AxonFlow(
        endpoint=endpoint,
        client_id=client_id,
        client_secret=client_secret or None,
        timeout=timeout,
        retry_config=RetryConfig(enabled=False),
        cache_enabled=False,
    )


async def _timed(call: Callable[[], Awaitable[T]], *, timeout: float) -> tuple[T, float]:
    """The call's result and its round trip in milliseconds; raises `AxonFlowFailure`."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            result = await call()
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        raise classify_failure(exc) from exc
    return result, (time.perf_counter() - started) * 1000


@dataclass(frozen=True, slots=True)
class PlatformHealth:
    status: str
    version: str
    edition: str | None
    rtt_ms: float


async def platform_health(sdk: axonflow.AxonFlow, *, timeout: float) -> PlatformHealth:
    """`/health` (no credentials needed): reachable, which version and edition."""
    body, rtt = await _timed(lambda: sdk._request("GET", "/health"), timeout=timeout)
    if not isinstance(body, dict):
        raise AxonFlowFailure(FailureKind.UNAVAILABLE, "AxonFlow sent a malformed /health answer")
    edition = body.get("edition")
    return PlatformHealth(
        status=str(body.get("status") or "unknown"),
        version=str(body.get("version") or "unknown"),
        edition=edition if isinstance(edition, str) and edition else None,
        rtt_ms=rtt,
    )


async def doctor_pre_check(
    sdk: axonflow.AxonFlow, *, user_token: str, timeout: float
) -> tuple[Any, float]:
    """One pre-check of `DOCTOR_QUERY` with the guardrail's credentials and user token."""
    return await _timed(
        lambda: sdk.pre_check(
            user_token=user_token,
            query=DOCTOR_QUERY,
            context={"source": "axonflow-guardrail-doctor"},
        ),
        timeout=timeout,
    )


async def approvals_available(sdk: axonflow.AxonFlow, *, timeout: float) -> tuple[bool, int | None]:
    """Whether the platform has an approval queue (Enterprise), and how many are pending.

    Community edition answers 404 (or 403) on the queue: (False, None).
    """
    try:
        listed, _ = await _timed(
            lambda: sdk.list_hitl_queue(HITLQueueListOptions(status="pending", limit=1)),
            timeout=timeout,
        )
    except AxonFlowFailure as failure:
        if failure.status in (403, 404):
            return False, None
        raise
    return True, listed.total


# ---------------------------------------------------------------------- the reviewer's queue


@dataclass(frozen=True, slots=True)
class ReviewerIdentity:
    reviewer_id: str
    reviewer_email: str


async def list_pending(
    sdk: axonflow.AxonFlow, *, limit: int, timeout: float
) -> tuple[list[HITLApprovalRequest], int]:
    listed, _ = await _timed(
        lambda: sdk.list_hitl_queue(HITLQueueListOptions(status="pending", limit=limit)),
        timeout=timeout,
    )
    return list(listed.items), listed.total


async def get_approval(
    sdk: axonflow.AxonFlow, approval_id: str, *, timeout: float
) -> HITLApprovalRequest:
    row, _ = await _timed(lambda: sdk.get_hitl_request(approval_id), timeout=timeout)
    return row


async def approve(
    sdk: axonflow.AxonFlow,
    approval_id: str,
    *,
    reviewer: ReviewerIdentity,
    comment: str | None,
    timeout: float,
) -> None:
    review = HITLReviewInput(
        reviewer_id=reviewer.reviewer_id, reviewer_email=reviewer.reviewer_email, comment=comment
    )
    await _timed(lambda: sdk.approve_hitl_request(approval_id, review), timeout=timeout)


async def reject(
    sdk: axonflow.AxonFlow,
    approval_id: str,
    *,
    reviewer: ReviewerIdentity,
    reason: str,
    timeout: float,
) -> None:
    review = HITLReviewInput(
        reviewer_id=reviewer.reviewer_id, reviewer_email=reviewer.reviewer_email, comment=reason
    )
    await _timed(lambda: sdk.reject_hitl_request(approval_id, review), timeout=timeout)


def server_message(failure: AxonFlowFailure) -> str:
    """The platform's own error text behind a failure, when the SDK kept it, else the reason."""
    current: BaseException | None = failure.__cause__
    while current is not None:
        match = _BODY_IN_MESSAGE.match(str(current))
        if match:
            try:
                body = orjson.loads(match.group(1))
            except orjson.JSONDecodeError:
                break
            if isinstance(body, dict) and isinstance(body.get("error"), str):
                return str(body["error"])
            break
        current = current.__cause__
    return failure.reason
