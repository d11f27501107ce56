"""The guardrail's metrics, on the `prometheus_client` registry LiteLLM serves on `/metrics`.

LiteLLM's `prometheus` callback mounts `/metrics` on the proxy and exposes
`prometheus_client`'s default registry (one worker), or every worker's samples from
`PROMETHEUS_MULTIPROC_DIR` (several workers). The families below are registered once per
process on that registry, so they appear on the same endpoint with no setup of their own;
in multi-process mode `prometheus_client` writes them to the shared directory like LiteLLM's,
and each gauge says how workers combine (`multiprocess_mode`).

Label values are bounded: the guardrail's name (from the YAML), fixed outcome and event
names, AxonFlow function names, and policy ids, which come from AxonFlow's answers, never from
the request; past `POLICY_LABEL_LIMIT` distinct ids per process new ones count as `_other`.
No label ever holds a prompt, a user, a key or a token.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from axonflow_guardrail._log import log
from axonflow_guardrail.observe._events import AuditBacklog, AuditDrop, Outcome

__all__ = ["BREAKER_STATE_VALUES", "GuardrailMetrics", "MetricFamilies", "default_families"]

#: `breaker_state` gauge values (higher is worse, so `max` across workers is the worst).
BREAKER_STATE_VALUES = {"closed": 0.0, "half_open": 1.0, "open": 2.0}
POLICY_LABEL_LIMIT = 100
OTHER_POLICY = "_other"
_MAX_POLICY_CHARS = 128
_MAX_CHILDREN = 1000
#: AxonFlow calls: loopback answers take ~1 ms, a remote platform tens; the top buckets catch
#: timeouts (`call_timeout_seconds`, 5 s by default).
AXONFLOW_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Approval holds: seconds to the longest `approval_max_wait_seconds` people set.
HOLD_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)


def _multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class MetricFamilies:
    """Every metric family, registered once on `registry` (one set per process)."""

    def __init__(
        self, registry: CollectorRegistry = REGISTRY, *, multiprocess: bool | None = None
    ) -> None:
        self.multiprocess = _multiprocess() if multiprocess is None else multiprocess
        self._policies: set[str] = set()
        self._lock = threading.Lock()
        g = ("guardrail",)
        self.decisions = Counter(
            "axonflow_guardrail_decisions",
            "Pre-call decisions by outcome and deciding policy id",
            (*g, "outcome", "policy"),
            registry=registry,
        )
        self.axonflow_seconds = Histogram(
            "axonflow_guardrail_axonflow_request_duration_seconds",
            "AxonFlow calls through the SDK, by function (pre_check: the pre-check latency)",
            (*g, "function"),
            buckets=AXONFLOW_BUCKETS,
            registry=registry,
        )
        self.axonflow_failures = Counter(
            "axonflow_guardrail_axonflow_failures",
            "AxonFlow calls that gave no usable answer, by function and kind "
            "(unavailable: fail_open decides; rejected: 401/402/403)",
            (*g, "function", "kind"),
            registry=registry,
        )
        self.breaker_state = Gauge(
            "axonflow_guardrail_breaker_state",
            "Circuit breaker per AxonFlow function: 0 closed, 1 half-open, 2 open",
            (*g, "function"),
            multiprocess_mode="livemax",
            registry=registry,
        )
        self.breaker_transitions = Counter(
            "axonflow_guardrail_breaker_transitions",
            "Circuit breaker state changes",
            (*g, "function", "from_state", "to_state"),
            registry=registry,
        )
        self.approvals = Counter(
            "axonflow_guardrail_approvals",
            "Approval holds: held, then approved, rejected, expired, pending "
            "(answered approval_pending) or cancelled",
            (*g, "event"),
            registry=registry,
        )
        self.approvals_waiting = Gauge(
            "axonflow_guardrail_approvals_waiting",
            "Requests held for a reviewer right now",
            g,
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.hold_seconds = Histogram(
            "axonflow_guardrail_approval_hold_duration_seconds",
            "How long requests were held for a reviewer, by how the hold ended",
            (*g, "outcome"),
            buckets=HOLD_BUCKETS,
            registry=registry,
        )
        self.audits = Counter(
            "axonflow_guardrail_audits",
            "Audit records: queued, delivered, retried, dead_lettered, "
            "dropped_queue_full, dropped_undeliverable, dropped_shutdown",
            (*g, "event"),
            registry=registry,
        )
        self.audit_backlog = Gauge(
            "axonflow_guardrail_audit_backlog",
            "Audit records waiting for delivery",
            g,
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.audit_oldest_age = Gauge(
            "axonflow_guardrail_audit_oldest_age_seconds",
            "How long the oldest waiting audit record has waited (0: none waits)",
            g,
            multiprocess_mode="livemax",
            registry=registry,
        )
        # A durable outbox is one store for every worker: its figures are not added up.
        self.outbox_depth = Gauge(
            "axonflow_guardrail_audit_outbox_depth",
            "Audit records waiting in the durable outbox (every worker's, as last sampled)",
            g,
            multiprocess_mode="livemax",
            registry=registry,
        )
        self.outbox_oldest_age = Gauge(
            "axonflow_guardrail_audit_outbox_oldest_age_seconds",
            "How long the oldest record in the durable outbox has waited (0: none waits)",
            g,
            multiprocess_mode="livemax",
            registry=registry,
        )

    def backlog_gauges(self, *, shared: bool) -> tuple[Gauge, Gauge]:
        if shared:
            return self.outbox_depth, self.outbox_oldest_age
        return self.audit_backlog, self.audit_oldest_age

    def policy_label(self, policy: str) -> str:
        """The label value for a policy id: itself while fewer than the limit are known."""
        policy = policy[:_MAX_POLICY_CHARS]
        if policy in self._policies:
            return policy
        with self._lock:
            if policy in self._policies:
                return policy
            if len(self._policies) >= POLICY_LABEL_LIMIT:
                return OTHER_POLICY
            self._policies.add(policy)
        return policy


_default: MetricFamilies | None = None
_default_lock = threading.Lock()


def default_families() -> MetricFamilies:
    """The process's families on the default registry (the one `/metrics` serves)."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = MetricFamilies()
    return _default


