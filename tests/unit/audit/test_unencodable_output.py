"""A model answer holding a lone surrogate (a provider's `\\ud800` escape, kept by
`json.loads`) is still audited: neither the outbox codec nor the SDK can encode one, so the
record carries U+FFFD in its place instead of being dropped as undeliverable."""

from __future__ import annotations

import os

from tests.support.processes import TEST_ENV

os.environ.update(TEST_ENV)

from litellm.types.utils import ModelResponse

from axonflow_guardrail.audit._outbox_entry import EntryCodec, OutboxEntry
from axonflow_guardrail.audit._records import llm_call_audit
from axonflow_guardrail.audit._sealing import TokenSeal
from tests.unit.audit.test_call_state import state


def test_an_answer_with_a_lone_surrogate_is_kept_with_a_replacement_character() -> None:
    response = ModelResponse(
        model="gpt-\udc80",
        choices=[{"index": 0, "message": {"role": "assistant", "content": "ok \ud800 then 😀"}}],
    )
    record = llm_call_audit(state("r1"), guardrail_name="af", response=response, outcome="success")
    assert record.response_summary == "ok \ufffd then 😀"
    assert record.model == "gpt-\ufffd"
    codec = EntryCodec(seal=TokenSeal(client_id="c", client_secret="s"), keep_prompts=True)
    kept = codec.decode(codec.encode(OutboxEntry(record=record)), default_user_token="anonymous")
    assert kept.record.response_summary == "ok \ufffd then 😀"  # type: ignore[union-attr]
