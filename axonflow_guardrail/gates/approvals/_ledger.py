"""Approval ids spent in this process (the shared cache is the cross-worker record)."""

from __future__ import annotations

import heapq
import threading
from collections.abc import Callable

__all__ = ["SpentLedger"]

Clock = Callable[[], float]


class SpentLedger:
    """Approval ids spent in this process, each forgotten after its TTL.

    The authoritative record when there is no shared cache, and a backstop when the cache's
    bounded in-memory layer evicts a marker. Human approvals are rare, so it stays small.
    """

    def __init__(self, *, clock: Clock) -> None:
        self._clock = clock
        self._until: dict[str, float] = {}
        self._expiries: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def is_spent(self, approval_id: str) -> bool:
        with self._lock:
            self._prune()
            return approval_id in self._until

    def claim(self, approval_id: str, *, ttl_seconds: float) -> bool:
        """Record a use; False if the id was already spent here."""
        with self._lock:
            self._prune()
            if approval_id in self._until:
                return False
            until = self._clock() + ttl_seconds
            self._until[approval_id] = until
            heapq.heappush(self._expiries, (until, approval_id))
            return True

    def release(self, approval_id: str) -> None:
        """Undo a claim whose use did not happen (the shared record could not be written)."""
        with self._lock:
            self._until.pop(approval_id, None)

    def __len__(self) -> int:
        with self._lock:
            self._prune()
            return len(self._until)

    def _prune(self) -> None:
        now = self._clock()
        while self._expiries and self._expiries[0][0] <= now:
            until, approval_id = heapq.heappop(self._expiries)
            if self._until.get(approval_id) == until:
                del self._until[approval_id]
