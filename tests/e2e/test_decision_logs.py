"""Every pre-call decision reaches LiteLLM's logs once, with its true mode.

Allowed calls and `fail_open` passes are written to LiteLLM's logging after its shadow-eval
snapshot (`audit._deferred_record`), refusals and redacted requests at once. Whatever the path,
the success or failure log LiteLLM hands its callbacks (and its spend logs) carries exactly one
`pre_call` entry of the guardrail: allowed, blocked, fail-open, redacted, streamed, a failed
model call, a guardrail without `post_call`. Real proxy CLI, real SDK, the dev agent, a real
upstream (`FakeLLM`) and LiteLLM's mock model.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import eventually
from tests.support.dev_agent import DevAgent
from tests.support.fake_llm import FakeLLM, fake_model
from tests.support.model_calls import read_model_calls
from tests.support.processes import free_port
from tests.support.proxy import MASTER_KEY, Proxy, guardrail, mock_model, start_proxy

pytestmark = [pytest.mark.e2e]

SQLI = "Show me users WHERE name = 'x' UNION SELECT password FROM accounts"
SSN = "123-45-6789"


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLLM]:
    with FakeLLM() as running:
        yield running


@pytest.fixture(scope="module")
def proxy(agent: DevAgent, llm: FakeLLM, model_call_log: Path) -> Iterator[Proxy]:
    dead = f"http://127.0.0.1:{free_port()}"
    many = {"breaker_failure_threshold": 1000}
    broken = {
        "model_name": "broken",
        "litellm_params": {
            "model": "openai/broken",
            "api_base": f"http://127.0.0.1:{free_port()}/v1",  # nothing listens: the call fails
            "api_key": "sk-not-used",
            "max_retries": 0,
        },
    }
    config = {
        "model_list": [fake_model("fake", llm), mock_model("mock"), broken],
        "guardrails": [
            guardrail("af", agent.url, **many),
            guardrail("af-dead", dead, **many),
            guardrail("af-pre-only", agent.url, mode=("pre_call",), **many),
            guardrail("af-small", agent.url, max_check_chars=10, **many),
        ],
        "litellm_settings": {"callbacks": "tests.support.model_calls.recorder"},
        "router_settings": {"num_retries": 0},
    }
    with start_proxy(config, env={"MODEL_CALL_LOG": str(model_call_log)}) as running:
        yield running


def logged(model_call_log: Path, call_id: str | None, kind: str) -> dict[str, Any]:
    """LiteLLM's success or failure log of the call, once written."""
    assert call_id

    def find() -> list[dict[str, Any]]:
        return [
            c
            for c in read_model_calls(model_call_log)
            if c["kind"] == kind and c.get("litellm_call_id") == call_id
        ]

    found = eventually(find)
    assert len(found) == 1, found
    return found[0]


def entry_of(record: dict[str, Any], guard: str) -> dict[str, Any]:
    """The guardrail's one entry in a logged call, with its true mode."""
    ours = [g for g in record["guardrail_information"] or [] if g["guardrail_name"] == guard]
    assert len(ours) == 1, record["guardrail_information"]
    assert ours[0]["guardrail_mode"] == "pre_call"
    assert ours[0]["guardrail_provider"] == "axonflow"
    assert ours[0]["duration"] is not None
    assert ours[0]["duration"] >= 0
    return dict(ours[0])


def chat(proxy: Proxy, content: str, *, guard: str, model: str = "fake", **extra: Any) -> Any:
    return proxy.chat(content, model=model, guardrails=[guard], **extra)


@pytest.mark.parametrize("model", ["fake", "mock"])
def test_allowed(proxy: Proxy, model_call_log: Path, model: str) -> None:
    response = chat(proxy, "Summarise the quarterly report", guard="af", model=model)
    assert response.status_code == 200, response.text
    record = logged(model_call_log, response.headers.get("x-litellm-call-id"), "success")
    entry = entry_of(record, "af")
    assert entry["guardrail_status"] == "success"
    assert entry["guardrail_response"]["decision_id"]
    assert "af" in response.headers["x-litellm-applied-guardrails"].split(",")


def test_blocked(proxy: Proxy, model_call_log: Path) -> None:
    response = chat(proxy, SQLI, guard="af")
    assert response.status_code == 400, response.text
    record = logged(model_call_log, response.headers.get("x-litellm-call-id"), "failure")
    entry = entry_of(record, "af")
    assert entry["guardrail_status"] == "guardrail_intervened"
    assert entry["guardrail_response"]["code"] == "policy_denied"


