"""A pre-call pass that changed nothing is logged to LiteLLM after its snapshot, exactly once,
with its own mode and times; everything else is logged at once (`audit._deferred_record`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from litellm.types.guardrails import GuardrailEventHooks

from axonflow_guardrail._errors import ErrorCode, governance_error
from axonflow_guardrail.audit import _deferred_record as deferred_record
from axonflow_guardrail.audit._deferred_record import DeferredRecords
from axonflow_guardrail.audit._litellm_record import GuardrailRecorder, Recorded
from axonflow_guardrail.observe._events import Outcome

PRE_CALL = GuardrailEventHooks.pre_call


@dataclass
class Pass:
    reason: str = "AxonFlow is unreachable"
    breaker_open: bool = True


class FakeGuardrail:
    guardrail_name = "af"

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def add_standard_logging_guardrail_information_to_request_data(self, **kwargs: Any) -> None:
        self.entries.append(kwargs)


class Decisions:
    def __init__(self) -> None:
        self.seen: list[Outcome] = []

    def decision(self, *, outcome: Outcome, policy: str) -> None:
        self.seen.append(outcome)


def deferred(
    *, enabled: bool = True, clock: list[float] | None = None, max_entries: int = 100
) -> tuple[DeferredRecords, FakeGuardrail, Decisions]:
    guardrail, decisions = FakeGuardrail(), Decisions()
    now = clock if clock is not None else [0.0]
    records = DeferredRecords(
        recorder=GuardrailRecorder(guardrail, events=decisions),
        enabled=enabled,
        key="pending:af",
        clock=lambda: now[0],
        max_entries=max_entries,
    )
    return records, guardrail, decisions


def allowed() -> Recorded:
    return Recorded("success", {"verdict": "allow"}, outcome=Outcome.ALLOWED)


def test_a_pass_is_counted_and_named_at_once_but_logged_at_flush() -> None:
    records, guardrail, decisions = deferred()
    data: dict[str, Any] = {"metadata": {}}
    records.record(data, allowed(), started=1.0, hook=PRE_CALL, rewritten=None)

    assert decisions.seen == [Outcome.ALLOWED]
    assert data["metadata"]["applied_guardrails"] == ["af"]
    assert guardrail.entries == []  # nothing for LiteLLM's snapshot to see

    assert records.flush(data) is True
    (entry,) = guardrail.entries
    assert entry["request_data"] is data
    assert entry["event_type"] is PRE_CALL  # its true mode
    assert entry["guardrail_status"] == "success"
    assert entry["start_time"] == 1.0
    assert entry["end_time"] >= 1.0
    assert records.flush(data) is False  # exactly once
    assert len(guardrail.entries) == 1
    assert len(records) == 0


def test_a_fail_open_pass_is_deferred_and_stays_unscanned() -> None:
    records, guardrail, decisions = deferred()
    data: dict[str, Any] = {"litellm_metadata": {}}
    records.record(data, Recorded.failed_open(Pass()), started=0, hook=PRE_CALL, rewritten=None)
    assert data["litellm_metadata"]["applied_guardrails"] == ["af:unscanned"]
    assert decisions.seen == [Outcome.FAIL_OPEN]
    assert guardrail.entries == []
    assert records.flush(data)
    assert guardrail.entries[0]["guardrail_status"] == "guardrail_failed_to_respond"


def test_litellm_logging_details_flush_it_too() -> None:
    """`log_pre_api_call` hands LiteLLM's call details, whose litellm_params carry a copy of
    the request's metadata."""
    records, guardrail, _ = deferred()
    data: dict[str, Any] = {"metadata": {"user": "u"}}
    records.record(data, allowed(), started=0, hook=PRE_CALL, rewritten=None)
    details = {"litellm_params": {"metadata": dict(data["metadata"])}}
    assert records.flush(details)
    assert guardrail.entries[0]["request_data"] is data  # written into the request itself
    assert not records.flush(data)


def test_what_must_be_logged_at_once_is() -> None:
    records, guardrail, _ = deferred()
    refused = Recorded.refused(governance_error(ErrorCode.POLICY_DENIED, "no", policies=["p"]))
    redacted = Recorded("success", {"input_redacted": True}, outcome=Outcome.REDACTED)
    rewritten: dict[str, Any] = {"metadata": {}}
    cases: list[tuple[Recorded, Any, dict[str, Any] | None]] = [
        (refused, PRE_CALL, None),  # a refusal
        (redacted, PRE_CALL, None),  # a redacted request
        (allowed(), PRE_CALL, rewritten),  # anything rewritten (recorded on the rewrite)
        (allowed(), GuardrailEventHooks.during_call, None),  # not a snapshot-taking mode
        (allowed(), GuardrailEventHooks.pre_mcp_call, None),  # MCP: no post-call hook
    ]
    for recorded, hook, new in cases:
        records.record({"metadata": {}}, recorded, started=0, hook=hook, rewritten=new)
    assert len(guardrail.entries) == len(cases)
    assert guardrail.entries[2]["request_data"] is rewritten
    assert len(records) == 0


def test_without_post_call_everything_is_logged_at_once() -> None:
    records, guardrail, _ = deferred(enabled=False)
    records.record({"metadata": {}}, allowed(), started=0, hook=PRE_CALL, rewritten=None)
    assert len(guardrail.entries) == 1
    assert len(records) == 0


def test_a_request_whose_metadata_cannot_be_stamped_is_logged_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def unusable(data: Any) -> Any:
        raise TypeError("no metadata bucket")

    monkeypatch.setattr(deferred_record, "metadata_bucket", unusable)
    records, guardrail, _ = deferred()
    records.record({}, allowed(), started=0, hook=PRE_CALL, rewritten=None)
    assert len(guardrail.entries) == 1
    assert len(records) == 0


def test_a_forged_or_unknown_id_flushes_nothing() -> None:
    records, guardrail, _ = deferred()
    data: dict[str, Any] = {"metadata": {}}
    records.record(data, allowed(), started=0, hook=PRE_CALL, rewritten=None)
    assert not records.flush({"metadata": {"pending:af": "forged"}})
    assert not records.flush(None)
    assert not records.flush({"metadata": {"pending:other": data["metadata"]["pending:af"]}})
    assert guardrail.entries == []


def test_bounded_by_age_and_count() -> None:
    clock = [0.0]
    records, _, _ = deferred(clock=clock, max_entries=2)
    for _ in range(3):
        records.record({"metadata": {}}, allowed(), started=0, hook=PRE_CALL, rewritten=None)
    assert len(records) == 2
    clock[0] = 4000.0
    records.record({"metadata": {}}, allowed(), started=0, hook=PRE_CALL, rewritten=None)
    assert len(records) == 1
