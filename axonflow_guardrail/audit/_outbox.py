"""The durable audit outbox: what a backend does, and the figures it reports.

Why an outbox: an audit record is a promise to the platform team ("every call has a row").
A record is written here before it counts as queued, and removed only when AxonFlow
confirmed it (`success` with an `audit_id`). Delivery is therefore at least once: a crash
between AxonFlow's answer and the delete, or an answer lost on the way (timeout, dropped
connection), sends the record again. Each send carries the record's own id and the LiteLLM
call id in the audit's metadata, so such a duplicate is traceable.

Backends: `_sqlite_outbox.SqliteOutbox` (one file per host, shared by the workers of
`--num_workers N`) and `_redis_outbox.RedisOutbox` (a stream with a consumer group, shared by
instances). Each keeps its records per channel (the guardrail's name), so two guardrails
with different credentials never deliver each other's records.

Holding: a shipper claims records and holds them while it runs (the SQLite backend renews a
heartbeat, the Redis backend re-claims its held entries); records of a shipper that stopped
renewing for `audit_outbox_lease_seconds` are claimed by another.

`OutboxStatus` is the small read-only API other parts read (`axonflow-guardrail outbox
status`, metrics): depth, oldest age, dead letters, counters and the calls a retroactive
pre-check flagged.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from axonflow_guardrail.audit._outbox_entry import OutboxEntry

__all__ = [
    "COUNTER_NAMES",
    "DeadLetter",
    "FlaggedCall",
    "Outbox",
    "OutboxStatus",
]

#: The counters every backend keeps (cumulative, per channel).
COUNTER_NAMES = (
    "delivered",
    "dead_lettered",
    "refused_full",
    "retroactive_allow",
    "retroactive_deny",
    "retroactive_needs_approval",
    "retroactive_redact",
    "resent_after_lost_answer",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class FlaggedCall:
    """A call a retroactive pre-check would have blocked (or held for approval)."""

    call_id: str
    verdict: str
    policies: tuple[str, ...]
    decided_at: float
    called_at: float

    def to_json(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "verdict": self.verdict,
            "policies": list(self.policies),
            "decided_at": self.decided_at,
            "called_at": self.called_at,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadLetter:
    record_id: str
    call_id: str
    created_at: float
    dead_at: float | None
    attempts: int
    error: str

    def to_json(self) -> dict[str, Any]:
        return {
            "record_id": self.record_id,
            "call_id": self.call_id,
            "created_at": self.created_at,
            "dead_at": self.dead_at,
            "attempts": self.attempts,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxStatus:
    """The outbox's figures at one moment (for `outbox status` and metrics)."""

    backend: str
    location: str
    channel: str
    pending: int
    pending_bytes: int
    oldest_pending_at: float | None
    dead_letters: int
    dead_letter_bytes: int
    counters: Mapping[str, int] = field(default_factory=dict)
    flagged: Sequence[FlaggedCall] = ()
    taken_at: float = field(default_factory=time.time)

    @property
    def oldest_age_seconds(self) -> float | None:
        if self.oldest_pending_at is None:
            return None
        return max(0.0, self.taken_at - self.oldest_pending_at)

    @property
    def retroactive_verdicts(self) -> dict[str, int]:
        prefix = "retroactive_"
        return {
            name[len(prefix) :]: value
            for name, value in self.counters.items()
            if name.startswith(prefix)
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "location": self.location,
            "channel": self.channel,
            "pending": self.pending,
            "pending_bytes": self.pending_bytes,
            "oldest_age_seconds": self.oldest_age_seconds,
            "dead_letters": self.dead_letters,
            "dead_letter_bytes": self.dead_letter_bytes,
            "counters": {name: self.counters.get(name, 0) for name in COUNTER_NAMES},
            "retroactive_verdicts": self.retroactive_verdicts,
            "flagged": [call.to_json() for call in self.flagged],
        }


class Outbox(Protocol):
    """What the sink (writer) and the shipper (reader) need of a backend."""

    backend: str
    location: str
    channel: str

    # ---- writing (the proxy worker; never blocks the event loop)
    def put(self, entry: OutboxEntry, payload: bytes, *, hold: bool) -> asyncio.Future[None] | None:
        """Keep `entry` (None: refused, the outbox is full). The future resolves once it is
        written where a crashed process cannot lose it. `hold`: this process's shipper
        delivers it (it is held from the start); else any shipper may claim it."""

    def has_room(self) -> bool: ...

    def holds_own_records(self) -> bool:
        """True when `put(hold=True)` records are delivered from memory by this process."""

    # ---- shipping
    async def claim(self, limit: int) -> list[OutboxEntry]:
        """Up to `limit` records now held by this shipper: new ones, or another's after its
        lease ran out."""

    def delivered(self, entry: OutboxEntry) -> None:
        """AxonFlow confirmed it: remove it (soon, in the next write)."""

    async def dead_letter(self, entry: OutboxEntry, error: str) -> None: ...

    def count(self, name: str, amount: int = 1) -> None: ...

    def flag(self, call: FlaggedCall) -> None: ...

    async def status(self) -> OutboxStatus: ...

    # ---- operators
    async def dead_letters(self, limit: int) -> list[DeadLetter]: ...

    async def retry_dead_letters(self, record_ids: Sequence[str] | None) -> int: ...

    async def purge_dead_letters(self, record_ids: Sequence[str] | None) -> int: ...

    async def close(self) -> None:
        """Write what is pending and release what this shipper holds."""
