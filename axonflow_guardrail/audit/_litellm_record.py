"""The guardrail's decision in LiteLLM's own logging, recorded in one place.

LiteLLM shows a guardrail's decisions in its spend logs and hands them to every logging
callback when the guardrail records a `StandardLoggingGuardrailInformation` entry
(`add_standard_logging_guardrail_information_to_request_data`). Each pre-call hook ends with
exactly one `Recorded` outcome, and the hook module records it once, whatever the path (a
decision, a refusal, a fail-open pass, a request it could not check). Never a secret, never a
prompt: policy ids, decision and context ids, codes.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import HTTPException

from axonflow_guardrail._log import log
from axonflow_guardrail.audit._call_state import CallState
from axonflow_guardrail.axonflow._client import PreCheckDecision

__all__ = ["PROVIDER", "GuardrailRecorder", "Recorded"]

PROVIDER = "axonflow"


@dataclass(frozen=True, slots=True)
class Recorded:
    """One hook call's entry: LiteLLM's guardrail status and the decision's details."""

    status: str
    info: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def not_run(cls) -> Recorded:
        return cls("not_run", {"enforcement": "off"})

    @classmethod
    def refused(cls, exc: HTTPException) -> Recorded:
        detail = exc.detail if isinstance(exc.detail, dict) else {"error": str(exc.detail)}
        return cls("guardrail_intervened", {**detail, "http_status": exc.status_code})

    @classmethod
    def failed_open(cls, *, reason: str, breaker_open: bool) -> Recorded:
        return cls(
            "guardrail_failed_to_respond",
            {
                "fail_open": True,
                "warning": f"request passed WITHOUT a governance decision: {reason}",
                "breaker_open": breaker_open,
            },
        )

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
        return cls("guardrail_flagged" if state.would_have_blocked else "success", info)


class GuardrailRecorder:
    """Writes `Recorded` entries through the guardrail's LiteLLM base class."""

    def __init__(self, guardrail: Any) -> None:
        # A litellm CustomGuardrail (typed loosely: LiteLLM's signature varies by release).
        self._guardrail = guardrail

    def record(
        self, data: dict[str, Any], recorded: Recorded, *, started: float, hook: Any
    ) -> None:
        """Never raises: a logging problem must not change what happens to the request."""
        try:
            ended = time.time()
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
