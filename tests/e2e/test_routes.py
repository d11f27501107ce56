"""Every route, not streaming: pre-check, input masking, output policies, audit.

One real proxy serves the module. Its models are served by `FakeLLM`, a real OpenAI-compatible
upstream that records what it received, so "the model got the masked text" and "the model was
never called" are asserted on the model's side of the wire. Routes are called with the SDKs a
real client uses (`openai`, `anthropic`); see `tests/support/route_clients.py`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import eventually
from tests.support import litellm_release as release
from tests.support.dev_agent import DevAgent
from tests.support.fake_llm import FakeLLM, fake_model
from tests.support.proxy import Proxy, guardrail, start_proxy
from tests.support.route_clients import ROUTES, STREAM_ROUTES, Outcome, send

pytestmark = pytest.mark.e2e

SQLI = "Show me users WHERE name = 'x' UNION SELECT password FROM accounts"
SSN = "123-45-6789"
MASKED_SSN = "1*********9"
PRIVATE_KEY = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----"
FAKE_ANSWER = "Hello from the fake model."
WITHHELD = "[response withheld by governance]"
MESSAGE_ROUTES = ("chat", "responses", "messages")  # routes with a system prompt


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
    # One audit worker: records are delivered in the order they were queued (see audited_once).
    common = {"breaker_failure_threshold": 1000, "audit_concurrency": 1}
    config = {
        "model_list": [fake_model(name, llm) for name in ("fake", "pii", "secret", "embed")],
        "guardrails": [
            guardrail("af", agent.url, **common),
            guardrail("af-out", agent.url, check_output=True, **common),
            guardrail(
                "af-during",
                agent.url,
                mode=("during_call", "post_call"),
                call_timeout_seconds=5.0,
                **common,
            ),
            guardrail("af-small", agent.url, max_check_chars=40, **common),
        ],
    }
    with start_proxy(config) as running:
        yield running


def model_for(route: str, name: str = "fake") -> str:
    return "embed" if route == "embeddings" else name


def assert_refused(outcome: Outcome, route: str, code: str) -> None:
    """A guardrail refusal. /v1/completions answers with the message only: LiteLLM builds that
    route's error from the exception's attributes and drops the detail dict (docs/routes.md)."""
    assert outcome.status == 400, outcome
    assert outcome.error["message"]
    if route == "completions":
        assert "provider_specific_fields" not in outcome.error
    elif route == "messages" and not release.ANTHROPIC_REFUSAL_ENVELOPE:
        assert outcome.error["code"] == "400"  # older LiteLLM: OpenAI's envelope, message only
    else:
        assert outcome.error["code"] == code


def no_audit(agent: DevAgent, call_id: str | None, route: str) -> bool:
    """No audit for this refused call. Older LiteLLM sends no call id with a refused
    /v1/completions call; the agent was reset for this test, so then no audit at all."""
    if call_id is None and route == "completions":
        assert not release.COMPLETIONS_REFUSALS_CARRY_CALL_ID
        return agent.audits() == []
    return audits_of(agent, call_id) == []


def audits_of(agent: DevAgent, call_id: str | None) -> list[dict[str, Any]]:
    assert call_id
    return [
        a
        for a in agent.audits(route="llm-call")
        if a.get("metadata", {}).get("litellm_call_id") == call_id
    ]


def audited_once(proxy: Proxy, agent: DevAgent, outcome: Outcome, guard: str) -> dict[str, Any]:
    """The call's one audit record. With one audit worker per guardrail, records are delivered
    in queue order; once a later marker call's audit has landed, a duplicate would have too."""
    eventually(lambda: audits_of(agent, outcome.call_id))
    marker = send(proxy, "chat", model="fake", user="marker call", guard=guard)
    assert marker.status == 200, marker
    eventually(lambda: audits_of(agent, marker.call_id))
    mine = audits_of(agent, outcome.call_id)
    assert len(mine) == 1, mine
    return mine[0]


def upstream_bodies(llm: FakeLLM) -> str:
    return json.dumps([r["body"] for r in llm.requests()], ensure_ascii=False)


def pre_check_queries(agent: DevAgent) -> list[str]:
    return [r["body"]["query"] for r in agent.requests(path="/api/policy/pre-check")]


# ------------------------------------------------------------------ allowed calls


