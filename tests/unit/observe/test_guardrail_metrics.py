"""The guardrail's metrics: names, labels, bounded policy labels, backlog gauges, and the
multi-process mode LiteLLM uses with several workers (a child process writes, the parent reads
the directory as LiteLLM's `/metrics` does)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

from axonflow_guardrail.observe._events import AuditBacklog, AuditDrop, Outcome
from axonflow_guardrail.observe._prometheus import (
    OTHER_POLICY,
    POLICY_LABEL_LIMIT,
    GuardrailMetrics,
    MetricFamilies,
)


def metrics(name: str = "af") -> tuple[GuardrailMetrics, CollectorRegistry]:
    registry = CollectorRegistry()
    families = MetricFamilies(registry, multiprocess=False)
    return GuardrailMetrics(guardrail=name, families=families), registry


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_decisions_are_counted_by_outcome_and_policy() -> None:
    m, registry = metrics()
    m.decision(outcome=Outcome.BLOCKED, policy="sys_sqli_union_select")
    m.decision(outcome=Outcome.BLOCKED, policy="sys_sqli_union_select")
    m.decision(outcome=Outcome.ALLOWED, policy="")
    blocked = {"guardrail": "af", "outcome": "blocked", "policy": "sys_sqli_union_select"}
    assert value(registry, "axonflow_guardrail_decisions_total", **blocked) == 2
    allowed = {"guardrail": "af", "outcome": "allowed", "policy": ""}
    assert value(registry, "axonflow_guardrail_decisions_total", **allowed) == 1


def test_policy_labels_are_bounded() -> None:
    m, registry = metrics()
    for i in range(POLICY_LABEL_LIMIT + 5):
        m.decision(outcome=Outcome.BLOCKED, policy=f"policy-{i}")
    m.decision(outcome=Outcome.BLOCKED, policy="policy-0")  # a known one keeps its name
    series = [
        s
        for family in registry.collect()
        if family.name == "axonflow_guardrail_decisions"
        for s in family.samples
        if s.name.endswith("_total")
    ]
    assert len(series) == POLICY_LABEL_LIMIT + 1
    other = {"guardrail": "af", "outcome": "blocked", "policy": OTHER_POLICY}
    assert value(registry, "axonflow_guardrail_decisions_total", **other) == 5
    first = {"guardrail": "af", "outcome": "blocked", "policy": "policy-0"}
    assert value(registry, "axonflow_guardrail_decisions_total", **first) == 2


def test_axonflow_calls_are_timed_and_failures_counted_by_kind() -> None:
    m, registry = metrics()
    m.call_finished(function="pre_check", seconds=0.004, failure=None)
    m.call_finished(function="pre_check", seconds=1.0, failure="unavailable")
    m.call_finished(function="audit", seconds=0.002, failure="rejected")
    labels = {"guardrail": "af", "function": "pre_check"}
    duration = "axonflow_guardrail_axonflow_request_duration_seconds"
    assert value(registry, f"{duration}_count", **labels) == 2
    assert value(registry, f"{duration}_bucket", **labels, le="0.005") == 1
    failures = "axonflow_guardrail_axonflow_failures_total"
    assert value(registry, failures, **labels, kind="unavailable") == 1
    assert value(registry, failures, guardrail="af", function="audit", kind="rejected") == 1


def test_breaker_state_and_transitions() -> None:
    m, registry = metrics()
    m.breaker_state(function="pre_check", state="closed", previous=None)
    assert (
        value(registry, "axonflow_guardrail_breaker_state", guardrail="af", function="pre_check")
        == 0
    )
    m.breaker_state(function="pre_check", state="open", previous="closed")
    m.breaker_state(function="pre_check", state="half_open", previous="open")
    assert (
        value(registry, "axonflow_guardrail_breaker_state", guardrail="af", function="pre_check")
        == 1
    )
    transitions = "axonflow_guardrail_breaker_transitions_total"
    opened = {"from_state": "closed", "to_state": "open"}
    assert value(registry, transitions, guardrail="af", function="pre_check", **opened) == 1


def test_approval_holds() -> None:
    m, registry = metrics()
    m.hold_started()
    m.hold_started()
    assert value(registry, "axonflow_guardrail_approvals_waiting", guardrail="af") == 2
    m.hold_ended(outcome="approved", seconds=3.0)
    assert value(registry, "axonflow_guardrail_approvals_waiting", guardrail="af") == 1
    assert value(registry, "axonflow_guardrail_approvals_total", guardrail="af", event="held") == 2
    assert (
        value(registry, "axonflow_guardrail_approvals_total", guardrail="af", event="approved") == 1
    )
    hold = "axonflow_guardrail_approval_hold_duration_seconds"
    assert value(registry, f"{hold}_sum", guardrail="af", outcome="approved") == 3.0


def test_audit_events_and_backlog_read_at_scrape_time() -> None:
    m, registry = metrics()
    backlog = [AuditBacklog(depth=3, oldest_age_seconds=7.5)]
    m.watch_backlog(lambda: backlog[0])
    m.queued()
    m.retried()
    m.delivered()
    m.dropped(reason=AuditDrop.SHUTDOWN, count=2)
    audits = "axonflow_guardrail_audits_total"
    assert value(registry, audits, guardrail="af", event="queued") == 1
    assert value(registry, audits, guardrail="af", event="dropped_shutdown") == 2
    assert value(registry, "axonflow_guardrail_audit_backlog", guardrail="af") == 3
    assert value(registry, "axonflow_guardrail_audit_oldest_age_seconds", guardrail="af") == 7.5
    backlog[0] = AuditBacklog(depth=0, oldest_age_seconds=None)
    assert value(registry, "axonflow_guardrail_audit_backlog", guardrail="af") == 0
    assert value(registry, "axonflow_guardrail_audit_oldest_age_seconds", guardrail="af") == 0


def test_a_failing_backlog_reader_never_fails_a_scrape() -> None:
    m, registry = metrics()

    def broken() -> AuditBacklog:
        raise RuntimeError("outbox unreadable")

    m.watch_backlog(broken)
    assert b"axonflow_guardrail_audit_backlog" in generate_latest(registry)


def test_multiprocess_mode_combines_workers(tmp_path: Path) -> None:
    """Two worker processes write to PROMETHEUS_MULTIPROC_DIR (the backlog sampled on each
    event there); the reader sums counters and backlogs, reports the worst breaker state and
    the oldest wait."""
    worker = textwrap.dedent(
        """
        import sys
        from axonflow_guardrail.observe._events import AuditBacklog, Outcome
        from axonflow_guardrail.observe._prometheus import GuardrailMetrics
        m = GuardrailMetrics(guardrail="af")
        depth = int(sys.argv[1])
        m.watch_backlog(lambda: AuditBacklog(depth=depth, oldest_age_seconds=float(depth)))
        m.decision(outcome=Outcome.FAIL_OPEN, policy="")
        m.queued()
        m.breaker_state(function="pre_check", state=sys.argv[2], previous=None)
        """
    )
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PYTHONPATH": str(Path.cwd())}
    for depth, state in (("2", "open"), ("5", "closed")):
        subprocess.run([sys.executable, "-c", worker, depth, state], env=env, check=True)
    reader = textwrap.dedent(
        """
        from prometheus_client import CollectorRegistry, multiprocess
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        for name, labels in [
            ("axonflow_guardrail_decisions_total",
             {"guardrail": "af", "outcome": "fail_open", "policy": ""}),
            ("axonflow_guardrail_audits_total", {"guardrail": "af", "event": "queued"}),
            ("axonflow_guardrail_breaker_state", {"guardrail": "af", "function": "pre_check"}),
            ("axonflow_guardrail_audit_backlog", {"guardrail": "af"}),
            ("axonflow_guardrail_audit_oldest_age_seconds", {"guardrail": "af"}),
        ]:
            print(registry.get_sample_value(name, labels))
        """
    )
    # "live" gauge modes drop a worker's file when LiteLLM marks it dead; nobody did here.
    out = subprocess.run(
        [sys.executable, "-c", reader], env=env, check=True, capture_output=True, text=True
    ).stdout.split()
    # Both workers counted; the worst breaker (open); backlogs summed; the oldest wait.
    assert out == ["2.0", "2.0", "2.0", "7.0", "5.0"]
