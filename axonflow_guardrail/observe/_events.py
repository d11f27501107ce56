"""The events the rooms report, as small Protocols with a no-op implementation.

Why Protocols and not the Prometheus objects themselves: a room should say *what happened*
(a decision, a failed call, a breaker that opened, an audit that was dropped) and not know how
it is counted. The hook module hands each room an object that implements these methods
(`_prometheus.GuardrailMetrics`); unit tests and rooms built without metrics get `NO_EVENTS`.

Every method is called on the request path or in a delivery task: implementations never raise
and never block.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "NO_EVENTS",
    "ApprovalEvents",
    "AuditBacklog",
    "AuditDrop",
    "AuditEvents",
    "AxonFlowCallEvents",
    "BreakerEvents",
    "DecisionEvents",
    "NoEvents",
    "Outcome",
]


class Outcome(enum.StrEnum):
    """How a pre-call decision ended, as counted by `decisions_total`."""

    ALLOWED = "allowed"
    BLOCKED = "blocked"
    REDACTED = "redacted"
    APPROVAL_REQUIRED = "approval_required"
    FAIL_OPEN = "fail_open"
    ERROR = "error"
    #: Audit (shadow) mode: a block or approval that was recorded, not enforced.
    WOULD_HAVE_BLOCKED = "would_have_blocked"


class AuditDrop(enum.StrEnum):
    """Why an audit record will never reach AxonFlow."""

    QUEUE_FULL = "queue_full"
    UNDELIVERABLE = "undeliverable"
    SHUTDOWN = "shutdown"


@dataclass(frozen=True, slots=True)
class AuditBacklog:
    """Records waiting for delivery, and how long the oldest has waited (None: none waits)."""

    depth: int
    oldest_age_seconds: float | None


class DecisionEvents(Protocol):
    def decision(self, *, outcome: Outcome, policy: str) -> None:
        """One pre-call decision; `policy` is the deciding policy id, or ""."""


class AxonFlowCallEvents(Protocol):
    def call_finished(self, *, function: str, seconds: float, failure: str | None) -> None:
        """One SDK call made (not one refused by an open breaker); `failure` is the
        `FailureKind` value ("unavailable", "rejected") or None."""


class BreakerEvents(Protocol):
    def breaker_state(self, *, function: str, state: str, previous: str | None) -> None:
        """The breaker of `function` is now in `state`; `previous` None at creation."""


class ApprovalEvents(Protocol):
    def hold_started(self) -> None:
        """A request is held: its approval row exists and the reviewer's answer is awaited."""

    def hold_ended(self, *, outcome: str, seconds: float) -> None:
        """A hold ended: approved, rejected, expired, pending (answered approval_pending)
        or cancelled."""


class AuditEvents(Protocol):
    """What audit delivery reports: the in-memory sink today, the durable outbox tomorrow.

    A record is `queued` once, then `delivered`, `dead_lettered` (kept, not delivered) or
    `dropped` (gone); every new attempt after a failed one is `retried`. The backlog gauges
    read `watch_backlog`'s callable (at scrape time in one process; on each event when
    LiteLLM runs several workers).
    """

    def queued(self) -> None: ...

    def delivered(self) -> None: ...

    def retried(self) -> None: ...

    def dead_lettered(self) -> None: ...

    def dropped(self, *, reason: AuditDrop, count: int = 1) -> None: ...

    def watch_backlog(self, read: Callable[[], AuditBacklog], *, shared: bool = False) -> None:
        """`shared`: `read` gives a durable outbox's figures, which every worker on the host
        (or every instance, with Redis) sees alike, so workers are not added up."""


class NoEvents:
    """Every event interface, doing nothing."""

    __slots__ = ()

    def decision(self, *, outcome: Outcome, policy: str) -> None:
        pass

    def call_finished(self, *, function: str, seconds: float, failure: str | None) -> None:
        pass

    def breaker_state(self, *, function: str, state: str, previous: str | None) -> None:
        pass

    def hold_started(self) -> None:
        pass

    def hold_ended(self, *, outcome: str, seconds: float) -> None:
        pass

    def queued(self) -> None:
        pass

    def delivered(self) -> None:
        pass

    def retried(self) -> None:
        pass

    def dead_lettered(self) -> None:
        pass

    def dropped(self, *, reason: AuditDrop, count: int = 1) -> None:
        pass

    def watch_backlog(self, read: Callable[[], AuditBacklog], *, shared: bool = False) -> None:
        pass


NO_EVENTS = NoEvents()