@pytest.mark.compat_core
@pytest.mark.parametrize("route", ROUTES)
def test_allowed_call_is_answered_and_audited_once(
    proxy: Proxy, agent: DevAgent, llm: FakeLLM, route: str
) -> None:
    outcome = send(proxy, route, model=model_for(route), user="Summarise the quarterly report")
    assert outcome.status == 200, outcome
    if route != "embeddings":
        assert outcome.text == FAKE_ANSWER
    assert len(llm.requests()) == 1
    audit = audited_once(proxy, agent, outcome, "af")
    assert audit["context_id"]
    assert audit["token_usage"]["prompt_tokens"] > 0
    assert audit["metadata"]["outcome"] == "success"
    assert audit["metadata"]["route"].endswith(route if route != "chat" else "chat/completions")
    if route != "embeddings":
        assert audit["response_summary"] == FAKE_ANSWER
        assert audit["token_usage"]["completion_tokens"] > 0


# ------------------------------------------------------------------ refused before the model


@pytest.mark.compat_core
@pytest.mark.parametrize("route", ROUTES)
def test_sql_injection_is_refused_before_the_model(
    proxy: Proxy, agent: DevAgent, llm: FakeLLM, route: str
) -> None:
    outcome = send(proxy, route, model=model_for(route), user=SQLI)
    assert_refused(outcome, route, "policy_denied")
    if route != "completions" and (route != "messages" or release.ANTHROPIC_REFUSAL_ENVELOPE):
        assert "sys_sqli_union_select" in outcome.error["policies"]
    assert "UNION SELECT" in outcome.error["message"]
    assert llm.requests() == []
    assert no_audit(agent, outcome.call_id, route)  # nothing was called, nothing to audit


def test_messages_refusal_uses_anthropics_error_envelope(proxy: Proxy) -> None:
    outcome = send(proxy, "messages", model="fake", user=SQLI)
    body = outcome.raw_error.body
    assert body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["provider_specific_fields"]["code"] == "policy_denied"


@pytest.mark.parametrize("route", ROUTES)
def test_injection_in_an_earlier_turn_is_caught(proxy: Proxy, llm: FakeLLM, route: str) -> None:
    outcome = send(proxy, route, model=model_for(route), user="thanks!", earlier=SQLI)
    assert_refused(outcome, route, "policy_denied")
    assert llm.requests() == []


@pytest.mark.parametrize("route", MESSAGE_ROUTES)
def test_injection_in_the_system_prompt_is_caught(proxy: Proxy, llm: FakeLLM, route: str) -> None:
    outcome = send(proxy, route, model="fake", user="hello", system=f"Always run: {SQLI}")
    assert outcome.status == 400, outcome
    assert outcome.error["code"] == "policy_denied"
    assert llm.requests() == []


@pytest.mark.parametrize("route", MESSAGE_ROUTES)
def test_pre_check_reads_system_prompt_and_every_turn(
    proxy: Proxy, agent: DevAgent, route: str
) -> None:
    outcome = send(
        proxy, route, model="fake", user="third part", earlier="first part", system="sys part"
    )
    assert outcome.status == 200, outcome
    (query,) = pre_check_queries(agent)
    for part in ("sys part", "first part", "Noted.", "third part"):
        assert part in query
    assert query.index("sys part") < query.index("first part") < query.index("third part")


def test_images_are_checked_as_a_placeholder(proxy: Proxy, agent: DevAgent) -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    response = proxy.post(
        "/v1/chat/completions",
        {
            "model": "fake",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "what?"}, image]}],
            "guardrails": ["af"],
        },
    )
    assert response.status_code == 200, response.text
    (query,) = pre_check_queries(agent)
    assert "[image]" in query
    assert "iVBORw0KGgo" not in query


def test_a_request_too_large_to_check_is_refused(proxy: Proxy, llm: FakeLLM) -> None:
    outcome = send(proxy, "chat", model="fake", user="x" * 41, guard="af-small")
    assert outcome.status == 400, outcome
    assert outcome.error["code"] == "request_too_large_to_check"
    assert llm.requests() == []


def test_completions_errors_carry_the_guardrails_message(proxy: Proxy) -> None:
    """/v1/completions builds its error from the exception, not from its detail dict."""
    outcome = send(proxy, "completions", model="fake", user=SQLI)
    assert outcome.status == 400
    assert outcome.error["message"] == "SQL injection attempt detected: UNION SELECT"
    assert outcome.error["type"] == "invalid_request_error"


# ------------------------------------------------------------------ input redaction


@pytest.mark.parametrize("route", ROUTES)
def test_ssn_reaches_the_model_masked(
    proxy: Proxy, agent: DevAgent, llm: FakeLLM, route: str
) -> None:
    outcome = send(proxy, route, model=model_for(route), user=f"My SSN is {SSN}, file it")
    assert outcome.status == 200, outcome
    sent = upstream_bodies(llm)
    assert MASKED_SSN in sent
    assert SSN not in sent
    masks = agent.requests(path="/api/v1/mcp/check-input")
    assert [m["body"]["content_type"] for m in masks] == ["text/plain"]
    audit = audited_once(proxy, agent, outcome, "af")
    assert audit["metadata"]["input_redacted"] is True


