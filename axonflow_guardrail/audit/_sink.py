"""Audit delivery: off the response path, once per call, and flushed on shutdown.

Why a sink and not `await audit_llm_call(...)` in the hook: the client's response must never
wait for AxonFlow's audit answer (an audit route that takes 500 ms would add 500 ms to every
call). `submit` only puts a record on a bounded queue and returns; a few worker tasks send
the records through the SDK.

Exactly once: the guardrail submits a call's record only from the hook that takes the call's
state (`_call_state`), so a second post-call hook finds nothing to submit. The agent has no
idempotency key, so a retry could write a second row: we retry only when the record cannot
have been stored (connection refused, 503), never after a timeout or a dropped connection,
and the call id travels in the record's metadata so any duplicate would be traceable.

Nothing lost quietly: a full queue or a record that still fails after its retries is logged
at ERROR with the call id. When the worker tasks are cancelled at shutdown (asyncio cancels
every remaining task when the proxy's loop stops), the first one flushes what is queued,
within `flush_seconds`, before the loop closes.

Counted: every record is reported to an `AuditEvents` (metrics) as queued, then delivered or
dropped (queue full, undeliverable after its retries, not flushed at shutdown), with each
retry; the backlog gauges read `backlog()`. A durable outbox reports through the same
interface (it adds `dead_lettered`).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence

from axonflow_guardrail._log import log
from axonflow_guardrail.audit._records import AuditRecord, LLMCallAudit
from axonflow_guardrail.axonflow._client import AxonFlowClient
from axonflow_guardrail.axonflow._failures import AxonFlowFailure, FailureKind
from axonflow_guardrail.observe._events import NO_EVENTS, AuditBacklog, AuditDrop, AuditEvents

__all__ = ["AuditSink"]


def _retryable(failure: AxonFlowFailure) -> bool:
    """Only when the record cannot have been stored: connection refused, or 503."""
    return failure.kind is FailureKind.UNAVAILABLE and failure.unsent and not failure.breaker_open


class AuditSink:
    """A bounded queue of audit records and the tasks that deliver them (`audit_outbox:
    memory`: lost on a crash or when a stop outlasts `flush_seconds`; see `_durable_sink`)."""

    #: Calls that pass on `fail_open` are not recorded here (they have no context).
    keeps_failed_open = False

    def __init__(
        self,
        *,
        client: AxonFlowClient,
        queue_size: int,
        concurrency: int,
        send_timeout_seconds: float,
        retry_delays: Sequence[float] = (0.5, 2.0, 5.0),
        flush_seconds: float = 5.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        events: AuditEvents = NO_EVENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._queue_size = queue_size
        self._concurrency = concurrency
        self._send_timeout = send_timeout_seconds
        self._retry_delays = tuple(retry_delays)
        self._flush_seconds = flush_seconds
        self._sleep = sleep
        self._queue: asyncio.Queue[AuditRecord] | None = None
        #: When each queued record was queued, oldest first (the queue is FIFO).
        self._queued_at: deque[float] = deque()
        self._workers: list[asyncio.Task[None]] = []
        self._flushing = False
        self._events = events
        self._clock = clock
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        events.watch_backlog(self.backlog)

    def backlog(self) -> AuditBacklog:
        """Records waiting for a delivery task, and the wait of the oldest."""
        queued_at = self._queued_at
        if not queued_at:
            return AuditBacklog(depth=0, oldest_age_seconds=None)
        return AuditBacklog(
            depth=len(queued_at), oldest_age_seconds=max(0.0, self._clock() - queued_at[0])
        )

    def submit_built(self, build: Callable[[], AuditRecord], *, call_id: str) -> None:
        """Build a record and queue it; a failure to build is logged with the call id.

        Never raises, never waits: called from the response path.
        """
        try:
            self.submit(build())
        except Exception:
            log.exception("axonflow audit could not be built or queued; call_id=%s", call_id)

    def has_room(self) -> bool:
        return self._queue is None or not self._queue.full()

    @staticmethod
    async def settle(kept: object, *, call_id: str) -> None:
        """Nothing to wait for: a memory queue keeps nothing beyond the process."""

    def submit(self, record: AuditRecord) -> bool:
        """Queue `record` for delivery. Never blocks, never raises."""
        queue = self._ensure_started()
        try:
            queue.put_nowait(record)
        except asyncio.QueueFull:
            self.dropped += 1
            self._events.dropped(reason=AuditDrop.QUEUE_FULL)
            log.error(
                "axonflow audit dropped: queue full (%d records); call_id=%s",
                self._queue_size,
                record.call_id,
            )
            return False
        self._queued_at.append(self._clock())
        self._events.queued()
        return True

    async def drain(self) -> None:
        """Wait until every queued record has been handled (tests, shutdown)."""
        if self._queue is not None:
            await self._queue.join()

    def _ensure_started(self) -> asyncio.Queue[AuditRecord]:
        if self._queue is None or not self._workers or all(w.done() for w in self._workers):
            self._queue = asyncio.Queue(maxsize=self._queue_size)
            self._queued_at.clear()
            self._workers = [
                asyncio.create_task(self._work(), name=f"axonflow-audit-{i}")
                for i in range(self._concurrency)
            ]
        return self._queue

    async def _work(self) -> None:
        assert self._queue is not None
        queue = self._queue
        try:
            while True:
                record = await queue.get()
                self._taken()
                try:
                    await self._deliver(record)
                finally:
                    queue.task_done()
        except asyncio.CancelledError:
            await self._flush_on_shutdown(queue)
            raise

    async def _flush_on_shutdown(self, queue: asyncio.Queue[AuditRecord]) -> None:
        if self._flushing:
            return
        self._flushing = True
        pending = queue.qsize()
        try:
            async with asyncio.timeout(self._flush_seconds):
                while not queue.empty():
                    record = queue.get_nowait()
                    self._taken()
                    await self._deliver(record, retries=False)
                    queue.task_done()
        except TimeoutError:
            if queue.qsize():
                self._events.dropped(reason=AuditDrop.SHUTDOWN, count=queue.qsize())
            log.error(
                "axonflow audit: %d record(s) not delivered at shutdown (flush took over %.1fs)",
                queue.qsize(),
                self._flush_seconds,
            )
        if pending:
            log.info("axonflow audit: flushed %d queued record(s) at shutdown", pending)
        await self._client.close()

    async def _deliver(self, record: AuditRecord, *, retries: bool = True) -> None:
        delays = self._retry_delays if retries else ()
        for attempt in range(len(delays) + 1):
            try:
                await self._send(record)
            except AxonFlowFailure as failure:
                if attempt < len(delays) and _retryable(failure):
                    await self._sleep(delays[attempt])
                    self._events.retried()
                    continue
                self.failed += 1
                self._events.dropped(reason=AuditDrop.UNDELIVERABLE)
                log.error(
                    "axonflow audit failed: %s; call_id=%s (attempt %d)",
                    failure.reason,
                    record.call_id,
                    attempt + 1,
                )
                return
            except Exception:  # a bug here must not kill the worker
                self.failed += 1
                self._events.dropped(reason=AuditDrop.UNDELIVERABLE)
                log.exception("axonflow audit failed unexpectedly; call_id=%s", record.call_id)
                return
            self.sent += 1
            self._events.delivered()
            return

    def _taken(self) -> None:
        if self._queued_at:
            self._queued_at.popleft()

    async def _send(self, record: AuditRecord) -> None:
        if isinstance(record, LLMCallAudit):
            await self._client.audit_llm_call(
                context_id=record.context_id,
                response_summary=record.response_summary,
                provider=record.provider,
                model=record.model,
                usage=record.usage,
                latency_ms=record.latency_ms,
                metadata={**record.metadata, "litellm_call_id": record.call_id},
                timeout=self._send_timeout,
                traceparent=record.traceparent,
            )
        else:
            await self._client.audit_tool_call(
                request=record.request,
                timeout=self._send_timeout,
                traceparent=record.traceparent,
            )
