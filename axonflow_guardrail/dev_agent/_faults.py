"""Injected faults, so tests can show what the guardrail does when AxonFlow misbehaves.

A fault targets one route (or a prefix, with a trailing `*`) and replaces or delays the answer:
an error status with the body the SDK expects for it (a 402 carries `budget_info`, a 403 a
`block_reason`), a non-JSON body, a JSON body missing the fields the SDK needs, or a dropped
connection. `times` limits how many requests it hits.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web

from ._http import ApiError, JsonObject, json_response

_FIELDS = frozenset(
    {"route", "status", "delay_s", "non_json", "drop", "malformed", "times", "body", "after"}
)
_MAX_DELAY_S = 600.0

#: The body a `non_json` fault answers: what a load balancer's error page looks like.
NON_JSON_BODY = (
    b"<html><head><title>502 Bad Gateway</title></head>"
    b"<body><h1>502 Bad Gateway</h1><p>dev agent fault: non-JSON body</p></body></html>"
)
#: The body a `malformed` fault answers: valid JSON without any field the SDK needs.
MALFORMED_BODY: JsonObject = {"dev_agent_fault": "malformed", "note": "required fields missing"}


@dataclass(slots=True)
class Fault:
    """One active fault. `times` None means until cleared."""

    route: str
    status: int | None = None
    delay_s: float = 0.0
    non_json: bool = False
    drop: bool = False
    malformed: bool = False
    times: int | None = None
    body: JsonObject | None = None
    #: Applied after the handler ran: the request was processed (an audit stored), then the
    #: answer is delayed, replaced or dropped: a "lost answer" the client must not trust.
    after: bool = False
    hits: int = 0

    @property
    def replaces_answer(self) -> bool:
        """False for a pure delay, after which the request is handled normally."""
        return self.drop or self.non_json or self.malformed or self.status is not None

    def to_json(self) -> JsonObject:
        return {
            "route": self.route,
            "status": self.status,
            "delay_s": self.delay_s,
            "non_json": self.non_json,
            "drop": self.drop,
            "malformed": self.malformed,
            "times": self.times,
            "body": self.body,
            "after": self.after,
            "hits": self.hits,
        }

    def response(self) -> web.Response:
        """The answer that replaces the handler's (not for `drop`, which answers nothing)."""
        if self.non_json:
            return web.Response(
                body=NON_JSON_BODY, status=self.status or 200, content_type="text/html"
            )
        if self.malformed:
            return json_response(MALFORMED_BODY, status=self.status or 200)
        status = self.status or 500
        headers = {"Retry-After": "1"} if status in (429, 503) else None
        return json_response(
            self.body or default_error_body(status), status=status, headers=headers
        )


def default_error_body(status: int) -> JsonObject:
    """The platform-shaped error body for `status`, with what the SDK reads for it."""
    if status == 401:
        return {"success": False, "error": "Invalid credentials"}
    if status == 402:
        return {
            "success": False,
            "error": "Budget exceeded",
            "message": "Budget exceeded (dev agent fault)",
            "approved": False,
            "budget_info": {
                "budget_id": "dev-agent-budget",
                "budget_name": "Dev agent injected budget",
                "used_usd": 100.0,
                "limit_usd": 100.0,
                "percentage": 100.0,
                "exceeded": True,
                "action": "block",
            },
        }
    if status == 403:
        reason = "Request blocked by policy (dev agent fault)"
        return {
            "success": False,
            "error": reason,
            "message": reason,
            "block_reason": reason,
            "allowed": False,
        }
    if status == 429:
        return {"success": False, "error": "rate limit exceeded (dev agent fault)"}
    if status == 503:
        return {
            "success": False,
            "error": "Service temporarily unavailable: circuit breaker active (dev agent fault)",
        }
    return {"success": False, "error": f"HTTP {status} injected by a dev agent fault"}