class GuardrailMetrics:
    """Every event interface of `_events`, counted for one guardrail (by its name)."""

    def __init__(self, *, guardrail: str, families: MetricFamilies | None = None) -> None:
        self.guardrail = guardrail
        self._f = families if families is not None else default_families()
        self._backlog: Callable[[], AuditBacklog] | None = None
        self._shared_backlog = False
        # Labelled children, looked up once: `labels()` costs more than the count itself.
        self._children: dict[tuple[object, ...], Any] = {}

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = metric.labels(self.guardrail, *labels)
            if len(self._children) < _MAX_CHILDREN:
                self._children[key] = child
        return child

    # ------------------------------------------------------------------ decisions

    def decision(self, *, outcome: Outcome, policy: str) -> None:
        f = self._f
        try:
            self._child(f.decisions, outcome.value, f.policy_label(policy)).inc()
        except Exception:  # counting must never change what happens to a request
            log.debug("axonflow: decision metric failed", exc_info=True)

    # ------------------------------------------------------------------ AxonFlow calls

    def call_finished(self, *, function: str, seconds: float, failure: str | None) -> None:
        f = self._f
        try:
            self._child(f.axonflow_seconds, function).observe(seconds)
            if failure is not None:
                self._child(f.axonflow_failures, function, failure).inc()
        except Exception:
            log.debug("axonflow: call metric failed", exc_info=True)

    def breaker_state(self, *, function: str, state: str, previous: str | None) -> None:
        f = self._f
        try:
            f.breaker_state.labels(self.guardrail, function).set(BREAKER_STATE_VALUES[state])
            if previous is not None and previous != state:
                f.breaker_transitions.labels(self.guardrail, function, previous, state).inc()
        except Exception:
            log.debug("axonflow: breaker metric failed", exc_info=True)

    # ------------------------------------------------------------------ approvals

    def hold_started(self) -> None:
        f = self._f
        try:
            self._child(f.approvals, "held").inc()
            self._child(f.approvals_waiting).inc()
        except Exception:
            log.debug("axonflow: approval metric failed", exc_info=True)

    def hold_ended(self, *, outcome: str, seconds: float) -> None:
        f = self._f
        try:
            self._child(f.approvals, outcome).inc()
            self._child(f.approvals_waiting).dec()
            self._child(f.hold_seconds, outcome).observe(seconds)
        except Exception:
            log.debug("axonflow: approval metric failed", exc_info=True)

    # ------------------------------------------------------------------ audits

    def queued(self) -> None:
        self._audit("queued")

    def delivered(self) -> None:
        self._audit("delivered")

    def retried(self) -> None:
        self._audit("retried")

    def dead_lettered(self) -> None:
        self._audit("dead_lettered")

    def dropped(self, *, reason: AuditDrop, count: int = 1) -> None:
        self._audit(f"dropped_{reason.value}", count)

    def watch_backlog(self, read: Callable[[], AuditBacklog], *, shared: bool = False) -> None:
        """Gauges read `read()`: at scrape time in one process; in multi-process mode (where
        only values written by a worker are exported) after each audit event. `shared`: the
        durable outbox's gauges (workers not added up), else the in-memory queue's."""
        self._backlog = read
        self._shared_backlog = shared
        depth_gauge, oldest_gauge = self._f.backlog_gauges(shared=shared)
        if self._f.multiprocess:
            self._sample_backlog()
            return

        def depth() -> float:
            return float(_read_safely(read).depth)

        def oldest() -> float:
            return _read_safely(read).oldest_age_seconds or 0.0

        depth_gauge.labels(self.guardrail).set_function(depth)
        oldest_gauge.labels(self.guardrail).set_function(oldest)

    def _audit(self, event: str, count: int = 1) -> None:
        try:
            self._child(self._f.audits, event).inc(count)
            if self._f.multiprocess:
                self._sample_backlog()
        except Exception:
            log.debug("axonflow: audit metric failed", exc_info=True)

    def _sample_backlog(self) -> None:
        if self._backlog is None:
            return
        backlog = _read_safely(self._backlog)
        depth_gauge, oldest_gauge = self._f.backlog_gauges(shared=self._shared_backlog)
        depth_gauge.labels(self.guardrail).set(backlog.depth)
        oldest_gauge.labels(self.guardrail).set(backlog.oldest_age_seconds or 0.0)


def _read_safely(read: Callable[[], AuditBacklog]) -> AuditBacklog:
    """A scrape must not fail because the backlog could not be read."""
    try:
        return read()
    except Exception:
        log.debug("axonflow: audit backlog could not be read", exc_info=True)
        return AuditBacklog(depth=0, oldest_age_seconds=None)
