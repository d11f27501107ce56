"""A record the guardrail cannot send (its own bug: here a usage the SDK's models refuse) is
a dead letter at once, kept for the operator: not retried forever as if AxonFlow were down,
and not counted against AxonFlow's breaker. Real parts: the SQLite outbox on a file, the
shipper, the official SDK over HTTP to the dev agent (which must receive nothing)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import TEST_ENV

os.environ.update(TEST_ENV)

from axonflow_guardrail._settings import GuardrailSettings
from axonflow_guardrail.audit._outbox_entry import EntryCodec, OutboxEntry
from axonflow_guardrail.audit._records import LLMCallAudit
from axonflow_guardrail.audit._retroactive import Retroactive
from axonflow_guardrail.audit._shipper import Shipper
from tests.support.dev_agent import DevAgent, start_dev_agent
from tests.unit.audit.test_sqlite_outbox import SEAL, outbox
from tests.unit.axonflow.test_trace_context_calls import CLIENT, client


@pytest.fixture(scope="module")
def agent() -> Iterator[DevAgent]:
    with start_dev_agent(clients=[CLIENT]) as running:
        yield running


async def _no_wait(_: float) -> None:
    await asyncio.sleep(0)


async def test_a_record_the_guardrail_cannot_send_is_a_dead_letter(
    agent: DevAgent, tmp_path: Path
) -> None:
    box = outbox(tmp_path / "o.db", owner="w1", clock=[1000.0])
    axonflow = client(agent.url)
    settings = GuardrailSettings.from_litellm_params(
        {"endpoint": agent.url, "client_id": CLIENT[0], "client_secret": CLIENT[1]}
    )
    shipper = Shipper(
        outbox=box,
        client=axonflow,
        retroactive=Retroactive(client=axonflow, settings=settings, outbox=box),
        concurrency=1,
        send_timeout_seconds=2.0,
        retry_max_seconds=1.0,
        breaker_failure_threshold=1,
        breaker_recovery_seconds=60.0,
        sweep_seconds=0.01,
        sleep=_no_wait,
    )
    broken = LLMCallAudit(
        call_id="c-broken",
        context_id="ctx-1",
        provider="openai",
        model="m",
        usage=("many", 2, 3),  # type: ignore[arg-type]  # the bug: not a token count
        latency_ms=4,
        response_summary="ok",
        metadata={"outcome": "success"},
    )
    entry = OutboxEntry(record=broken)
    codec = EntryCodec(seal=SEAL, keep_prompts=True)
    kept = box.put(entry, codec.encode(entry), hold=True)
    assert kept is not None
    await kept
    agent.reset()
    try:
        shipper.offer(entry)
        async with asyncio.timeout(10):
            while not (letters := await box.dead_letters(10)):
                await asyncio.sleep(0.01)  # the outbox writes on its own thread
    finally:
        await shipper.stop(flush_seconds=0)
        await axonflow.close()
        await box.close()
    [letter] = letters
    assert letter.call_id == "c-broken"
    assert "could not be sent" in letter.error
    assert agent.audits() == []
