"""The agent's in-memory state: pre-check contexts, audits, the request log, and their owner.

Everything is bounded so a long benchmark cannot grow memory without limit: contexts expire
after five minutes (and the oldest go first past a hard cap), the request and audit logs keep
the most recent entries only. Log entries are kept serialized (bytes) and contexts as plain
tuples: hundreds of thousands of live dicts would make each full garbage collection pause the
agent for hundreds of milliseconds in the middle of a benchmark.
"""

from __future__ import annotations

import itertools
import uuid
from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

from ._auth import Authenticator
from ._clock import AgentClock, rfc3339
from ._config import AgentConfig
from ._faults import FaultTable
from ._hitl_queue import HitlQueue
from ._http import INVALID_JSON, JsonObject
from ._policies import PolicySet
from ._stats import RouteStats

CONTEXT_TTL_S = 300.0
MAX_CONTEXTS = 1_000_000
MAX_REQUESTS_LOGGED = 50_000
MAX_AUDITS_KEPT = 50_000
#: Bodies larger than this are not kept in the request log (only their size).
MAX_LOGGED_BODY_BYTES = 64 * 1024
#: Headers whose values never appear in the request log.
REDACTED_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


class StoredContext(NamedTuple):
    """What an audit needs to know about the pre-check it refers to."""

    context_id: str
    client_id: str
    expires_at: float
    verdict: str


class ContextStore:
    """Pre-check contexts, valid for five minutes on the agent's clock.

    Insertion order is expiry order (the TTL is fixed and the clock only moves forward), so
    pruning only ever looks at the oldest entry.
    """

    __slots__ = ("_clock", "_contexts", "_max")

    def __init__(self, clock: AgentClock, *, max_entries: int = MAX_CONTEXTS) -> None:
        self._clock = clock
        self._max = max_entries
        self._contexts: OrderedDict[str, StoredContext] = OrderedDict()

    def __len__(self) -> int:
        return len(self._contexts)

    def create(self, *, client_id: str, verdict: str) -> StoredContext:
        now = self._clock.now()
        contexts = self._contexts
        while contexts:
            oldest = next(iter(contexts.values()))
            if oldest.expires_at > now and len(contexts) < self._max:
                break
            contexts.popitem(last=False)
        ctx = StoredContext(str(uuid.uuid4()), client_id, now + CONTEXT_TTL_S, verdict)
        contexts[ctx.context_id] = ctx
        return ctx

    def get_live(self, context_id: str) -> StoredContext | None:
        ctx = self._contexts.get(context_id)
        if ctx is None or ctx.expires_at <= self._clock.now():
            return None
        return ctx

    def clear(self) -> None:
        self._contexts.clear()


class AuditLog:
    """Accepted audit records (newest kept), as `GET /__dev/audits` shows them."""

    __slots__ = ("_records",)

    def __init__(self, *, max_records: int = MAX_AUDITS_KEPT) -> None:
        self._records: deque[bytes] = deque(maxlen=max_records)

    def add(self, *, route: str, client_id: str, body: Mapping[str, Any], now: float) -> str:
        audit_id = str(uuid.uuid4())
        record = {
            **body,
            "audit_id": audit_id,
            "route": route,
            "authenticated_client_id": client_id,
            "received_at": rfc3339(now),
        }
        self._records.append(orjson.dumps(record))
        return audit_id

    def records(self) -> list[JsonObject]:
        return [orjson.loads(record) for record in self._records]

    def count_by_call(self) -> dict[str, int]:
        """LLM-call audits per `metadata.litellm_call_id` (to find missing and duplicate
        audits; a tool-call audit counts under `tool:<tool_name>`)."""
        counts: dict[str, int] = {}
        for record in self.records():
            metadata = record.get("metadata")
            call_id = metadata.get("litellm_call_id") if isinstance(metadata, dict) else None
            if call_id is None and record.get("route") == "tool-call":
                call_id = f"tool:{record.get('tool_name')}"
            key = str(call_id)
            counts[key] = counts.get(key, 0) + 1
        return counts

    def clear(self) -> None:
        self._records.clear()


class RequestLog:
    """Every request to an AxonFlow route (newest kept), secrets replaced by `<redacted>`."""

    __slots__ = ("_entries", "_seq")

    def __init__(self, *, max_entries: int = MAX_REQUESTS_LOGGED) -> None:
        # (path, serialized entry): the path stays readable for filtering.
        self._entries: deque[tuple[str, bytes]] = deque(maxlen=max_entries)
        self._seq = itertools.count(1)

    def record(
        self,
        *,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        raw_size: int,
        body: Any,
        raw: bytes,
        auth_client_id: str | None,
        now: float,
        fault: str | None = None,
    ) -> None:
        entry: JsonObject = {
            "seq": next(self._seq),
            "time": rfc3339(now),
            "method": method,
            "path": path,
            "query": query,
            "headers": {
                str(name): ("<redacted>" if name.lower() in REDACTED_HEADERS else value)
                for name, value in headers.items()
            },
            "auth_client_id": auth_client_id,
            "body_size": raw_size,
            "body": None,
        }
        if fault is not None:
            entry["fault"] = fault
        if raw_size > MAX_LOGGED_BODY_BYTES:
            entry["body_truncated"] = True
        elif body is INVALID_JSON:
            entry["body_text"] = raw[:2000].decode("utf-8", "replace")
        else:
            entry["body"] = body
        self._entries.append((path, orjson.dumps(entry)))

    def entries(self, *, path: str | None = None, limit: int | None = None) -> list[JsonObject]:
        selected = [raw for p, raw in self._entries if path is None or p == path]
        if limit is not None:
            selected = selected[-limit:] if limit > 0 else []
        return [orjson.loads(raw) for raw in selected]

    def clear(self) -> None:
        self._entries.clear()


@dataclass(slots=True, kw_only=True)
class AgentState:
    """Everything the handlers share; one per app."""

    config: AgentConfig
    version: str
    loaded_policies: PolicySet
    policies: PolicySet
    clock: AgentClock
    auth: Authenticator
    contexts: ContextStore
    audits: AuditLog
    requests: RequestLog
    faults: FaultTable
    stats: RouteStats
    hitl: HitlQueue

    @classmethod
    def create(cls, config: AgentConfig, policies: PolicySet, *, version: str) -> AgentState:
        clock = AgentClock()
        return cls(
            config=config,
            version=version,
            loaded_policies=policies,
            policies=policies,
            clock=clock,
            auth=Authenticator(config.clients),
            contexts=ContextStore(clock),
            audits=AuditLog(),
            requests=RequestLog(),
            faults=FaultTable(),
            stats=RouteStats(),
            hitl=HitlQueue(clock, pending_cap=config.hitl_pending_cap),
        )

    @property
    def enterprise(self) -> bool:
        return self.config.edition == "enterprise"

    def reset(self) -> None:
        """Back to the state right after start-up (policies: the loaded file)."""
        self.policies = self.loaded_policies
        self.clock.reset()
        self.contexts.clear()
        self.audits.clear()
        self.requests.clear()
        self.faults.clear()
        self.stats.clear()
        self.hitl.clear()
