"""Each pre-call decision recorded once: LiteLLM's entry, the decisions metric (outcome and
deciding policy), and the guardrail named in the applied-guardrails header."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from axonflow_guardrail._errors import ErrorCode, governance_error
from axonflow_guardrail.audit._call_state import CallState
from axonflow_guardrail.audit._litellm_record import GuardrailRecorder, Recorded
from axonflow_guardrail.axonflow._client import PreCheckDecision, Verdict
from axonflow_guardrail.observe._events import Outcome
from axonflow_guardrail.request._identity import CallerIdentity


def decision(verdict: Verdict, *policies: str, trace_id: str | None = None) -> PreCheckDecision:
    return PreCheckDecision(
        verdict=verdict,
        context_id="ctx",
        decision_id="dec",
        policies=policies,
        block_reason=None,
        trace_id=trace_id,
    )


def state(**changes: Any) -> CallState:
    return CallState(
        request_id="r",
        litellm_call_id="call",
        call_type="acompletion",
        model="m",
        route="/v1/chat/completions",
        identity=CallerIdentity(
            user_token="t",
            user_token_source="default",
            enforcement_mode="enforce",
            enforcement_source="guardrail",
        ),
        decision=decision(Verdict.ALLOW),
        enforcement="enforce",
        **changes,
    )


@pytest.mark.parametrize(
    ("made", "outcome", "policy"),
    [
        (decision(Verdict.ALLOW), Outcome.ALLOWED, ""),
        (decision(Verdict.ALLOW, "sys_pii_email"), Outcome.ALLOWED, "sys_pii_email"),
        (decision(Verdict.REDACT, "sys_pii_ssn"), Outcome.REDACTED, "sys_pii_ssn"),
        (
            decision(Verdict.NEEDS_APPROVAL, "hitl_enterprise", "wire"),
            Outcome.APPROVAL_REQUIRED,
            "wire",
        ),
    ],
)
def test_decided(made: PreCheckDecision, outcome: Outcome, policy: str) -> None:
    recorded = Recorded.decided(made, state())
    assert (recorded.outcome, recorded.policy) == (outcome, policy)


def test_an_approved_request_and_shadow_mode() -> None:
    approved = Recorded.decided(decision(Verdict.ALLOW), state(approval_id="a-1"))
    assert approved.outcome is Outcome.APPROVAL_REQUIRED
    shadow = Recorded.decided(decision(Verdict.DENY, "sqli"), state(would_have_blocked=True))
    assert (shadow.outcome, shadow.policy, shadow.status) == (
        Outcome.WOULD_HAVE_BLOCKED,
        "sqli",
        "guardrail_flagged",
    )


def test_the_trace_id_lands_in_the_entry() -> None:
    recorded = Recorded.decided(decision(Verdict.ALLOW, trace_id="ab" * 16), state())
    assert recorded.info["trace_id"] == "ab" * 16


@pytest.mark.parametrize(
    ("code", "details", "outcome", "policy"),
    [
        (ErrorCode.POLICY_DENIED, {"policies": ["sys_sqli"]}, Outcome.BLOCKED, "sys_sqli"),
        (ErrorCode.POLICY_DENIED, {}, Outcome.BLOCKED, ""),
        (ErrorCode.UNVERIFIABLE_CONTENT, {}, Outcome.BLOCKED, "unverifiable_content"),
        (ErrorCode.BUDGET_EXCEEDED, {}, Outcome.BLOCKED, "budget_exceeded"),
        (
            ErrorCode.APPROVAL_PENDING,
            {"policies": ["wire", "hitl_enterprise"]},
            Outcome.APPROVAL_REQUIRED,
            "wire",
        ),
        (ErrorCode.APPROVALS_UNSUPPORTED, {}, Outcome.APPROVAL_REQUIRED, ""),
        (ErrorCode.GOVERNANCE_UNAVAILABLE, {}, Outcome.ERROR, ""),
        (ErrorCode.GOVERNANCE_REJECTED, {}, Outcome.ERROR, ""),
        (ErrorCode.GUARDRAIL_ERROR, {}, Outcome.ERROR, ""),
        (ErrorCode.REDACTION_FAILED, {"policies": ["sys_pii_ssn"]}, Outcome.ERROR, "sys_pii_ssn"),
    ],
)
def test_refused(code: ErrorCode, details: dict[str, Any], outcome: Outcome, policy: str) -> None:
    recorded = Recorded.refused(governance_error(code, "no", **details))
    assert (recorded.outcome, recorded.policy) == (outcome, policy)


def test_not_run_is_not_counted() -> None:
    assert Recorded.not_run().outcome is None


@dataclass
class Pass:
    reason: str = "AxonFlow is unreachable"
    breaker_open: bool = False


class FakeGuardrail:
    guardrail_name = "af"

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def add_standard_logging_guardrail_information_to_request_data(self, **kwargs: Any) -> None:
        self.entries.append(kwargs)


class Decisions:
    def __init__(self) -> None:
        self.seen: list[tuple[Outcome, str]] = []

    def decision(self, *, outcome: Outcome, policy: str) -> None:
        self.seen.append((outcome, policy))


def test_recorded_once_counted_once_and_named_in_the_header() -> None:
    guardrail, decisions = FakeGuardrail(), Decisions()
    recorder = GuardrailRecorder(guardrail, events=decisions)
    allowed: dict[str, Any] = {"metadata": {}}
    recorder.record(
        allowed, Recorded.decided(decision(Verdict.ALLOW), state()), started=0, hook=None
    )
    passed: dict[str, Any] = {"litellm_metadata": {}}
    recorder.record(passed, Recorded.failed_open(Pass()), started=0, hook=None)
    off: dict[str, Any] = {"metadata": {}}
    recorder.record(off, Recorded.not_run(), started=0, hook=None)

    assert decisions.seen == [(Outcome.ALLOWED, ""), (Outcome.FAIL_OPEN, "")]
    assert allowed["metadata"]["applied_guardrails"] == ["af"]
    assert passed["litellm_metadata"]["applied_guardrails"] == ["af:unscanned"]
    assert "applied_guardrails" not in off["metadata"]
    assert len(guardrail.entries) == 3
