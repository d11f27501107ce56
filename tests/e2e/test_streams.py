"""Streams on every streaming route: gated before the first byte, held for output checks,
never cut silently, audited once after the last chunk with the full text and usage.

Raw httpx reads the SSE bytes exactly as a client receives them; the SDK tests show what an
`openai` / `anthropic` client makes of the same streams. Models are served by `FakeLLM`, which
streams every answer in several chunks.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from tests.e2e.conftest import eventually
from tests.support import litellm_release as release
from tests.support.dev_agent import DevAgent
from tests.support.fake_llm import FakeLLM, fake_model
from tests.support.proxy import Proxy, guardrail, start_proxy
from tests.support.route_clients import (
    STREAM_ROUTES,
    RawStream,
    anthropic_client,
    send,
    stream_raw,
    stream_text,
)

pytestmark = pytest.mark.e2e

SQLI = "Show me users WHERE name = 'x' UNION SELECT password FROM accounts"
SSN = "123-45-6789"
MASKED_SSN = "1*********9"
PRIVATE_KEY = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----"
FAKE_ANSWER = "Hello from the fake model, streamed in pieces."
WITHHELD = "[response withheld by governance]"


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLLM]:
    answers = {"pii": f"The SSN on file is {SSN}.", "secret": f"Here it is: {PRIVATE_KEY}"}
    with FakeLLM(answers=answers, default_answer=FAKE_ANSWER) as running:
        yield running


@pytest.fixture(autouse=True)
def _clean_llm(llm: FakeLLM) -> None:
    llm.reset()


@pytest.fixture(scope="module")
def proxy(agent: DevAgent, llm: FakeLLM) -> Iterator[Proxy]:
    common = {"breaker_failure_threshold": 1000, "audit_concurrency": 1}
    config = {
        "model_list": [fake_model(name, llm) for name in ("fake", "pii", "secret")],
        "guardrails": [
            guardrail("af", agent.url, **common),
            guardrail("af-out", agent.url, check_output=True, **common),
        ],
    }
    with start_proxy(config) as running:
        yield running


def audits_of(agent: DevAgent, call_id: str | None) -> list[dict[str, Any]]:
    assert call_id
    return [
        a
        for a in agent.audits(route="llm-call")
        if a.get("metadata", {}).get("litellm_call_id") == call_id
    ]


def audited_once(proxy: Proxy, agent: DevAgent, call_id: str | None, guard: str) -> dict[str, Any]:
    """One audit worker per guardrail delivers in queue order: once a later marker call's audit
    has landed, a duplicate of this call's would have landed too."""
    eventually(lambda: audits_of(agent, call_id))
    marker = send(proxy, "chat", model="fake", user="marker call", guard=guard)
    eventually(lambda: audits_of(agent, marker.call_id))
    mine = audits_of(agent, call_id)
    assert len(mine) == 1, mine
    return mine[0]


def upstream_bodies(llm: FakeLLM) -> str:
    return json.dumps([r["body"] for r in llm.requests()], ensure_ascii=False)


def assert_ends_properly(route: str, stream: RawStream) -> None:
    """A complete stream: `[DONE]` on OpenAI-style routes, `message_stop` on Anthropic's."""
    events = stream.data_events()
    if route == "messages":
        assert events[-1] == {"type": "message_stop"}
    else:
        assert events[-1] == "[DONE]"


# ------------------------------------------------------------------ allowed streams


@pytest.mark.compat_core
@pytest.mark.parametrize("route", STREAM_ROUTES)
def test_allowed_stream_completes_and_is_audited_once_with_full_text(
    proxy: Proxy, agent: DevAgent, llm: FakeLLM, route: str
) -> None:
    stream = stream_raw(proxy, route, model="fake", user="Tell me something")
    assert stream.status == 200, stream.text
    assert stream_text(route, stream) == FAKE_ANSWER
    assert len(stream.data_events()) > 4  # it really arrived in pieces
    assert_ends_properly(route, stream)
    audit = audited_once(proxy, agent, stream.call_id, "af")
    assert audit["response_summary"] == FAKE_ANSWER
    assert audit["metadata"]["outcome"] == "success"
    usage = audit["token_usage"]
    assert usage["prompt_tokens"] > 0
    assert usage["completion_tokens"] > 0
    # /v1/completions streams carry no usage unless the client asks; it is estimated then.
    # (and on older LiteLLM chat streams too, which carry no usage chunk unless asked)
    estimated = route == "completions" or (route == "chat" and not release.CHAT_STREAMS_CARRY_USAGE)
    assert audit["metadata"].get("usage_estimated", False) is estimated


# ------------------------------------------------------------------ the pre-check gates streams


@pytest.mark.compat_core
@pytest.mark.parametrize("route", STREAM_ROUTES)
def test_sql_injection_stream_is_refused_before_the_first_byte(
    proxy: Proxy, agent: DevAgent, llm: FakeLLM, route: str
) -> None:
    stream = stream_raw(proxy, route, model="fake", user=SQLI)
    assert stream.status == 400, stream.text
    assert "UNION SELECT" in stream.text
    assert llm.requests() == []
    if stream.call_id is None and route == "completions":
        assert not release.COMPLETIONS_REFUSALS_CARRY_CALL_ID
        assert agent.audits() == []  # reset for this test: no call id, so no audit at all
    else:
        assert audits_of(agent, stream.call_id) == []
    if route == "messages":
        body = json.loads(stream.text)
        if release.ANTHROPIC_STREAM_REFUSAL_ENVELOPE:
            assert body["type"] == "error"
        else:  # older LiteLLM: OpenAI's envelope
            assert "UNION SELECT" in body["error"]["message"]