@pytest.mark.parametrize("route", MESSAGE_ROUTES)
def test_ssn_in_system_prompt_and_earlier_turn_is_masked_in_place(
    proxy: Proxy, llm: FakeLLM, route: str
) -> None:
    outcome = send(
        proxy,
        route,
        model="fake",
        user="go on",
        earlier=f"earlier: {SSN}",
        system=f"The customer's SSN is {SSN}.",
    )
    assert outcome.status == 200, outcome
    sent = upstream_bodies(llm)
    assert SSN not in sent
    assert sent.count(MASKED_SSN) == 2
    assert "The customer's SSN is" in sent  # the rest of the text is untouched


def test_masking_that_cannot_be_applied_fails_closed(
    proxy: Proxy, agent: DevAgent, llm: FakeLLM
) -> None:
    """A participant name must match what the client sent; it can be checked, not rewritten."""
    response = proxy.post(
        "/v1/chat/completions",
        {
            "model": "fake",
            "messages": [{"role": "user", "name": "agent-123456789", "content": "hello"}],
            "guardrails": ["af"],
        },
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["provider_specific_fields"]["code"] == "redaction_failed"
    assert "was not sent" in error["message"]
    assert llm.requests() == []
    assert audits_of(agent, response.headers.get("x-litellm-call-id")) == []


# ------------------------------------------------------------------ output policies


@pytest.mark.parametrize("route", STREAM_ROUTES)
def test_pii_in_the_answer_is_masked(
    proxy: Proxy, agent: DevAgent, llm: FakeLLM, route: str
) -> None:
    outcome = send(proxy, route, model="pii", user="What SSN is on file?", guard="af-out")
    assert outcome.status == 200, outcome
    assert outcome.text == f"The SSN on file is {MASKED_SSN}."
    checks = agent.requests(path="/api/v1/mcp/check-output")
    assert len(checks) == 1
    audit = audited_once(proxy, agent, outcome, "af-out")
    assert audit["response_summary"] == outcome.text  # the audit holds what the client got


@pytest.mark.parametrize("route", STREAM_ROUTES)
def test_a_blocked_answer_is_a_400_and_never_reaches_the_client(
    proxy: Proxy, agent: DevAgent, llm: FakeLLM, route: str
) -> None:
    outcome = send(proxy, route, model="secret", user="show me the key", guard="af-out")
    assert_refused(outcome, route, "output_blocked")
    assert outcome.error["message"].startswith("Response blocked")
    assert "PRIVATE KEY" not in json.dumps(outcome.error)
    assert len(llm.requests()) == 1  # the model answered; the answer was withheld
    audit = audited_once(proxy, agent, outcome, "af-out")
    assert audit["response_summary"] == WITHHELD
    assert audit["metadata"]["outcome"] == "blocked"


def test_output_checks_are_off_by_default(proxy: Proxy, agent: DevAgent) -> None:
    outcome = send(proxy, "chat", model="pii", user="What SSN is on file?", guard="af")
    assert outcome.status == 200
    assert SSN in outcome.text
    assert agent.requests(path="/api/v1/mcp/check-output") == []


# ------------------------------------------------------------------ during_call


def test_during_call_blocks_but_the_model_call_is_already_spent(
    proxy: Proxy, agent: DevAgent, llm: FakeLLM
) -> None:
    # The check runs beside the LLM call; whether the call reaches the model first is a race.
    # A slow check (1 s, well inside the 5 s timeout) lets it win, as it does in production
    # whenever the check is slower than the provider's request.
    agent.set_fault("/api/policy/pre-check", delay_s=1.0)
    outcome = send(proxy, "chat", model="fake", user=SQLI, guard="af-during")
    assert outcome.status == 400, outcome
    assert outcome.error["code"] == "policy_denied"
    # The trade-off of during_call: the model already received the prompt.
    assert len(llm.requests()) == 1
    assert SQLI in upstream_bodies(llm)


def test_during_call_allows_and_audits(proxy: Proxy, agent: DevAgent) -> None:
    outcome = send(proxy, "chat", model="fake", user="a harmless question", guard="af-during")
    assert outcome.status == 200, outcome
    audit = audited_once(proxy, agent, outcome, "af-during")
    assert audit["response_summary"] == FAKE_ANSWER


def test_during_call_cannot_mask_input(proxy: Proxy, llm: FakeLLM) -> None:
    """Documented: masking needs pre_call; during_call sends the text as it is."""
    outcome = send(proxy, "chat", model="fake", user=f"My SSN is {SSN}", guard="af-during")
    assert outcome.status == 200, outcome
    assert SSN in upstream_bodies(llm)
