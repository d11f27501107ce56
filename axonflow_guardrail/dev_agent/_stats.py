"""Server-side service time per route, for the benchmark.

Measured from the handler's entry to its response being ready, so it excludes the network,
aiohttp's parsing and any injected delay: it is the dev agent's own cost, which the benchmark
subtracts from what it sees end to end. Samples are bounded per route.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

_MAX_SAMPLES = 100_000


@dataclass(slots=True)
class _RouteSamples:
    count: int = 0
    faulted: int = 0
    samples_ns: deque[int] = field(default_factory=lambda: deque(maxlen=_MAX_SAMPLES))


class RouteStats:
    """Counts and service-time samples keyed by `"<METHOD> <route template>"`."""

    __slots__ = ("_routes",)

    def __init__(self) -> None:
        self._routes: dict[str, _RouteSamples] = {}

    def _get(self, key: str) -> _RouteSamples:
        entry = self._routes.get(key)
        if entry is None:
            entry = self._routes[key] = _RouteSamples()
        return entry

    def record(self, key: str, service_ns: int) -> None:
        entry = self._get(key)
        entry.count += 1
        entry.samples_ns.append(service_ns)

    def record_fault(self, key: str) -> None:
        """A request answered (or dropped) by a fault: counted, no service time."""
        entry = self._get(key)
        entry.count += 1
        entry.faulted += 1

    def clear(self) -> None:
        self._routes.clear()

    def snapshot(self) -> dict[str, Any]:
        routes: dict[str, Any] = {}
        for key, entry in sorted(self._routes.items()):
            ordered = sorted(entry.samples_ns)
            routes[key] = {
                "count": entry.count,
                "faulted": entry.faulted,
                "samples": len(ordered),
                "p50_us": _percentile_us(ordered, 50),
                "p95_us": _percentile_us(ordered, 95),
                "p99_us": _percentile_us(ordered, 99),
                "max_us": round(ordered[-1] / 1000, 1) if ordered else None,
            }
        return {"routes": routes, "max_samples_per_route": _MAX_SAMPLES}


def _percentile_us(ordered: list[int], pct: int) -> float | None:
    """Nearest-rank percentile, in microseconds with one decimal."""
    if not ordered:
        return None
    rank = max(1, -(-pct * len(ordered) // 100))
    return round(ordered[rank - 1] / 1000, 1)