@pytest.mark.parametrize("route", STREAM_ROUTES)
def test_ssn_in_a_streamed_request_reaches_the_model_masked(
    proxy: Proxy, llm: FakeLLM, route: str
) -> None:
    stream = stream_raw(proxy, route, model="fake", user=f"My SSN is {SSN}", earlier="hi")
    assert stream.status == 200, stream.text
    sent = upstream_bodies(llm)
    assert MASKED_SSN in sent
    assert SSN not in sent


# ------------------------------------------------------------------ held streams (check_output)


@pytest.mark.parametrize("route", STREAM_ROUTES)
def test_a_blocked_held_stream_leaks_nothing_and_ends_with_an_error(
    proxy: Proxy, agent: DevAgent, llm: FakeLLM, route: str
) -> None:
    stream = stream_raw(proxy, route, model="secret", user="the key please", guard="af-out")
    assert "PRIVATE KEY" not in stream.text
    assert "MIIEow" not in stream.text
    assert len(llm.requests()) == 1
    if route == "messages":
        # Before the first byte /v1/messages answers as Anthropic does: a JSON error.
        assert stream.status == 400, stream.text
        body = json.loads(stream.text)
        assert body["type"] == "error"
        assert body["error"]["type"] == "invalid_request_error"
        assert body["error"]["provider_specific_fields"]["code"] == "output_blocked"
    elif route == "responses":
        # The Responses stream's own error event, then [DONE].
        assert stream.status == 200, stream.text
        assert stream.event_names() == ["response.failed"]
        failed, done = stream.data_events()
        assert failed["response"]["status"] == "failed"
        assert failed["response"]["error"]["code"] == "output_blocked"
        assert failed["response"]["error"]["message"].startswith("Response blocked")
        assert done == "[DONE]"
    else:
        assert stream.status == 400, stream.text
        error, done = stream.data_events()
        assert error["error"]["provider_specific_fields"]["code"] == "output_blocked"
        assert error["error"]["message"].startswith("Response blocked")
        assert done == "[DONE]"
    audit = audited_once(proxy, agent, stream.call_id, "af-out")
    assert audit["response_summary"] == WITHHELD
    assert audit["metadata"]["outcome"] == "blocked"


@pytest.mark.parametrize("route", STREAM_ROUTES)
def test_pii_in_a_held_stream_arrives_masked(proxy: Proxy, agent: DevAgent, route: str) -> None:
    stream = stream_raw(proxy, route, model="pii", user="What SSN is on file?", guard="af-out")
    assert stream.status == 200, stream.text
    assert stream_text(route, stream) == f"The SSN on file is {MASKED_SSN}."
    assert SSN not in stream.text  # nowhere: not in deltas, not in *.done or final events
    assert_ends_properly(route, stream)
    audit = audited_once(proxy, agent, stream.call_id, "af-out")
    assert audit["response_summary"] == f"The SSN on file is {MASKED_SSN}."


def test_a_clean_held_stream_is_relayed_whole(proxy: Proxy) -> None:
    stream = stream_raw(proxy, "chat", model="fake", user="hello", guard="af-out")
    assert stream.status == 200
    assert stream_text("chat", stream) == FAKE_ANSWER
    assert len(stream.data_events()) > 4


# ------------------------------------------------------------------ what SDK clients see


def test_openai_sdk_streams_and_sees_a_block_as_an_error(proxy: Proxy) -> None:
    client = proxy.openai()
    chunks = client.chat.completions.create(
        model="pii",
        messages=[{"role": "user", "content": "What SSN is on file?"}],
        stream=True,
        extra_body={"guardrails": ["af-out"]},
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == f"The SSN on file is {MASKED_SSN}."
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="secret",
            messages=[{"role": "user", "content": "the key please"}],
            stream=True,
            extra_body={"guardrails": ["af-out"]},
        )
    assert "Response blocked" in str(caught.value)


def test_anthropic_sdk_streams_and_sees_a_block_as_an_error(proxy: Proxy) -> None:
    client = anthropic_client(proxy)
    with client.messages.stream(
        model="pii",
        max_tokens=64,
        messages=[{"role": "user", "content": "What SSN is on file?"}],
        extra_body={"guardrails": ["af-out"]},
    ) as stream:
        text = "".join(stream.text_stream)
    assert text == f"The SSN on file is {MASKED_SSN}."
    with (
        pytest.raises(anthropic.BadRequestError) as caught,
        client.messages.stream(
            model="secret",
            max_tokens=64,
            messages=[{"role": "user", "content": "the key please"}],
            extra_body={"guardrails": ["af-out"]},
        ) as stream,
    ):
        "".join(stream.text_stream)
    assert caught.value.body["error"]["provider_specific_fields"]["code"] == "output_blocked"


def test_openai_sdk_responses_stream_reports_a_block_as_response_failed(proxy: Proxy) -> None:
    client = proxy.openai()
    events = list(
        client.responses.create(
            model="secret",
            input="the key please",
            stream=True,
            extra_body={"guardrails": ["af-out"]},
        )
    )
    assert [e.type for e in events] == ["response.failed"]
    assert events[0].response.error.code == "output_blocked"
