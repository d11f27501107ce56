"""What the pre-call hook learned about a request, kept until the call is audited.

Why not in the request body: clients control the body (and LiteLLM's `x-litellm-call-id`
header), so a state a client could name or collide with could suppress or misdirect an
audit. The pre-call hook stamps a random, server-made id into the request's metadata and
keeps the state here under it; the first post-call hook to `take()` it audits, so a call is
audited exactly once even when LiteLLM runs post-call hooks twice.

Bounded: a call whose post-call hooks never fire (the client vanished before the model
answered) is forgotten after `max_age_seconds`, or when more than `max_entries` are open.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from axonflow_guardrail._litellm_compat import metadata_bucket
from axonflow_guardrail.axonflow._client import PreCheckDecision, Verdict
from axonflow_guardrail.request._governed import GovernedRequest
from axonflow_guardrail.request._identity import CallerIdentity

__all__ = ["NO_DECISION", "CallState", "CallStateStore"]

REQUEST_ID_KEY = "axonflow_request_id"
_BUCKETS = ("metadata", "litellm_metadata")


@dataclass(slots=True, kw_only=True)
class CallState:
    request_id: str
    litellm_call_id: str
    call_type: str
    model: str
    route: str | None
    identity: CallerIdentity
    decision: PreCheckDecision
    enforcement: str
    would_have_blocked: bool = False
    approval_id: str | None = None
    redacted: bool = False
    #: The request's W3C traceparent, carried by its output check and audit.
    traceparent: str | None = None
    checked_at: float = field(default_factory=time.monotonic)
    extra: dict[str, Any] = field(default_factory=dict)
    #: The pre-check text, kept for a retroactive pre-check (expired context, fail-open pass).
    query: str = field(default="", repr=False)
    #: Why the call went through without a decision (`fail_open`), or None: it had one.
    failed_open: str | None = None
    checked_wall: float = field(default_factory=time.time)


#: The decision of a call that passed on `fail_open`: AxonFlow gave none (no context).
NO_DECISION = PreCheckDecision(
    verdict=Verdict.ALLOW, context_id="", decision_id=None, policies=(), block_reason=None
)


class CallStateStore:
    def __init__(
        self,
        *,
        max_entries: int = 100_000,
        max_age_seconds: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
        key: str = REQUEST_ID_KEY,
    ) -> None:
        # Each guardrail instance stamps its own key: several AxonFlow guardrails can govern
        # one request (default_on plus a per-model one), and each must find its own state.
        self._key = key
        self._states: OrderedDict[str, tuple[float, CallState]] = OrderedDict()
        self._max_entries = max_entries
        self._max_age = max_age_seconds
        self._clock = clock

    def __len__(self) -> int:
        return len(self._states)

    @staticmethod
    def new_request_id() -> str:
        return secrets.token_hex(16)  # 128 random bits, as uuid4 but without the object

    def remember(
        self,
        data: MutableMapping[str, Any],
        *,
        request: GovernedRequest,
        decision: PreCheckDecision,
        would_have_blocked: bool,
        approval_id: str | None,
        redacted: bool,
        keep: bool,
    ) -> CallState:
        """The call's state; kept under a fresh id stamped into `data` when `keep` (only when a
        post-call hook will take it: nothing else would ever remove it)."""
        state = self._state_of(
            request,
            decision,
            would_have_blocked=would_have_blocked,
            approval_id=approval_id,
            redacted=redacted,
        )
        if keep:
            self.put(data, state)
        return state

    def remember_failed_open(
        self, data: MutableMapping[str, Any], *, request: GovernedRequest, reason: str
    ) -> CallState:
        """A call `fail_open` let through: kept so its post-call hook records it, to be
        pre-checked and audited after the fact (`audit._retroactive`)."""
        state = self._state_of(request, NO_DECISION, failed_open=reason)
        self.put(data, state)
        return state

    def _state_of(
        self, request: GovernedRequest, decision: PreCheckDecision, **outcome: Any
    ) -> CallState:
        """What every kept call carries from its request; `outcome`: what the check added."""
        return CallState(
            request_id=self.new_request_id(),
            litellm_call_id=request.call_id,
            call_type=request.call_type,
            model=request.model,
            route=request.route,
            identity=request.identity,
            decision=decision,
            enforcement=request.identity.enforcement_mode,
            query=request.query,
            traceparent=request.traceparent,
            **outcome,
        )

    def put(self, data: MutableMapping[str, Any], state: CallState) -> None:
        """Keep `state` and stamp its id into the request's metadata (overwriting any forgery)."""
        _, bucket = metadata_bucket(data)
        bucket[self._key] = state.request_id
        now = self._clock()
        self._states[state.request_id] = (now, state)
        self._evict(now)

    def take(self, data: Any) -> CallState | None:
        """The state for this request, removed so no other hook can audit it again."""
        request_id = self.request_id_of(data)
        if request_id is None:
            return None
        entry = self._states.pop(request_id, None)
        return entry[1] if entry else None

    def peek(self, data: Any) -> CallState | None:
        request_id = self.request_id_of(data)
        entry = self._states.get(request_id) if request_id else None
        return entry[1] if entry else None

    def request_id_of(self, data: Any) -> str | None:
        return stamped_id(data, self._key)

    def _evict(self, now: float) -> None:
        evict_oldest(self._states, now=now, max_age=self._max_age, max_entries=self._max_entries)


def stamped_id(data: Any, key: str, *, buckets: tuple[str, ...] = _BUCKETS) -> str | None:
    """The id stamped under `key` in the first of `buckets` of `data` that holds one."""
    if not isinstance(data, Mapping):
        return None
    for bucket_name in buckets:
        bucket = data.get(bucket_name)
        if isinstance(bucket, Mapping):
            value = bucket.get(key)
            if isinstance(value, str):
                return value
    return None


def evict_oldest(
    entries: OrderedDict[str, tuple[float, Any]],
    *,
    now: float,
    max_age: float,
    max_entries: int,
) -> None:
    """Drop the oldest entries (kept as (created, value), oldest first) while there are too
    many or the oldest is too old."""
    while entries:
        oldest_id, (created, _) = next(iter(entries.items()))
        if len(entries) <= max_entries and now - created <= max_age:
            break
        entries.pop(oldest_id)
