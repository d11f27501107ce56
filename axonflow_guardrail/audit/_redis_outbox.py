"""The outbox for several proxy instances: a Redis Stream with a consumer group.

Why a stream: `XREADGROUP` hands each record to one shipper (consumer) and keeps it in that
consumer's pending list until it is acknowledged; a consumer that dies leaves its pending
records behind, and `XAUTOCLAIM` lets any other consumer take those that have been idle for
longer than the lease. A live shipper renews the records it holds (`XCLAIM … JUSTID`, which
resets their idle time) every third of the lease, so a slow AxonFlow never makes two
instances deliver the same record. At a clean stop the records it still holds are added
again as new entries (and the old ones acknowledged), so others take them at once.

Keys, per channel (the guardrail's name): the stream `<prefix>:<channel>`, a hash of dead
letters (`…:dead`), counters (`…:counters`), the bytes kept (`…:bytes`) and the calls a
retroactive pre-check flagged (`…:flagged`). Writes from the event loop are batched by one
task per process and go out in one pipeline; the hook awaits the batch's future, resolved
once Redis has the records (Redis's own persistence settings decide what a Redis crash costs).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from axonflow_guardrail._log import log
from axonflow_guardrail.audit._outbox import DeadLetter, FlaggedCall, OutboxStatus
from axonflow_guardrail.audit._outbox_entry import OutboxEntry, UnreadableEntry

__all__ = ["RedisOutbox"]

GROUP = "axonflow-shippers"
_KEEP_FLAGGED = 1000
_RESYNC_SECONDS = 1.0
_BLOCK_MS = 200


class RedisOutbox:
    backend = "redis"

    def __init__(
        self,
        *,
        client: aioredis.Redis,
        location: str,
        prefix: str,
        channel: str,
        decode: Callable[[bytes], OutboxEntry],
        max_records: int,
        max_bytes: int,
        lease_seconds: float,
        consumer: str | None,
    ) -> None:
        self._redis = client
        self.location = location
        self.channel = channel
        self._stream = f"{prefix}:{channel}"
        self._dead = f"{self._stream}:dead"
        self._counters = f"{self._stream}:counters"
        self._bytes_key = f"{self._stream}:bytes"
        self._flagged = f"{self._stream}:flagged"
        self._decode = decode
        self._max_records = max_records
        self._max_bytes = max_bytes
        self._lease_ms = int(lease_seconds * 1000)
        self._consumer = consumer or f"{socket.gethostname()}:{os.getpid()}:{os.urandom(4).hex()}"
        self._records = 0
        self._bytes = 0
        self._rows: list[tuple[str, bytes]] = []
        self._rows_bytes = 0
        self._batch: asyncio.Future[None] | None = None
        self._acks: list[tuple[str, int]] = []
        self._counts: dict[str, int] = {}
        self._flags: list[FlaggedCall] = []
        #: record id -> (stream id, payload) of what this consumer holds.
        self._held: dict[str, tuple[str, bytes]] = {}
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._group_ready = False
        self._failed = False

    # ------------------------------------------------------------------ writing

    def holds_own_records(self) -> bool:
        return False  # every record goes through the group: one consumer delivers it

    def has_room(self) -> bool:
        return not self._failed and (
            self._records + len(self._rows) < self._max_records
            and self._bytes + self._rows_bytes < self._max_bytes
        )

    def put(self, entry: OutboxEntry, payload: bytes, *, hold: bool) -> asyncio.Future[None] | None:
        if (
            self._records + len(self._rows) >= self._max_records
            or self._bytes + self._rows_bytes + len(payload) > self._max_bytes
        ):
            return None
        self._rows.append((entry.record_id, payload))
        self._rows_bytes += len(payload)
        if self._batch is None:
            self._batch = asyncio.get_running_loop().create_future()
        batch = self._batch
        self._kick()
        return batch

    def delivered(self, entry: OutboxEntry) -> None:
        held = self._held.pop(entry.record_id, None)
        if held is not None:
            self._acks.append((held[0], len(held[1])))
            self._kick()

    def count(self, name: str, amount: int = 1) -> None:
        self._counts[name] = self._counts.get(name, 0) + amount
        self._kick()

    def flag(self, call: FlaggedCall) -> None:
        self._flags.append(call)
        self._kick()

    def _kick(self) -> None:
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_loop(), name="axonflow-outbox-redis")
        self._wake.set()

    async def _write_loop(self) -> None:
        next_resync = 0.0
        next_renew = time.monotonic() + self._lease_ms / 3000
        while True:
            now = time.monotonic()
            timeout = max(0.0, min(next_resync, next_renew) - now)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
            self._wake.clear()
            await self._flush()
            now = time.monotonic()
            try:
                if now >= next_resync:
                    next_resync = now + _RESYNC_SECONDS
                    await self._resync()
                if now >= next_renew:
                    next_renew = now + self._lease_ms / 3000
                    await self._renew()
            except RedisError as exc:
                log.warning("axonflow audit outbox %s: %s", self.location, exc)

    async def _flush(self) -> None:
        rows, self._rows, self._rows_bytes = self._rows, [], 0
        batch, self._batch = self._batch, None
        acks, self._acks = self._acks, []
        counts, self._counts = self._counts, {}
        flags, self._flags = self._flags, []
        if not (rows or acks or counts or flags):
            return
        pipe = self._redis.pipeline(transaction=False)
        for record_id, payload in rows:
            pipe.xadd(self._stream, {"id": record_id, "p": payload})
        if rows:
            pipe.incrby(self._bytes_key, sum(len(p) for _, p in rows))
        if acks:
            ids = [stream_id for stream_id, _ in acks]
            pipe.xack(self._stream, GROUP, *ids)
            pipe.xdel(self._stream, *ids)
            pipe.decrby(self._bytes_key, sum(size for _, size in acks))
        for name, amount in counts.items():
            pipe.hincrby(self._counters, name, amount)
        for call in flags:
            pipe.lpush(self._flagged, orjson.dumps(call.to_json()))
        if flags:
            pipe.ltrim(self._flagged, 0, _KEEP_FLAGGED - 1)
        try:
            await pipe.execute()
        except RedisError as exc:
            self._failed = True
            log.error(
                "axonflow audit outbox %s: write failed (%s); %d record(s) NOT kept",
                self.location,
                exc,
                len(rows),
            )
            if batch is not None and not batch.done():
                batch.set_exception(exc)
            return
        self._failed = False
        self._records += len(rows) - len(acks)
        self._bytes += sum(len(p) for _, p in rows)
        if batch is not None and not batch.done():
            batch.set_result(None)

    async def _resync(self) -> None:
        pipe = self._redis.pipeline(transaction=False)
        pipe.xlen(self._stream)
        pipe.hlen(self._dead)
        pipe.get(self._bytes_key)
        pending, dead, size = await pipe.execute()
        self._records = int(pending) + int(dead)
        self._bytes = int(size or 0)

    async def _renew(self) -> None:
        """Reset the idle time of what this consumer holds, so no one else claims it."""
        ids: list[Any] = [stream_id for stream_id, _ in self._held.values()]
        for start in range(0, len(ids), 500):
            await self._redis.xclaim(
                self._stream, GROUP, self._consumer, 0, ids[start : start + 500], justid=True
            )

    async def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            await self._redis.xgroup_create(self._stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    # ------------------------------------------------------------------ shipping

    async def claim(self, limit: int) -> list[OutboxEntry]:
        if limit <= 0:
            return []
        await self._ensure_group()
        self._kick()  # the renewals run in the writer task
        found: list[tuple[str, dict[bytes, bytes]]] = []
        reply: Any = await self._redis.xautoclaim(
            self._stream, GROUP, self._consumer, self._lease_ms, "0-0", count=limit
        )
        found.extend(reply[1])
        if len(found) < limit:
            streams: Any = await self._redis.xreadgroup(
                GROUP,
                self._consumer,
                {self._stream: ">"},
                count=limit - len(found),
                block=_BLOCK_MS,
            )
            for _, messages in streams or ():
                found.extend(messages)
        entries: list[OutboxEntry] = []
        for stream_id, fields in found:
            sid = stream_id.decode() if isinstance(stream_id, bytes) else str(stream_id)
            payload = fields.get(b"p") if fields else None
            if payload is None:
                await self._redis.xack(self._stream, GROUP, sid)
                continue
            try:
                entry = self._decode(payload)
            except UnreadableEntry as exc:
                self._held[sid] = (sid, payload)
                await self._bury(sid, sid, payload, str(exc), attempts=0, call_id="")
                continue
            self._held[entry.record_id] = (sid, payload)
            entries.append(entry)
        return entries

    async def dead_letter(self, entry: OutboxEntry, error: str) -> None:
        held = self._held.get(entry.record_id)
        if held is not None:
            await self._bury(
                entry.record_id,
                held[0],
                held[1],
                error,
                attempts=entry.attempts,
                call_id=entry.call_id,
            )

    async def _bury(
        self, key: str, stream_id: str, payload: bytes, error: str, *, attempts: int, call_id: str
    ) -> None:
        letter = {
            "payload": payload.decode("utf-8", "replace"),
            "error": error,
            "dead_at": time.time(),
            "attempts": attempts,
            "call_id": call_id,
            "created_at": _stream_time(stream_id),
        }
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(self._dead, key, orjson.dumps(letter))
        pipe.xack(self._stream, GROUP, stream_id)
        pipe.xdel(self._stream, stream_id)
        await pipe.execute()
        self._held.pop(key, None)

    async def status(self) -> OutboxStatus:
        pipe = self._redis.pipeline(transaction=False)
        pipe.xlen(self._stream)
        pipe.xrange(self._stream, count=1)
        pipe.hvals(self._dead)
        pipe.get(self._bytes_key)
        pipe.hgetall(self._counters)
        pipe.lrange(self._flagged, 0, 49)
        pending, first, dead, size, counters, flagged = await pipe.execute()
        dead_bytes = sum(len(v) for v in dead)
        return OutboxStatus(
            backend="redis",
            location=self.location,
            channel=self.channel,
            pending=int(pending),
            pending_bytes=max(0, int(size or 0) - dead_bytes),
            oldest_pending_at=_stream_time(first[0][0]) if first else None,
            dead_letters=len(dead),
            dead_letter_bytes=dead_bytes,
            counters={_text(k): int(v) for k, v in counters.items()},
            flagged=[_flagged_of(orjson.loads(raw)) for raw in flagged],
        )

    # ------------------------------------------------------------------ operators

    async def dead_letters(self, limit: int) -> list[DeadLetter]:
        letters = []
        for key, raw in (await self._redis.hgetall(self._dead)).items():
            doc = orjson.loads(raw)
            letters.append(
                DeadLetter(
                    record_id=_text(key),
                    call_id=str(doc.get("call_id") or ""),
                    created_at=float(doc.get("created_at") or 0.0),
                    dead_at=doc.get("dead_at"),
                    attempts=int(doc.get("attempts") or 0),
                    error=str(doc.get("error") or ""),
                )
            )
        letters.sort(key=lambda d: d.dead_at or 0.0)
        return letters[:limit]

    async def retry_dead_letters(self, record_ids: Sequence[str] | None) -> int:
        await self._ensure_group()
        keys = (
            list(record_ids)
            if record_ids is not None
            else [_text(k) for k in await self._redis.hkeys(self._dead)]
        )
        moved = 0
        for key in keys:
            raw = await self._redis.hget(self._dead, key)
            if raw is None:
                continue
            payload = orjson.loads(raw)["payload"].encode()
            pipe = self._redis.pipeline(transaction=True)
            pipe.xadd(self._stream, {"id": key, "p": payload})
            pipe.hdel(self._dead, key)
            await pipe.execute()
            moved += 1
        return moved

    async def purge_dead_letters(self, record_ids: Sequence[str] | None) -> int:
        keys = (
            list(record_ids)
            if record_ids is not None
            else [_text(k) for k in await self._redis.hkeys(self._dead)]
        )
        purged = 0
        for key in keys:
            raw = await self._redis.hget(self._dead, key)
            if raw is None:
                continue
            size = len(orjson.loads(raw)["payload"].encode())
            pipe = self._redis.pipeline(transaction=True)
            pipe.hdel(self._dead, key)
            pipe.decrby(self._bytes_key, size)
            await pipe.execute()
            purged += 1
        return purged

    async def close(self) -> None:
        """Write what is pending; hand what this consumer holds back to the group."""
        await self._flush()
        held, self._held = dict(self._held), {}
        if held:
            pipe = self._redis.pipeline(transaction=True)
            for record_id, (stream_id, payload) in held.items():
                pipe.xadd(self._stream, {"id": record_id, "p": payload})
                pipe.xack(self._stream, GROUP, stream_id)
                pipe.xdel(self._stream, stream_id)
            with contextlib.suppress(RedisError):
                await pipe.execute()
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
        await self._redis.aclose()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _stream_time(stream_id: Any) -> float:
    """The time Redis added an entry (its id is `<ms>-<seq>`)."""
    try:
        return int(_text(stream_id).split("-", 1)[0]) / 1000
    except ValueError:
        return time.time()


def _flagged_of(doc: dict[str, Any]) -> FlaggedCall:
    return FlaggedCall(
        call_id=str(doc["call_id"]),
        verdict=str(doc["verdict"]),
        policies=tuple(doc.get("policies") or ()),
        decided_at=float(doc["decided_at"]),
        called_at=float(doc["called_at"]),
    )
