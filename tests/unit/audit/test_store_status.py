"""What `doctor` reports of the audit store: the in-memory queue, a SQLite outbox not created
yet, and one holding records (depth read from the real file); and the traceparent a record
carries survives the outbox."""

from __future__ import annotations

from pathlib import Path

from axonflow_guardrail._settings import GuardrailSettings
from axonflow_guardrail.audit._outbox_entry import EntryCodec, OutboxEntry
from axonflow_guardrail.audit._outbox_setup import open_outbox
from axonflow_guardrail.audit._records import LLMCallAudit
from axonflow_guardrail.audit._sealing import TokenSeal
from axonflow_guardrail.audit._store_status import audit_store_status

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def settings(**params: object) -> GuardrailSettings:
    base = {"endpoint": "http://127.0.0.1:9", "client_id": "acme", "client_secret": "s3cret"}
    return GuardrailSettings.from_litellm_params({**base, **params})


def record(call_id: str) -> LLMCallAudit:
    return LLMCallAudit(
        call_id=call_id,
        context_id="ctx-1",
        provider="openai",
        model="m",
        usage=(1, 2, 3),
        latency_ms=4,
        response_summary="ok",
        traceparent=TRACEPARENT,
    )


async def test_the_memory_queue_has_nothing_on_disk() -> None:
    found = await audit_store_status(settings(audit_outbox="memory"), channel="g")
    assert found.status == "ok"
    assert "in-memory" in found.detail


async def test_a_sqlite_outbox_not_created_yet_is_not_created_by_the_check(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "outbox.db"
    found = await audit_store_status(settings(audit_outbox_path=str(path)), channel="g")
    assert found.status == "ok"
    assert "not created yet" in found.detail
    assert not path.exists()


async def test_a_sqlite_outbox_reports_its_depth(tmp_path: Path) -> None:
    s = settings(audit_outbox_path=str(tmp_path / "outbox.db"))
    box = open_outbox(s, channel="g", ships=False)
    codec = EntryCodec(seal=TokenSeal(client_id="acme", client_secret="s3cret"), keep_prompts=True)
    for call_id in ("a", "b"):
        entry = OutboxEntry(record=record(call_id))
        kept = box.put(entry, codec.encode(entry), hold=False)
        assert kept is not None
        await kept
    await box.close()
    found = await audit_store_status(s, channel="g")
    assert found.status == "ok", found.detail
    assert "2 pending" in found.detail
    other = await audit_store_status(s, channel="other")  # another guardrail's channel
    assert "0 pending" in other.detail


def test_the_traceparent_survives_the_outbox() -> None:
    codec = EntryCodec(seal=TokenSeal(client_id="acme", client_secret="s"), keep_prompts=False)
    entry = OutboxEntry(record=record("a"))
    back = codec.decode(codec.encode(entry), default_user_token="anonymous")
    assert back.record.traceparent == TRACEPARENT
