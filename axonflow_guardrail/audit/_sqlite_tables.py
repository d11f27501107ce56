"""The SQLite outbox's tables and the statements run on them (on the outbox's threads only).

Kept apart from `_sqlite_outbox`, which is about threads, batches and the event loop: here is
only what the file holds and how one connection reads or changes it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from axonflow_guardrail.audit._outbox import FlaggedCall, OutboxStatus

__all__ = [
    "SCHEMA",
    "add_counts",
    "add_flags",
    "connect",
    "depth",
    "read_status",
    "update_dead",
]

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id TEXT PRIMARY KEY,
    channel TEXT NOT NULL,
    call_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    size INTEGER NOT NULL,
    owner TEXT,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    dead_at REAL,
    payload BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_by_state ON outbox (channel, state, created_at);
CREATE TABLE IF NOT EXISTS owners (
    owner TEXT PRIMARY KEY, channel TEXT NOT NULL, heartbeat REAL NOT NULL, pid INTEGER
);
CREATE TABLE IF NOT EXISTS counters (
    channel TEXT NOT NULL, name TEXT NOT NULL, value INTEGER NOT NULL,
    PRIMARY KEY (channel, name)
);
CREATE TABLE IF NOT EXISTS flagged (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, channel TEXT NOT NULL, call_id TEXT NOT NULL,
    verdict TEXT NOT NULL, policies TEXT NOT NULL, decided_at REAL NOT NULL,
    called_at REAL NOT NULL
);
"""


KEEP_FLAGGED = 1000


def connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA secure_delete=ON")
    conn.execute("PRAGMA wal_autocheckpoint=0")  # the sync thread checkpoints
    return conn


def depth(conn: sqlite3.Connection, channel: str) -> tuple[int, int]:
    count, size = conn.execute(
        "SELECT count(*), coalesce(sum(size), 0) FROM outbox WHERE channel = ?", (channel,)
    ).fetchone()
    return int(count), int(size)


def add_counts(conn: sqlite3.Connection, channel: str, counts: dict[str, int]) -> None:
    if counts:
        conn.executemany(
            "INSERT INTO counters (channel, name, value) VALUES (?, ?, ?) "
            "ON CONFLICT (channel, name) DO UPDATE SET value = value + excluded.value",
            [(channel, name, value) for name, value in counts.items()],
        )


def add_flags(conn: sqlite3.Connection, channel: str, flags: list[FlaggedCall]) -> None:
    if not flags:
        return
    conn.executemany(
        "INSERT INTO flagged (channel, call_id, verdict, policies, decided_at, called_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [
            (channel, f.call_id, f.verdict, ",".join(f.policies), f.decided_at, f.called_at)
            for f in flags
        ],
    )
    conn.execute(
        "DELETE FROM flagged WHERE channel = ? AND seq <= "
        "(SELECT max(seq) FROM flagged WHERE channel = ?) - ?",
        (channel, channel, KEEP_FLAGGED),
    )


def update_dead(
    conn: sqlite3.Connection, channel: str, record_ids: Sequence[str] | None, statement: str
) -> int:
    where = " WHERE channel = ? AND state = 'dead'"
    if record_ids is None:
        return conn.execute(statement + where, (channel,)).rowcount
    conn.execute("BEGIN IMMEDIATE")
    changed = sum(
        conn.execute(statement + where + " AND id = ?", (channel, record_id)).rowcount
        for record_id in record_ids
    )
    conn.execute("COMMIT")
    return changed


def read_status(conn: sqlite3.Connection, location: str, channel: str) -> OutboxStatus:
    """The figures of one channel, read in one snapshot."""
    conn.execute("BEGIN")
    try:
        by_state = {
            state: (count, size, oldest)
            for state, count, size, oldest in conn.execute(
                "SELECT state, count(*), coalesce(sum(size), 0), min(created_at) FROM outbox "
                "WHERE channel = ? GROUP BY state",
                (channel,),
            )
        }
        counters = dict(
            conn.execute("SELECT name, value FROM counters WHERE channel = ?", (channel,))
        )
        flagged = [
            FlaggedCall(
                call_id=row[0],
                verdict=row[1],
                policies=tuple(p for p in row[2].split(",") if p),
                decided_at=row[3],
                called_at=row[4],
            )
            for row in conn.execute(
                "SELECT call_id, verdict, policies, decided_at, called_at FROM flagged "
                "WHERE channel = ? ORDER BY seq DESC LIMIT 50",
                (channel,),
            )
        ]
    finally:
        conn.execute("COMMIT")
    pending = by_state.get("pending", (0, 0, None))
    dead = by_state.get("dead", (0, 0, None))
    return OutboxStatus(
        backend="sqlite",
        location=location,
        channel=channel,
        pending=int(pending[0]),
        pending_bytes=int(pending[1]),
        oldest_pending_at=pending[2],
        dead_letters=int(dead[0]),
        dead_letter_bytes=int(dead[1]),
        counters=counters,
        flagged=flagged,
    )
