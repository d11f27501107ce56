"""The guardrail's decision in LiteLLM's own logging, recorded in one place.

LiteLLM shows a guardrail's decisions in its spend logs and hands them to every logging
callback when the guardrail records a `StandardLoggingGuardrailInformation` entry
(`add_standard_logging_guardrail_information_to_request_data`). Each pre-call hook ends with
exactly one `Recorded` outcome, and the hook module records it once, whatever the path (a
decision, a refusal, a fail-open pass, a request it could not check). Never a secret, never a
prompt: policy ids, decision, context and trace ids, codes.

Recorded once, so also: counted once (`DecisionEvents`: the decisions metric, by `Outcome` and
deciding policy), and named once in LiteLLM's `x-litellm-applied-guardrails` response header,
as the guardrail's name, or `<name>:unscanned` for a fail-open pass (Palo Alto AIRS's
convention), so a client or a log pipeline can tell governed answers from ungoverned ones.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from fastapi import HTTPException

from axonflow_guardrail._errors import ErrorCode
from axonflow_guardrail._litellm_compat import metadata_bucket
from axonflow_guardrail._log import log
from axonflow_guardrail.audit._call_state import CallState
from axonflow_guardrail.axonflow._client import PreCheckDecision, Verdict
from axonflow_guardrail.observe._events import NO_EVENTS, DecisionEvents, Outcome

__all__ = ["PROVIDER", "UNSCANNED_SUFFIX", "GuardrailRecorder", "Recorded"]

PROVIDER = "axonflow"
UNSCANNED_SUFFIX = ":unscanned"
#: Refusals of what a policy (or the guardrail's own rule about unreadable requests) forbids.
_BLOCKING_CODES = frozenset(
    {
        ErrorCode.POLICY_DENIED,
        ErrorCode.BUDGET_EXCEEDED,
        ErrorCode.OUTPUT_BLOCKED,
        ErrorCode.REQUEST_TOO_LARGE,
        ErrorCode.MALFORMED_REQUEST,
        ErrorCode.FIELD_NOT_ALLOWED,
        ErrorCode.UNVERIFIABLE_CONTENT,
    }
)
_APPROVAL_CODES = frozenset(
    {
        ErrorCode.APPROVAL_REQUIRED,
        ErrorCode.APPROVAL_PENDING,
        ErrorCode.APPROVAL_REJECTED,
        ErrorCode.APPROVAL_EXPIRED,
        ErrorCode.APPROVAL_INVALID,
        ErrorCode.APPROVALS_UNSUPPORTED,
    }
)
#: The marker AxonFlow adds to a require_approval decision's policies: never the decider.
_MARKER_POLICIES = frozenset({"hitl_enterprise"})


class FailOpenPass(Protocol):
    """A request that went on without a decision (`gates._pre_check.FailOpenPass`)."""

    @property
    def reason(self) -> str: ...

    @property
    def breaker_open(self) -> bool: ...


class ToolCallPass(Protocol):
    """An MCP tool call that goes on (`gates._tool_calls.ToolCallOutcome`)."""

    @property
    def allowed(self) -> bool: ...

    @property
    def rewritten(self) -> dict[str, Any] | None: ...

    @property
    def decision_id(self) -> str | None: ...

    @property
    def tool(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Recorded:
    """One hook call's entry: LiteLLM's guardrail status and the decision's details, and how
    the decision is counted (`outcome` None: not governed, not counted)."""

    status: str
    info: Mapping[str, Any] = field(default_factory=dict)
    outcome: Outcome | None = None
    #: The deciding policy id (for the guardrail's own refusals, the error code), or "".
    policy: str = ""

    @property
    def changes_nothing(self) -> bool:
        """A pass of the request as it came (not a refusal, nothing redacted)."""
        return self.status != "guardrail_intervened" and not self.info.get("input_redacted")

    @classmethod
    def not_run(cls) -> Recorded:
        return cls("not_run", {"enforcement": "off"})

    @classmethod
    def refused(cls, exc: HTTPException) -> Recorded:
        detail = exc.detail if isinstance(exc.detail, dict) else {"error": str(exc.detail)}
        code = str(detail.get("code") or "")
        policy = deciding_policy(detail.get("policies"))
        if code in _BLOCKING_CODES:
            outcome = Outcome.BLOCKED
            if not policy and code not in (ErrorCode.POLICY_DENIED, ErrorCode.OUTPUT_BLOCKED):
                policy = code
        elif code in _APPROVAL_CODES:
            outcome = Outcome.APPROVAL_REQUIRED
        else:
            outcome = Outcome.ERROR
        info = {**detail, "http_status": exc.status_code}
        return cls("guardrail_intervened", info, outcome=outcome, policy=policy)

    @classmethod
    def failed_open(cls, passed: FailOpenPass) -> Recorded:
        return cls(
            "guardrail_failed_to_respond",
            {
                "fail_open": True,
                "warning": f"request passed WITHOUT a governance decision: {passed.reason}",
                "breaker_open": passed.breaker_open,
            },
            outcome=Outcome.FAIL_OPEN,
        )

    @classmethod
    def tool_call(cls, call: ToolCallPass) -> Recorded:
        """An MCP tool call that goes on (a refused one is `refused`)."""
        info: dict[str, Any] = {"decision_id": call.decision_id, "tool": call.tool}
        redacted = call.rewritten is not None
        if redacted:
            info["input_redacted"] = True
        if not call.allowed:  # audit mode let a blocked call through
            return cls("guardrail_flagged", info, outcome=Outcome.WOULD_HAVE_BLOCKED)
        return cls("success", info, outcome=Outcome.REDACTED if redacted else Outcome.ALLOWED)

    @classmethod
    def decided(cls, decision: PreCheckDecision, state: CallState) -> Recorded:
        info: dict[str, Any] = {
            "verdict": decision.verdict.value,
            "policies": list(decision.policies),
            "decision_id": decision.decision_id,
            "context_id": decision.context_id,
            "enforcement": state.enforcement,
        }
        if state.would_have_blocked:
            info["would_have_blocked"] = True
        if state.redacted:
            info["input_redacted"] = True
        if state.approval_id:
            info["approval_request_id"] = state.approval_id
        if decision.trace_id:
            info["trace_id"] = decision.trace_id
        if state.would_have_blocked:
            outcome = Outcome.WOULD_HAVE_BLOCKED
        elif state.approval_id or decision.verdict is Verdict.NEEDS_APPROVAL:
            outcome = Outcome.APPROVAL_REQUIRED
        elif decision.verdict is Verdict.REDACT:
            outcome = Outcome.REDACTED
        else:
            outcome = Outcome.ALLOWED
        return cls(
            "guardrail_flagged" if state.would_have_blocked else "success",
            info,
            outcome=outcome,
            policy=deciding_policy(decision.policies),
        )


def deciding_policy(policies: Any) -> str:
    """The first policy AxonFlow names (the one that decided), or ""."""
    if isinstance(policies, (list, tuple)):
        for policy in policies:
            if isinstance(policy, str) and policy and policy not in _MARKER_POLICIES:
                return policy
    return ""


def name_applied_guardrail(data: dict[str, Any], name: str) -> None:
    """LiteLLM's `add_guardrail_to_applied_guardrails_header`, on the metadata bucket every
    supported release reads the header from (`_litellm_compat.metadata_bucket`): LiteLLM's own
    helper wrote to `metadata` only before it had the bucket rule, and did nothing on routes
    that keep their metadata in `litellm_metadata` (Responses, Messages)."""
    _, bucket = metadata_bucket(data)
    applied = bucket.get("applied_guardrails")
    if not isinstance(applied, list):
        applied = bucket["applied_guardrails"] = []
    if name not in applied:
        applied.append(name)


class GuardrailRecorder:
    """Writes `Recorded` entries through the guardrail's LiteLLM base class, counts them, and
    names the guardrail in the applied-guardrails header."""

    def __init__(self, guardrail: Any, *, events: DecisionEvents = NO_EVENTS) -> None:
        # A litellm CustomGuardrail (typed loosely: LiteLLM's signature varies by release).
        self._guardrail = guardrail
        self._events = events

    def record(
        self, data: dict[str, Any], recorded: Recorded, *, started: float, hook: Any
    ) -> None:
        """Count, name and log at once. Never raises: a logging problem must not change what
        happens to the request."""
        self.announce(data, recorded)
        self.log(data, recorded, started=started, ended=time.time(), hook=hook)

    def announce(self, data: dict[str, Any], recorded: Recorded) -> None:
        """Count the decision and name the guardrail in the applied-guardrails header: always
        at once (a stream's headers are built before any post-call hook runs)."""
        if recorded.outcome is None:
            return
        self._events.decision(outcome=recorded.outcome, policy=recorded.policy)
        name = str(self._guardrail.guardrail_name)
        if recorded.outcome is Outcome.FAIL_OPEN:
            name += UNSCANNED_SUFFIX
        try:
            name_applied_guardrail(data, name)
        except Exception:
            log.debug("axonflow: could not name the guardrail in the header", exc_info=True)

    def log(
        self, data: dict[str, Any], recorded: Recorded, *, started: float, ended: float, hook: Any
    ) -> None:
        """LiteLLM's guardrail entry (`StandardLoggingGuardrailInformation`), with the
        decision's own times; may come later than `announce` (`audit._deferred_record`)."""
        try:
            self._guardrail.add_standard_logging_guardrail_information_to_request_data(
                guardrail_json_response=dict(recorded.info),
                request_data=data,
                guardrail_status=recorded.status,
                start_time=started,
                end_time=ended,
                duration=ended - started,
                guardrail_provider=PROVIDER,
                event_type=hook,
            )
        except Exception:
            log.debug("axonflow: could not record guardrail information", exc_info=True)
