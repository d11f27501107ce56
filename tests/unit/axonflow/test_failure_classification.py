"""`classify_failure`: every shape the SDK reports trouble in → rejected or unavailable."""

from __future__ import annotations

import json

import httpx
import pydantic
import pytest
from axonflow import exceptions as sdk

from axonflow_guardrail.axonflow._failures import FailureKind, classify_failure


def _http_error(status: int) -> httpx.HTTPStatusError:
    request = httpx.Request("POST", "http://agent/api/policy/pre-check")
    response = httpx.Response(status, request=request, text="<html>oops</html>")
    return httpx.HTTPStatusError("status", request=request, response=response)


def _raised_inside(outer: BaseException, inner: BaseException) -> BaseException:
    """`outer` raised while handling `inner`, as the SDK does when a body is not JSON."""
    try:
        try:
            raise inner
        except BaseException:
            raise outer  # noqa: B904 - reproducing the SDK's implicit chaining
    except BaseException as exc:
        return exc


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (sdk.AuthenticationError("Invalid credentials"), 401),
        (sdk.BudgetExceededError("Budget exceeded", budget_id="b1"), 402),
        (sdk.PolicyViolationError("blocked", policy="p1", block_reason="no"), 403),
        (_raised_inside(json.JSONDecodeError("x", "doc", 0), _http_error(403)), 403),
        (_raised_inside(json.JSONDecodeError("x", "doc", 0), _http_error(402)), 402),
        (sdk.AxonFlowError("HTTP 401: nope"), 401),
    ],
)
def test_rejections(exc: BaseException, status: int) -> None:
    failure = classify_failure(exc)
    assert failure.kind is FailureKind.REJECTED
    assert failure.status == status


def test_budget_details_are_kept() -> None:
    failure = classify_failure(sdk.BudgetExceededError("over", budget_id="b1", limit_usd=5.0))
    assert failure.details["budget_id"] == "b1"
    assert failure.details["limit_usd"] == 5.0


def _validation_error() -> pydantic.ValidationError:
    class Model(pydantic.BaseModel):
        needed: int

    try:
        Model.model_validate({})
    except pydantic.ValidationError as exc:
        return exc
    raise AssertionError("unreachable")


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (sdk.ConnectionError("Failed to connect"), "unreachable"),
        (httpx.ConnectError("refused"), "unreachable"),
        (sdk.TimeoutError("timed out"), "in time"),
        (TimeoutError(), "in time"),
        (httpx.ReadTimeout("slow"), "in time"),
        (sdk.AxonFlowError("HTTP 503: Service temporarily unavailable"), "HTTP 503"),
        (sdk.AxonFlowError("HTTP 500: boom"), "HTTP 500"),
        (sdk.AxonFlowError("HTTP 404: not found"), "HTTP 404"),
        (KeyError("context_id"), "malformed"),
        (_validation_error(), "malformed"),
        (json.JSONDecodeError("x", "doc", 0), "malformed"),
        (sdk.ConnectorError("MCP check-input failed", "litellm", "check-input"), "failed"),
        (RuntimeError("what"), "unexpected"),
    ],
)
def test_unavailability(exc: BaseException, reason: str) -> None:
    failure = classify_failure(exc)
    assert failure.kind is FailureKind.UNAVAILABLE
    assert reason in failure.reason


def test_reasons_never_carry_response_bodies() -> None:
    """The reason reaches clients and logs: no server text, which could echo a prompt."""
    failure = classify_failure(sdk.AxonFlowError("HTTP 500: secret prompt text"))
    assert "secret prompt text" not in failure.reason


def test_an_answered_refusal_the_sdk_error_dropped_is_still_a_refusal() -> None:
    """The MCP checks raise `ConnectorError` with the body's message only; the status read
    from the answer decides: 401/402/403 fail closed, a 5xx follows `fail_open`."""
    dropped = sdk.ConnectorError("Unauthorized", "mcp", "check-input")
    refused = classify_failure(dropped, answered=401)
    assert (refused.kind, refused.status) == (FailureKind.REJECTED, 401)
    outage = classify_failure(dropped, answered=503)
    assert (outage.kind, outage.status) == (FailureKind.UNAVAILABLE, 503)
    malformed = classify_failure(KeyError("allowed"), answered=200)
    assert (malformed.kind, malformed.reason) == (
        FailureKind.UNAVAILABLE,
        "AxonFlow sent a malformed answer",
    )