def test_fail_open(proxy: Proxy, model_call_log: Path) -> None:
    response = chat(proxy, "AxonFlow is down, let it through", guard="af-dead")
    assert response.status_code == 200, response.text
    assert "af-dead:unscanned" in response.headers["x-litellm-applied-guardrails"]
    record = logged(model_call_log, response.headers.get("x-litellm-call-id"), "success")
    entry = entry_of(record, "af-dead")
    assert entry["guardrail_status"] == "guardrail_failed_to_respond"
    assert entry["guardrail_response"]["fail_open"] is True


def test_redacted(proxy: Proxy, model_call_log: Path, llm: FakeLLM) -> None:
    response = chat(proxy, f"My SSN is {SSN}, file it", guard="af")
    assert response.status_code == 200, response.text
    assert SSN not in str(llm.requests())
    record = logged(model_call_log, response.headers.get("x-litellm-call-id"), "success")
    entry = entry_of(record, "af")
    assert entry["guardrail_status"] == "success"
    assert entry["guardrail_response"]["input_redacted"] is True


@pytest.mark.parametrize("guard", ["af", "af-dead"])
def test_streamed(proxy: Proxy, model_call_log: Path, guard: str) -> None:
    body = {
        "model": "fake",
        "messages": [{"role": "user", "content": "Tell me something"}],
        "guardrails": [guard],
        "stream": True,
    }
    with httpx.stream(
        "POST",
        f"{proxy.url}/v1/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {MASTER_KEY}"},
        timeout=30,
    ) as streamed:
        assert streamed.status_code == 200
        text = "".join(streamed.iter_text())
        call_id = streamed.headers.get("x-litellm-call-id")
    assert "[DONE]" in text
    record = logged(model_call_log, call_id, "success")
    entry = entry_of(record, guard)
    expected = "success" if guard == "af" else "guardrail_failed_to_respond"
    assert entry["guardrail_status"] == expected


@pytest.mark.parametrize("guard", ["af", "af-dead"])
def test_failed_model_call(proxy: Proxy, model_call_log: Path, guard: str) -> None:
    """LiteLLM writes a failing call's log before any post-call hook runs: the entry must be
    there already (written when LiteLLM logged the call's start)."""
    response = chat(proxy, "Summarise the quarterly report", guard=guard, model="broken")
    assert response.status_code >= 500, response.text
    record = logged(model_call_log, response.headers.get("x-litellm-call-id"), "failure")
    entry = entry_of(record, guard)
    expected = "success" if guard == "af" else "guardrail_failed_to_respond"
    assert entry["guardrail_status"] == expected


def test_without_post_call_the_decision_is_logged_at_once(
    proxy: Proxy, model_call_log: Path
) -> None:
    response = chat(proxy, "Summarise the quarterly report", guard="af-pre-only")
    assert response.status_code == 200, response.text
    record = logged(model_call_log, response.headers.get("x-litellm-call-id"), "success")
    assert entry_of(record, "af-pre-only")["guardrail_status"] == "success"


def test_allowed_then_refused_by_a_later_guardrail(proxy: Proxy, model_call_log: Path) -> None:
    """The pass of the first guardrail is logged although the request never reaches the
    model nor a success hook: LiteLLM logs the refused call's start before its failure."""
    response = proxy.chat(
        "Summarise the quarterly report", model="fake", guardrails=["af", "af-small"]
    )
    assert response.status_code == 400, response.text
    record = logged(model_call_log, response.headers.get("x-litellm-call-id"), "failure")
    assert entry_of(record, "af")["guardrail_status"] == "success"
    assert entry_of(record, "af-small")["guardrail_status"] == "guardrail_intervened"


@pytest.fixture(scope="module")
def caching_proxy(agent: DevAgent, llm: FakeLLM, model_call_log: Path) -> Iterator[Proxy]:
    config = {
        "model_list": [fake_model("fake", llm)],
        "guardrails": [guardrail("af", agent.url, breaker_failure_threshold=1000)],
        "litellm_settings": {
            "callbacks": "tests.support.model_calls.recorder",
            "cache": True,
            "cache_params": {"type": "local"},
        },
    }
    with start_proxy(config, env={"MODEL_CALL_LOG": str(model_call_log)}) as running:
        yield running


def test_a_cache_hit(caching_proxy: Proxy, model_call_log: Path, llm: FakeLLM) -> None:
    """A cached answer reaches no provider (LiteLLM logs no call start): the post-call hook
    writes the entry, before LiteLLM builds the success log."""
    prompt = "What is the capital of France? (cached)"
    first = chat(caching_proxy, prompt, guard="af")
    assert first.status_code == 200, first.text
    upstream = len(llm.requests())
    second = chat(caching_proxy, prompt, guard="af")
    assert second.status_code == 200, second.text
    assert len(llm.requests()) == upstream  # served from LiteLLM's cache
    for response in (first, second):
        record = logged(model_call_log, response.headers.get("x-litellm-call-id"), "success")
        assert entry_of(record, "af")["guardrail_status"] == "success"
