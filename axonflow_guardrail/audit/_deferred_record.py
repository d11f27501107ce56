"""LiteLLM's entry for a pre-call decision that let the request go unchanged, written once the
request is past LiteLLM's shadow-eval snapshot.

Why later: right after the pre-call hooks, LiteLLM 1.106 takes a "shadow evaluation" snapshot
of the request (`refresh_proxy_server_request_body_snapshot` -> `GuardrailRequestSnapshot
.capture`: a deep copy and a pydantic validation of the body) whenever a guardrail entry of a
pre-call mode is in the metadata, whatever its status. It is only read for replays of requests
a guardrail changed; a decision that changed nothing (allowed, flagged in audit mode, not run,
or a `fail_open` pass) pays for it all the same, about 0.1-0.2 ms per request. Recording such
an entry under another mode would mislabel it (compliance checks and a metric read the mode),
so the entry keeps its true mode and is written a moment later instead:

- when LiteLLM logs the call's start to its callbacks (`log_pre_api_call`, just before the
  provider is called, also for mock models), so it is in the success log and also in the
  failure log of a model call that fails (LiteLLM builds that log before any post-call hook);
- otherwise by the first post-call hook (success, stream, failure): LiteLLM builds a
  non-streaming success log after the post-call hooks when a post-call guardrail is
  registered, and a stream's after the stream's iterator hooks.

A refusal and a request the guardrail rewrote are recorded at once (the snapshot exists for
those), and so is everything on a guardrail without `post_call`, whose post-call hooks never
run (`AxonFlowGuardrail._pre_call` decides). Counting and the applied-guardrails header never
wait (`GuardrailRecorder.announce`).

Keyed by a random id stamped into the request's metadata (never by the client-controlled call
id), bounded like `_call_state`: a request that reaches neither the provider nor a post-call
hook (its client left first) is forgotten after `max_age_seconds`.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from litellm.types.guardrails import GuardrailEventHooks

from axonflow_guardrail._litellm_compat import metadata_bucket
from axonflow_guardrail.audit._call_state import evict_oldest, stamped_id
from axonflow_guardrail.audit._litellm_record import GuardrailRecorder, Recorded

__all__ = ["PENDING_KEY", "DeferredRecords", "PendingRecord"]

PENDING_KEY = "axonflow_pending_record"


@dataclass(frozen=True, slots=True)
class PendingRecord:
    """An entry to write: the request it belongs to (by reference), and its own times."""

    data: dict[str, Any]
    recorded: Recorded
    started: float
    ended: float
    hook: Any


class DeferredRecords:
    def __init__(
        self,
        *,
        recorder: GuardrailRecorder,
        enabled: bool,
        key: str = PENDING_KEY,
        max_entries: int = 100_000,
        max_age_seconds: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # Each guardrail instance has its own key (several may govern one request).
        self._recorder = recorder
        self._enabled = enabled
        self._key = key
        self._pending: OrderedDict[str, tuple[float, PendingRecord]] = OrderedDict()
        self._max_entries = max_entries
        self._max_age = max_age_seconds
        self._clock = clock

    def __len__(self) -> int:
        return len(self._pending)

    def record(
        self,
        data: dict[str, Any],
        recorded: Recorded,
        *,
        started: float,
        hook: Any,
        rewritten: dict[str, Any] | None,
    ) -> None:
        """A pre-call hook's outcome: at once, or, for a `pre_call` pass that changed nothing
        on a guardrail with `post_call` (`enabled`), after LiteLLM's snapshot."""
        if (
            self._enabled
            and rewritten is None
            and hook is GuardrailEventHooks.pre_call
            and recorded.changes_nothing
        ):
            self.defer(data, recorded, started=started, hook=hook)
        else:
            target = rewritten if rewritten is not None else data
            self._recorder.record(target, recorded, started=started, hook=hook)

    def defer(self, data: dict[str, Any], recorded: Recorded, *, started: float, hook: Any) -> None:
        """Count and name at once; keep LiteLLM's entry until `flush`."""
        self._recorder.announce(data, recorded)
        pending_id = secrets.token_hex(16)
        try:
            _, bucket = metadata_bucket(data)
            bucket[self._key] = pending_id
        except Exception:  # no metadata to stamp: record now rather than lose the entry
            self._recorder.log(data, recorded, started=started, ended=time.time(), hook=hook)
            return
        now = self._clock()
        entry = PendingRecord(data, recorded, started, time.time(), hook)
        self._pending[pending_id] = (now, entry)
        self._evict(now)

    def flush(self, data: Any) -> bool:
        """Write the request's pending entry, if any, exactly once; True if one was written.

        `data` is whatever carries the request's metadata: the request itself (post-call hooks)
        or LiteLLM's logging details (`log_pre_api_call`: `litellm_params.metadata`)."""
        pending_id = self._pending_id_of(data)
        if pending_id is None:
            return False
        entry = self._pending.pop(pending_id, None)
        if entry is None:
            return False
        p = entry[1]
        self._recorder.log(p.data, p.recorded, started=p.started, ended=p.ended, hook=p.hook)
        return True

    def _pending_id_of(self, data: Any) -> str | None:
        found = stamped_id(data, self._key)
        if found is None and isinstance(data, Mapping):  # LiteLLM's logging details
            found = stamped_id(data.get("litellm_params"), self._key)
        return found

    def _evict(self, now: float) -> None:
        evict_oldest(self._pending, now=now, max_age=self._max_age, max_entries=self._max_entries)
