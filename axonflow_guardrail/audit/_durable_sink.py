"""Where the hook hands over an audit record when the outbox is durable (sqlite, redis).

`submit_built` builds the record, encodes it and puts it in the outbox, and returns the
future the hook awaits before the response goes out: resolved once the record is written
where a killed process cannot lose it (never an fsync, never AxonFlow's answer). A full
outbox refuses the record: counted, logged at ERROR with the call id; `has_room` lets the
pre-call hook refuse new calls instead when `fail_open` is false.

With the in-process shipper (the default) the record is also handed to this worker's
shipper in memory; with `audit_shipper: external` the worker only writes.

The backlog gauges read the outbox's figures as last sampled (every `BACKLOG_SAMPLE_SECONDS`):
a scrape must not wait for a database or Redis.
"""

from __future__ import annotations

import asyncio
import atexit
from collections.abc import Awaitable, Callable

from axonflow_guardrail._log import log
from axonflow_guardrail.audit._outbox import Outbox
from axonflow_guardrail.audit._outbox_entry import EntryCodec, OutboxEntry
from axonflow_guardrail.audit._records import AuditRecord
from axonflow_guardrail.audit._shipper import Shipper
from axonflow_guardrail.observe._events import NO_EVENTS, AuditBacklog, AuditDrop, AuditEvents

__all__ = ["BACKLOG_SAMPLE_SECONDS", "DurableAuditSink"]

BACKLOG_SAMPLE_SECONDS = 1.0


class DurableAuditSink:
    #: Calls that pass on `fail_open` are recorded, to be pre-checked after the fact.
    keeps_failed_open = True

    def __init__(
        self,
        *,
        outbox: Outbox,
        codec: EntryCodec,
        shipper: Shipper | None,
        on_close: Callable[[], Awaitable[None]] | None = None,
        events: AuditEvents = NO_EVENTS,
        sample_seconds: float = BACKLOG_SAMPLE_SECONDS,
    ) -> None:
        self.outbox = outbox
        self._events = events
        self._backlog = AuditBacklog(depth=0, oldest_age_seconds=None)
        self._sample_seconds = sample_seconds
        self._sampler: asyncio.Task[None] | None = None
        self._on_close = on_close
        self.shipper = shipper
        self._codec = codec
        self.refused = 0
        self._stopper: asyncio.Task[None] | None = None
        stop_threads = getattr(outbox, "stop_threads", None)
        if callable(stop_threads):
            atexit.register(stop_threads)  # a last write of pending deletes at exit
        events.watch_backlog(self.backlog, shared=True)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        self._sample_backlog()
        if shipper is not None:
            # At once, not at the first call: records left by a stopped or killed worker (or
            # another instance) are delivered by a worker that gets no traffic, too.
            shipper.start()
            self._watch_shutdown()

    def has_room(self) -> bool:
        return self.outbox.has_room()

    def backlog(self) -> AuditBacklog:
        """The outbox's pending records and oldest age, as last sampled."""
        return self._backlog

    def _sample_backlog(self) -> None:
        if self._sampler is None or self._sampler.done():
            self._sampler = asyncio.create_task(self._sample(), name="axonflow-outbox-backlog")

    async def _sample(self) -> None:
        while True:
            try:
                status = await self.outbox.status()
                self._backlog = AuditBacklog(
                    depth=status.pending, oldest_age_seconds=status.oldest_age_seconds
                )
            except Exception:
                log.debug("axonflow audit outbox: backlog not read", exc_info=True)
            await asyncio.sleep(self._sample_seconds)

    def submit_built(
        self, build: Callable[[], AuditRecord], *, call_id: str
    ) -> asyncio.Future[None] | None:
        """Keep the record; the future resolves once it is written. Never raises."""
        try:
            entry = OutboxEntry(record=build())
            payload = self._codec.encode(entry)
            shipper = self.shipper
            hold = (
                shipper is not None and self.outbox.holds_own_records() and shipper.has_capacity()
            )
            kept = self.outbox.put(entry, payload, hold=hold)
        except Exception:
            log.exception("axonflow audit could not be built or kept; call_id=%s", call_id)
            self._events.dropped(reason=AuditDrop.UNDELIVERABLE)
            return None
        if kept is None:
            self.refused += 1
            self.outbox.count("refused_full")
            self._events.dropped(reason=AuditDrop.QUEUE_FULL)
            log.error(
                "axonflow audit REFUSED: the audit outbox is full (%s); call_id=%s",
                self.outbox.location,
                call_id,
            )
            return None
        self._events.queued()
        self._sample_backlog()
        if shipper is not None:
            self._watch_shutdown()
            if hold:
                shipper.offer(entry)
            else:
                shipper.start()
        return kept

    @staticmethod
    async def settle(kept: asyncio.Future[None] | None, *, call_id: str) -> None:
        """Wait until the record is written; a failed write is logged, never raised."""
        if kept is None:
            return
        try:
            await asyncio.shield(kept)
        except Exception as exc:
            log.error("axonflow audit NOT kept (%s); call_id=%s", exc, call_id)

    async def drain(self) -> None:
        if self.shipper is not None:
            await self.shipper.drain()

    def _watch_shutdown(self) -> None:
        """A task whose cancellation (the proxy's loop stopping) stops the shipper cleanly:
        it delivers what it holds for a few seconds, then releases the rest to others."""
        if self._stopper is None or self._stopper.done():
            self._stopper = asyncio.create_task(self._until_cancelled(), name="axonflow-outbox")

    async def _until_cancelled(self) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await self.close()
            raise

    async def close(self) -> None:
        if self._sampler is not None:
            self._sampler.cancel()
        if self.shipper is not None:
            await self.shipper.stop()
        await self.outbox.close()
        if self._on_close is not None:
            await self._on_close()
        log.info("axonflow audit outbox %s closed", self.outbox.location)
