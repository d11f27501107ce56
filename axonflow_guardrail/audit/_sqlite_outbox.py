"""The default outbox: one SQLite file per host (WAL), shared by every worker on it.

Why SQLite: it is in Python, needs no service, and its WAL lets the workers of `litellm
--num_workers N`, an external shipper and the `outbox` CLI use one file at once, each write
serialised by SQLite's own lock.

The event loop never touches the file. `put` appends to a batch and returns a future; one
writer thread per process commits whatever has gathered (a group commit) and resolves the
batch's future once the rows are in the WAL: in the operating system's hands, so a killed
process loses nothing it answered for. The post-call hook awaits that future before the
response goes out (a few tenths of a millisecond), never an fsync: with `synchronous=NORMAL`
a commit does not sync, and a sync thread checkpoints (syncing the WAL) every
`audit_outbox_sync_seconds`, which bounds what a power cut can cost. Deletes of delivered
records ride on the same commits; `secure_delete` overwrites the space they held.

Holding: each shipper has an owner row with a heartbeat, renewed by the writer thread. A
record held by an owner whose heartbeat is older than the lease (a killed worker), or by no
one (written for an external shipper, or released at a clean stop), can be claimed by any
shipper of its channel.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from axonflow_guardrail._log import log
from axonflow_guardrail.audit._outbox import DeadLetter, FlaggedCall, OutboxStatus
from axonflow_guardrail.audit._outbox_entry import OutboxEntry, UnreadableEntry
from axonflow_guardrail.audit._sqlite_tables import (
    SCHEMA,
    add_counts,
    add_flags,
    connect,
    depth,
    read_status,
    update_dead,
)

__all__ = ["SqliteOutbox"]

T = TypeVar("T")
Decode = Callable[[bytes], OutboxEntry]

_RESYNC_SECONDS = 1.0


def new_owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{os.urandom(4).hex()}"


class SqliteOutbox:
    backend = "sqlite"

    def __init__(
        self,
        *,
        path: str | Path,
        channel: str,
        decode: Decode,
        max_records: int,
        max_bytes: int,
        sync_seconds: float,
        lease_seconds: float,
        owner: str | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Open (create, mode 0600) the file and its schema; raises `OSError` or
        `sqlite3.Error` when that is not possible. `owner` None: this process only writes."""
        self.location = str(Path(path).resolve())
        self.channel = channel
        self._decode = decode
        self._max_records = max_records
        self._max_bytes = max_bytes
        self._sync_seconds = sync_seconds
        self._lease = lease_seconds
        self._owner = owner
        self._clock = clock
        fd = os.open(self.location, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
        os.chmod(self.location, 0o600)
        conn = connect(self.location)
        try:
            conn.executescript(SCHEMA)
            self._records, self._bytes = depth(conn, channel)
        finally:
            conn.close()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._rows: list[tuple[Any, ...]] = []
        self._rows_bytes = 0
        self._batch: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._deletes: list[str] = []
        self._counts: dict[str, int] = {}
        self._flags: list[FlaggedCall] = []
        self._jobs: list[tuple[Callable[[sqlite3.Connection], Any], concurrent.futures.Future[Any]]]
        self._jobs = []
        self._write_failed = False
        self._dirty = threading.Event()
        self._stopping = False
        self._writer: threading.Thread | None = None
        self._syncer: threading.Thread | None = None

    # ------------------------------------------------------------------ writing

    def holds_own_records(self) -> bool:
        return self._owner is not None

    def has_room(self) -> bool:
        return not self._write_failed and (
            self._records + len(self._rows) < self._max_records
            and self._bytes + self._rows_bytes < self._max_bytes
        )

    def put(self, entry: OutboxEntry, payload: bytes, *, hold: bool) -> asyncio.Future[None] | None:
        size = len(payload)
        if (
            self._records + len(self._rows) >= self._max_records
            or self._bytes + self._rows_bytes + size > self._max_bytes
        ):
            return None
        owner = self._owner if hold else None
        row = (entry.record_id, self.channel, entry.call_id, entry.created_at, size, owner, payload)
        self._ensure_threads()
        with self._lock:
            self._rows.append(row)
            self._rows_bytes += size
            batch = self._batch
            if batch is None:
                loop = asyncio.get_running_loop()
                self._loop = loop
                batch = self._batch = loop.create_future()
        self._wake.set()
        return batch

    def delivered(self, entry: OutboxEntry) -> None:
        with self._lock:
            self._deletes.append(entry.record_id)
        self._wake.set()

    def count(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[name] = self._counts.get(name, 0) + amount
        self._wake.set()

    def flag(self, call: FlaggedCall) -> None:
        with self._lock:
            self._flags.append(call)
        self._wake.set()

    # ------------------------------------------------------------------ the writer thread

    def _ensure_threads(self) -> None:
        if self._writer is None:
            self._writer = threading.Thread(
                target=self._write_loop, name="axonflow-outbox-writer", daemon=True
            )
            self._writer.start()
            self._syncer = threading.Thread(
                target=self._sync_loop, name="axonflow-outbox-sync", daemon=True
            )
            self._syncer.start()

    def _write_loop(self) -> None:
        conn = connect(self.location)
        beat_every = self._lease / 3
        next_beat = 0.0 if self._owner is not None else math.inf
        next_resync = time.monotonic() + _RESYNC_SECONDS
        try:
            while True:
                now = time.monotonic()
                self._wake.wait(timeout=max(0.0, min(next_beat, next_resync) - now))
                self._wake.clear()
                with self._lock:
                    rows, self._rows, self._rows_bytes = self._rows, [], 0
                    batch, self._batch = self._batch, None
                    deletes, self._deletes = self._deletes, []
                    counts, self._counts = self._counts, {}
                    flags, self._flags = self._flags, []
                    jobs, self._jobs = self._jobs, []
                    stopping = self._stopping
                now = time.monotonic()
                beat = now >= next_beat and not stopping
                if beat:
                    next_beat = now + beat_every
                if rows or deletes or counts or flags or beat:
                    self._commit(conn, rows, deletes, counts, flags, beat=beat, batch=batch)
                if now >= next_resync:
                    next_resync = now + _RESYNC_SECONDS
                    self._records, self._bytes = depth(conn, self.channel)
                for job, future in jobs:
                    _run_job(conn, job, future)
                if stopping:
                    return
        finally:
            conn.close()

    def _commit(
        self,
        conn: sqlite3.Connection,
        rows: list[tuple[Any, ...]],
        deletes: list[str],
        counts: dict[str, int],
        flags: list[FlaggedCall],
        *,
        beat: bool,
        batch: asyncio.Future[None] | None,
    ) -> None:
        error: BaseException | None = None
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(
                    "INSERT OR IGNORE INTO outbox "
                    "(id, channel, call_id, created_at, size, owner, payload) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
                removed = 0
                if deletes:
                    cursor = conn.executemany(
                        "DELETE FROM outbox WHERE id = ? AND state = 'pending'",
                        [(d,) for d in deletes],
                    )
                    removed = max(0, cursor.rowcount)
                add_counts(conn, self.channel, counts)
                add_flags(conn, self.channel, flags)
                if beat:
                    conn.execute(
                        "INSERT INTO owners (owner, channel, heartbeat, pid) VALUES (?, ?, ?, ?) "
                        "ON CONFLICT (owner) DO UPDATE SET heartbeat = excluded.heartbeat",
                        (self._owner, self.channel, self._clock(), os.getpid()),
                    )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            error = exc
            self._write_failed = True
            log.error(
                "axonflow audit outbox %s: write failed (%s); %d record(s) NOT kept",
                self.location,
                exc,
                len(rows),
            )
        else:
            self._write_failed = False
            self._records += len(rows) - removed
            self._bytes += sum(r[4] for r in rows)
            self._dirty.set()
        if batch is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(_settle, batch, error)

    def _sync_loop(self) -> None:
        """Checkpoint (which syncs the WAL) every `sync_seconds` after a write: the power-cut
        window. Off the writer thread, so a slow disk never holds a commit."""
        conn = connect(self.location)
        try:
            while not self._stopping:
                self._dirty.wait()
                time.sleep(self._sync_seconds)
                self._dirty.clear()
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error as exc:
                    log.warning("axonflow audit outbox: checkpoint failed: %s", exc)
        finally:
            conn.close()

    async def _job(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Run `job` on the writer thread's connection (one writer per process)."""
        self._ensure_threads()
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        with self._lock:
            self._jobs.append((job, future))
        self._wake.set()
        return await asyncio.wrap_future(future)

    # ------------------------------------------------------------------ shipping

    async def claim(self, limit: int) -> list[OutboxEntry]:
        if self._owner is None or limit <= 0:
            return []
        owner, channel, lease = self._owner, self.channel, self._lease

        def claim(conn: sqlite3.Connection) -> list[tuple[str, bytes]]:
            conn.execute("BEGIN IMMEDIATE")
            try:
                claimed = conn.execute(
                    "UPDATE outbox SET owner = ? WHERE id IN ("
                    " SELECT id FROM outbox WHERE channel = ? AND state = 'pending'"
                    " AND (owner IS NULL OR owner NOT IN"
                    "  (SELECT owner FROM owners WHERE heartbeat >= ?))"
                    " ORDER BY created_at LIMIT ?) RETURNING id, payload",
                    (owner, channel, self._clock() - lease, limit),
                ).fetchall()
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return claimed

        entries: list[OutboxEntry] = []
        for record_id, payload in await self._job(claim):
            try:
                entries.append(self._decode(payload))
            except UnreadableEntry as exc:
                await self._mark_dead(record_id, str(exc), attempts=0)
        return entries

    async def dead_letter(self, entry: OutboxEntry, error: str) -> None:
        await self._mark_dead(entry.record_id, error, attempts=entry.attempts)

    async def _mark_dead(self, record_id: str, error: str, *, attempts: int) -> None:
        now = self._clock()

        def mark(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE outbox SET state = 'dead', owner = NULL, error = ?, dead_at = ?, "
                "attempts = ? WHERE id = ?",
                (error, now, attempts, record_id),
            )

        await self._job(mark)

    async def status(self) -> OutboxStatus:
        return await self._job(lambda conn: read_status(conn, self.location, self.channel))

    # ------------------------------------------------------------------ operators

    async def dead_letters(self, limit: int) -> list[DeadLetter]:
        def read(conn: sqlite3.Connection) -> list[DeadLetter]:
            rows = conn.execute(
                "SELECT id, call_id, created_at, dead_at, attempts, error FROM outbox "
                "WHERE channel = ? AND state = 'dead' ORDER BY dead_at LIMIT ?",
                (self.channel, limit),
            ).fetchall()
            return [
                DeadLetter(
                    record_id=r[0],
                    call_id=r[1],
                    created_at=r[2],
                    dead_at=r[3],
                    attempts=r[4],
                    error=r[5] or "",
                )
                for r in rows
            ]

        return await self._job(read)

    async def retry_dead_letters(self, record_ids: Sequence[str] | None) -> int:
        return await self._job(
            lambda conn: update_dead(
                conn,
                self.channel,
                record_ids,
                "UPDATE outbox SET state = 'pending', owner = NULL, error = NULL, dead_at = NULL",
            )
        )

    async def purge_dead_letters(self, record_ids: Sequence[str] | None) -> int:
        return await self._job(
            lambda conn: update_dead(conn, self.channel, record_ids, "DELETE FROM outbox")
        )

    async def close(self) -> None:
        """Commit what is pending, release held records, stop the threads."""
        if self._writer is None:
            return
        owner = self._owner

        def release(conn: sqlite3.Connection) -> None:
            if owner is not None:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("UPDATE outbox SET owner = NULL WHERE owner = ?", (owner,))
                conn.execute("DELETE FROM owners WHERE owner = ?", (owner,))
                conn.execute("COMMIT")
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

        await self._job(release)
        self.stop_threads()

    def stop_threads(self) -> None:
        """Stop the writer after it wrote what is pending (also without a running loop)."""
        writer = self._writer
        if writer is None:
            return
        self._stopping = True
        self._wake.set()
        self._dirty.set()
        writer.join(timeout=10.0)
        self._writer = None


def _settle(batch: asyncio.Future[None], error: BaseException | None) -> None:
    if batch.done():
        return
    if error is None:
        batch.set_result(None)
    else:
        batch.set_exception(error)


def _run_job(
    conn: sqlite3.Connection,
    job: Callable[[sqlite3.Connection], Any],
    future: concurrent.futures.Future[Any],
) -> None:
    if not future.set_running_or_notify_cancel():
        return
    try:
        future.set_result(job(conn))
    except BaseException as exc:
        future.set_exception(exc)