def parse_fault(payload: object) -> Fault:
    """Validate a `PUT /__dev/faults` item; a 400 `ApiError` says what is wrong."""
    if not isinstance(payload, Mapping):
        raise ApiError(400, "a fault must be a JSON object with at least 'route'")
    unknown = sorted(str(k) for k in payload if k not in _FIELDS)
    if unknown:
        raise ApiError(
            400,
            f"unknown fault field(s): {', '.join(unknown)}; allowed: {', '.join(sorted(_FIELDS))}",
        )
    route = payload.get("route")
    if not isinstance(route, str) or not route.startswith("/"):
        raise ApiError(400, "fault 'route' must be a path starting with '/' (may end with '*')")
    if route.startswith("/__dev"):
        raise ApiError(400, "faults cannot target the /__dev control API")
    status = payload.get("status")
    if status is not None and (
        isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599
    ):
        raise ApiError(400, "fault 'status' must be an HTTP status code (100-599) or null")
    delay = payload.get("delay_s", 0)
    if (
        isinstance(delay, bool)
        or not isinstance(delay, int | float)
        or not math.isfinite(delay)
        or not 0 <= delay <= _MAX_DELAY_S
    ):
        raise ApiError(400, f"fault 'delay_s' must be a number from 0 to {_MAX_DELAY_S:g}")
    flags: dict[str, bool] = {}
    for key in ("non_json", "drop", "malformed"):
        value = payload.get(key, False)
        if not isinstance(value, bool):
            raise ApiError(400, f"fault {key!r} must be true or false")
        flags[key] = value
    if sum(flags.values()) > 1:
        raise ApiError(400, "use at most one of 'non_json', 'drop' and 'malformed' in a fault")
    times = payload.get("times")
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
        raise ApiError(400, "fault 'times' must be a positive integer or null")
    body = payload.get("body")
    if body is not None and not isinstance(body, dict):
        raise ApiError(400, "fault 'body' must be a JSON object or null")
    after = payload.get("after", False)
    if not isinstance(after, bool):
        raise ApiError(400, "fault 'after' must be true or false")
    return Fault(
        route=route,
        status=status,
        delay_s=float(delay),
        times=times,
        body=body,
        after=after,
        **flags,
    )


class FaultTable:
    """The active faults, by route; an exact route wins over the longest matching prefix."""

    __slots__ = ("_exact", "_prefixes")

    def __init__(self) -> None:
        self._exact: dict[str, Fault] = {}
        self._prefixes: dict[str, Fault] = {}

    def __bool__(self) -> bool:
        return bool(self._exact or self._prefixes)

    def set(self, fault: Fault) -> None:
        if fault.route.endswith("*"):
            self._prefixes[fault.route[:-1]] = fault
        else:
            self._exact[fault.route] = fault

    def clear(self) -> None:
        self._exact.clear()
        self._prefixes.clear()

    def to_json(self) -> list[JsonObject]:
        return [f.to_json() for f in (*self._exact.values(), *self._prefixes.values())]

    def take(self, path: str) -> Fault | None:
        """The fault for `path`, counting the hit (and retiring it when `times` runs out)."""
        if not self:
            return None
        fault = self._exact.get(path)
        key = path
        table = self._exact
        if fault is None:
            best = max((p for p in self._prefixes if path.startswith(p)), key=len, default=None)
            if best is None:
                return None
            fault, key, table = self._prefixes[best], best, self._prefixes
        fault.hits += 1
        if fault.times is not None:
            fault.times -= 1
            if fault.times <= 0:
                del table[key]
        return fault


def describe(fault: Fault) -> str:
    """A short text for the log line of a faulted request."""
    parts: list[str] = []
    if fault.delay_s:
        parts.append(f"delay={fault.delay_s:g}s")
    if fault.drop:
        parts.append("drop")
    elif fault.non_json:
        parts.append("non_json")
    elif fault.malformed:
        parts.append("malformed")
    if fault.status is not None:
        parts.append(f"status={fault.status}")
    if fault.after:
        parts.append("after")
    return ",".join(parts) or "none"
