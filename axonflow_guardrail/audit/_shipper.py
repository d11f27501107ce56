"""The shipper: takes records from the outbox to AxonFlow, until AxonFlow confirmed each.

Off the response path: in-process it is a few background tasks per worker (the records this
worker wrote are handed over in memory, others claimed from the outbox); as a separate
process (`axonflow-guardrail ship-audits`) it claims everything.

For each record: send it through the SDK; on success (`success` with an `audit_id`) delete
it. A transient failure (connection, timeout, 5xx, 408, 429, a malformed answer) is retried
with exponential backoff up to `audit_retry_max_seconds`, for as long as it takes, behind a
circuit breaker: while the breaker is open the shipper waits and then sends one probe, it
does not hammer a platform that is down. AxonFlow's expired-context 400 (and a context our
clock already knows is past its window, and a call that passed on `fail_open`) takes the
retroactive path (`_retroactive`). Any other 4xx is permanent: the record becomes a dead
letter, with its error, kept until an operator retries or purges it.

Duplicates: a retry after an answer that was lost (a timeout or a dropped connection, when
AxonFlow may have stored the audit) can write a second row. Those retries are counted
(`resent_after_lost_answer`); each row carries the record id and the LiteLLM call id.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

import httpx

from axonflow_guardrail._log import log
from axonflow_guardrail.audit._outbox import Outbox
from axonflow_guardrail.audit._outbox_entry import OutboxEntry
from axonflow_guardrail.audit._records import LLMCallAudit
from axonflow_guardrail.audit._retroactive import FreshContext, NotReplayable, Retroactive
from axonflow_guardrail.axonflow._breakers import BreakerGate
from axonflow_guardrail.axonflow._circuit_breaker import BreakerPermit, CircuitBreaker
from axonflow_guardrail.axonflow._client import AxonFlowClient
from axonflow_guardrail.axonflow._failures import AxonFlowFailure, FailureKind
from axonflow_guardrail.observe._events import NO_EVENTS, AuditEvents

__all__ = ["Shipper"]

_TRANSIENT_4XX = frozenset({408, 425, 429})
#: A context this close to its expiry is not worth an audit that AxonFlow would refuse.
_EXPIRY_MARGIN_SECONDS = 5.0
_FIRST_RETRY_SECONDS = 0.25
_SHUTDOWN_FLUSH_SECONDS = 5.0


class _Permanent(Exception):
    """The record cannot be delivered, ever: AxonFlow refused it for good (a 4xx), or the
    guardrail cannot send it (a broken call: sending again would fail the same way). It
    becomes a dead letter, kept for the operator (`axonflow-guardrail outbox dead-letters`)."""

    def __init__(self, reason: str, *, answered: bool = True) -> None:
        super().__init__(reason)
        #: AxonFlow answered (so it is up); False when the call broke before any answer.
        self.answered = answered


def _answer_text(failure: BaseException) -> str:
    """The body of the HTTP answer behind an SDK failure, if any (to tell 400s apart)."""
    seen: set[int] = set()
    current: BaseException | None = failure
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, httpx.HTTPStatusError):
            return current.response.text[:500]
        current = current.__cause__ or current.__context__
    return ""


def _expired_context(failure: AxonFlowFailure) -> bool:
    return failure.status == 400 and "context" in _answer_text(failure).lower()


class Shipper:
    def __init__(
        self,
        *,
        outbox: Outbox,
        client: AxonFlowClient,
        retroactive: Retroactive,
        concurrency: int,
        send_timeout_seconds: float,
        retry_max_seconds: float,
        breaker_failure_threshold: int,
        breaker_recovery_seconds: float,
        sweep_seconds: float,
        capacity: int = 1024,
        events: AuditEvents = NO_EVENTS,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._outbox = outbox
        self._client = client
        self._events = events
        self._retro = retroactive
        self._concurrency = concurrency
        self._timeout = send_timeout_seconds
        self._retry_max = retry_max_seconds
        self._sweep_seconds = sweep_seconds
        self._capacity = capacity
        self._sleep = sleep
        self._clock = clock
        breaker = CircuitBreaker(
            failure_threshold=breaker_failure_threshold,
            recovery_seconds=min(breaker_recovery_seconds, retry_max_seconds),
        )
        self._gate = BreakerGate(breaker, name="audit")
        self._queue: asyncio.Queue[OutboxEntry] = asyncio.Queue()
        self._fresh: dict[str, FreshContext] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._busy = 0
        self._closing = False

    # ------------------------------------------------------------------ intake

    def has_capacity(self) -> bool:
        return not self._closing and self._queue.qsize() + self._busy < self._capacity

    def offer(self, entry: OutboxEntry) -> None:
        """A record this process wrote and holds: deliver it (no read back from the outbox)."""
        self.start()
        self._queue.put_nowait(entry)

    def start(self) -> None:
        if self._tasks and not all(t.done() for t in self._tasks):
            return
        self._tasks = [
            asyncio.create_task(self._work(), name=f"axonflow-shipper-{i}")
            for i in range(self._concurrency)
        ]
        self._tasks.append(asyncio.create_task(self._sweep(), name="axonflow-shipper-sweep"))

    async def drain(self) -> None:
        """Until every record handed over so far was settled (tests, the CLI's --once)."""
        await self._queue.join()

    async def run_until_empty(self) -> None:
        """Claim and deliver until the outbox has nothing this shipper can take."""
        self.start()
        while True:
            entries = await self._outbox.claim(self._capacity)
            for entry in entries:
                self._queue.put_nowait(entry)
            await self._queue.join()
            if not entries:
                return

    async def stop(self, *, flush_seconds: float = _SHUTDOWN_FLUSH_SECONDS) -> None:
        """Deliver what is held for up to `flush_seconds`, then stop; the rest stays kept
        (released by the outbox's `close` to the next shipper).

        At a proxy's shutdown asyncio has already cancelled the workers: fresh ones flush.
        """
        self._closing = True
        await self._cancel_tasks()
        if not self._queue.empty():
            self._tasks = [
                asyncio.create_task(self._work(), name=f"axonflow-shipper-flush-{i}")
                for i in range(self._concurrency)
            ]
            held = self._queue.qsize()
            try:
                async with asyncio.timeout(flush_seconds):
                    await self._queue.join()
            except TimeoutError:
                log.warning(
                    "axonflow audit: %d of %d held record(s) not delivered within %.0f s at "
                    "shutdown; they stay in the outbox for the next shipper",
                    self._queue.qsize() + self._busy,
                    held,
                    flush_seconds,
                )
            await self._cancel_tasks()

    async def _cancel_tasks(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # ------------------------------------------------------------------ loops

    async def _sweep(self) -> None:
        """Claim records nobody is delivering: written for any shipper, or a dead one's."""
        while True:
            room = self._capacity - self._queue.qsize() - self._busy
            entries: list[OutboxEntry] = []
            if room > 0 and not self._closing and not self._gate.refuses_outright():
                try:
                    entries = await self._outbox.claim(min(room, 256))
                except Exception:
                    log.exception("axonflow audit outbox: claim failed")
            for entry in entries:
                self._queue.put_nowait(entry)
            if not entries:
                await self._sleep(self._sweep_seconds)

    async def _work(self) -> None:
        while True:
            entry = await self._queue.get()
            self._busy += 1
            try:
                await self._deliver(entry)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug here must not stop delivery of the others
                log.exception(
                    "axonflow audit: delivery failed unexpectedly; call_id=%s", entry.call_id
                )
            finally:
                self._busy -= 1
                self._queue.task_done()

    async def _deliver(self, entry: OutboxEntry) -> None:
        while True:
            permit = await self._permit()
            failure: AxonFlowFailure | None = None
            try:
                await self._send(entry)
            except _Permanent as exc:
                if exc.answered:
                    permit.success()  # AxonFlow answered: it is up
                await self._dead_letter(entry, str(exc))
                return
            except AxonFlowFailure as exc:
                failure = exc
                if exc.breaker_open:
                    permit.release()
                else:
                    permit.failure()
            else:
                permit.success()
            finally:
                permit.release()
                self._gate.settled(permit)
            if failure is None:
                self._fresh.pop(entry.record_id, None)
                self._outbox.delivered(entry)
                self._outbox.count("delivered")
                self._events.delivered()
                return
            entry.attempts += 1
            self._events.retried()
            await self._sleep(self._backoff(entry.attempts))
            if not failure.unsent:
                self._outbox.count("resent_after_lost_answer")

    async def _permit(self) -> BreakerPermit:
        """Wait while the breaker is open; then one probe goes first (`BreakerGate`)."""
        while True:
            permit = await self._gate.acquire()
            if permit is not None:
                return permit
            await self._sleep(min(1.0, self._retry_max))

    def _backoff(self, attempts: int) -> float:
        return float(min(self._retry_max, _FIRST_RETRY_SECONDS * 2 ** min(attempts - 1, 20)))

    async def _dead_letter(self, entry: OutboxEntry, error: str) -> None:
        self._fresh.pop(entry.record_id, None)
        log.error(
            "axonflow audit: record %s of call_id=%s is a dead letter: %s "
            "(see `axonflow-guardrail outbox dead-letters`)",
            entry.record_id,
            entry.call_id,
            error,
        )
        await self._outbox.dead_letter(entry, error)
        self._outbox.count("dead_lettered")
        self._events.dead_lettered()

    # ------------------------------------------------------------------ one attempt

    async def _send(self, entry: OutboxEntry) -> None:
        """One attempt; raises `_Permanent` or `AxonFlowFailure` (transient)."""
        record = entry.record
        if not isinstance(record, LLMCallAudit):
            try:
                await self._client.audit_tool_call(
                    request=record.request, timeout=self._timeout, traceparent=record.traceparent
                )
            except AxonFlowFailure as failure:
                self._raise_if_permanent(failure)
                raise
            return
        fresh = self._fresh.get(entry.record_id)
        if fresh is None and self._needs_fresh_context(record):
            fresh = await self._fresh_context(entry)
        try:
            await self._audit(entry, record, fresh)
        except AxonFlowFailure as failure:
            if fresh is None and record.replay is not None and _expired_context(failure):
                # Expired, or unknown to a restarted AxonFlow: once more with a new context.
                try:
                    await self._audit(entry, record, await self._fresh_context(entry))
                except AxonFlowFailure as again:
                    self._raise_if_permanent(again)
                    raise
                return
            self._raise_if_permanent(failure)
            raise

    async def _audit(
        self, entry: OutboxEntry, record: LLMCallAudit, fresh: FreshContext | None
    ) -> None:
        metadata = {
            **record.metadata,
            **(fresh.metadata if fresh else {}),
            "litellm_call_id": record.call_id,
            "axonflow_record_id": entry.record_id,
        }
        await self._client.audit_llm_call(
            context_id=fresh.context_id if fresh else record.context_id,
            response_summary=record.response_summary,
            provider=record.provider,
            model=record.model,
            usage=record.usage,
            latency_ms=record.latency_ms,
            metadata=metadata,
            timeout=self._timeout,
            traceparent=record.traceparent,
        )

    def _needs_fresh_context(self, record: LLMCallAudit) -> bool:
        replay = record.replay
        if not record.context_id:
            return True  # passed on fail_open: no context at all
        return (
            replay is not None
            and replay.expires_at is not None
            and self._clock() > replay.expires_at - _EXPIRY_MARGIN_SECONDS
        )

    async def _fresh_context(self, entry: OutboxEntry) -> FreshContext:
        try:
            fresh = await self._retro.context_for(entry, now=self._clock())
        except NotReplayable as exc:
            raise _Permanent(str(exc)) from None
        self._fresh[entry.record_id] = fresh
        return fresh

    @staticmethod
    def _raise_if_permanent(failure: AxonFlowFailure) -> None:
        if failure.kind is FailureKind.BROKEN:
            raise _Permanent(f"the audit could not be sent: {failure.reason}", answered=False)
        status = failure.status
        if status is not None and 400 <= status < 500 and status not in _TRANSIENT_4XX:
            raise _Permanent(f"AxonFlow refused the audit (HTTP {status}): {failure.reason}")
