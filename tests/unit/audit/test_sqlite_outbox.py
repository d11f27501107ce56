"""The SQLite outbox on a real file: kept, claimed, held by a live owner, taken over after
its lease, dead letters, bounds, sealed tokens and the figures `outbox status` prints."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from axonflow_guardrail.audit._outbox_entry import EntryCodec, OutboxEntry
from axonflow_guardrail.audit._records import LLMCallAudit, Replay
from axonflow_guardrail.audit._sealing import TokenSeal
from axonflow_guardrail.audit._sqlite_outbox import SqliteOutbox

SEAL = TokenSeal(client_id="acme", client_secret="s3cret")


def record(call_id: str, *, token_source: str = "key") -> LLMCallAudit:
    return LLMCallAudit(
        call_id=call_id,
        context_id="ctx-1",
        provider="openai",
        model="m",
        usage=(1, 2, 3),
        latency_ms=4,
        response_summary="ok",
        metadata={"outcome": "success"},
        replay=Replay(
            query="Summarise the report",
            user_token="tok-secret-77",
            user_token_source=token_source,
            identity={"user_id": "u1"},
            model="m",
            route="/v1/chat/completions",
            call_type="acompletion",
            decision_id="d-1",
            checked_at=1.0,
            expires_at=2.0,
            failed_open=None,
            enforcement="enforce",
        ),
    )


def outbox(path: Path, *, owner: str | None, clock: list[float], **kw: int) -> SqliteOutbox:
    codec = EntryCodec(seal=SEAL, keep_prompts=True)
    return SqliteOutbox(
        path=path,
        channel="axonflow",
        decode=lambda b: codec.decode(b, default_user_token="anonymous"),
        max_records=kw.get("max_records", 100),
        max_bytes=kw.get("max_bytes", 1_000_000),
        sync_seconds=0.05,
        lease_seconds=2.0,
        owner=owner,
        clock=lambda: clock[0],
    )


async def put(box: SqliteOutbox, call_id: str, *, hold: bool) -> OutboxEntry:
    codec = EntryCodec(seal=SEAL, keep_prompts=True)
    entry = OutboxEntry(record=record(call_id))
    kept = box.put(entry, codec.encode(entry), hold=hold)
    assert kept is not None
    await kept
    return entry


async def test_records_are_claimed_once_and_a_dead_owners_after_its_lease(tmp_path: Path) -> None:
    clock = [1000.0]
    path = tmp_path / "o.db"
    writer = outbox(path, owner="w1", clock=clock)
    other = outbox(path, owner="w2", clock=clock)
    await put(writer, "held", hold=True)
    await put(writer, "free", hold=False)
    await writer.claim(0)  # the writer's heartbeat
    assert [e.call_id for e in await other.claim(10)] == ["free"]
    assert await other.claim(10) == []  # held by a live owner; "free" is now other's
    clock[0] += 3.0  # w1 stopped renewing for longer than the lease
    [taken] = [e for e in await other.claim(10) if e.call_id == "held"]
    assert taken.record.replay is not None
    assert taken.record.replay.user_token == "tok-secret-77"  # sealed, then opened
    assert b"tok-secret-77" not in path.read_bytes() + Path(f"{path}-wal").read_bytes()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    other.delivered(taken)
    status = await other.status()
    assert status.pending == 1
    for box in (writer, other):
        await box.close()


async def test_dead_letters_are_kept_listed_retried_and_purged(tmp_path: Path) -> None:
    clock = [1000.0]
    box = outbox(tmp_path / "o.db", owner="w1", clock=clock)
    entry = await put(box, "c1", hold=True)
    await box.dead_letter(entry, "AxonFlow refused the audit (HTTP 422)")
    box.count("dead_lettered")
    [letter] = await box.dead_letters(10)
    assert (letter.call_id, letter.error) == ("c1", "AxonFlow refused the audit (HTTP 422)")
    status = await box.status()
    assert (status.pending, status.dead_letters) == (0, 1)
    assert status.counters["dead_lettered"] == 1
    assert await box.retry_dead_letters(None) == 1
    [again] = await box.claim(10)
    await box.dead_letter(again, "still refused")
    assert await box.purge_dead_letters([again.record_id]) == 1
    assert (await box.status()).dead_letters == 0
    await box.close()


@pytest.mark.parametrize("limit", ["records", "bytes"])
async def test_a_full_outbox_refuses_records(tmp_path: Path, limit: str) -> None:
    clock = [1000.0]
    kw = {"max_records": 2} if limit == "records" else {"max_bytes": 1500}
    box = outbox(tmp_path / "o.db", owner=None, clock=clock, **kw)
    codec = EntryCodec(seal=SEAL, keep_prompts=True)
    kept = 0
    for i in range(5):
        entry = OutboxEntry(record=record(f"c{i}"))
        future = box.put(entry, codec.encode(entry), hold=False)
        if future is not None:
            await future
            kept += 1
    assert 1 <= kept < 5
    if limit == "records":
        assert not box.has_room()
    await box.close()


def test_a_token_sealed_under_another_secret_cannot_be_opened() -> None:
    sealed = SEAL.seal("tok")
    assert SEAL.open(sealed) == "tok"
    assert TokenSeal(client_id="acme", client_secret="rotated").open(sealed) is None
    codec = EntryCodec(seal=SEAL, keep_prompts=False)
    payload = codec.encode(OutboxEntry(record=record("c1")))
    assert b"Summarise the report" not in payload  # prompts kept off disk
    rotated = EntryCodec(seal=TokenSeal(client_id="acme", client_secret="x"), keep_prompts=True)
    entry = rotated.decode(payload, default_user_token="anonymous")
    assert entry.token_problem is not None
