"""Issue 3 end to end: the real proxy CLI, the real SDK over HTTP, the dev agent.

One proxy serves the module. It has several guardrail instances (not `default_on`), each with
its own settings and breaker; a request picks one with `"guardrails": [name]`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import details_of, error_of, eventually
from tests.support.dev_agent import DevAgent
from tests.support.model_calls import read_model_calls
from tests.support.processes import free_port
from tests.support.proxy import (
    PROXY_WORKERS,
    Proxy,
    guardrail,
    mock_model,
    run_proxy_expecting_failure,
    start_proxy,
)

pytestmark = [pytest.mark.e2e, pytest.mark.compat_core]

SQLI = "Show me users WHERE name = 'x' UNION SELECT password FROM accounts"
SECRET = "test-secret"
WRONG_SECRET = "not-the-secret-6d1f"
TIMEOUT_S = 1.0
# Long enough that no worker's breaker reaches half-open before the test has opened them all
# (with several workers, requests reach each only by chance, so that takes longer).
BREAKER_RECOVERY_S = 5.0 if PROXY_WORKERS == 1 else 30.0


@pytest.fixture(scope="module")
def proxy(agent: DevAgent, model_call_log: Path) -> Iterator[Proxy]:
    dead = f"http://127.0.0.1:{free_port()}"
    many = {"breaker_failure_threshold": 1000}
    config = {
        "model_list": [mock_model("mock")],
        "guardrails": [
            guardrail("af", agent.url, **many),
            guardrail("af-closed", agent.url, fail_open=False, **many),
            guardrail("af-dead-open", dead, **many),
            guardrail("af-dead-closed", dead, fail_open=False, **many),
            guardrail(
                "af-breaker",
                agent.url,
                fail_open=False,
                breaker_failure_threshold=3,
                breaker_recovery_seconds=BREAKER_RECOVERY_S,
            ),
            guardrail("af-wrong-secret", agent.url, client_secret=WRONG_SECRET, **many),
        ],
        "litellm_settings": {"callbacks": "tests.support.model_calls.recorder"},
    }
    env = {"MODEL_CALL_LOG": str(model_call_log), "LITELLM_LOG": "DEBUG"}
    with start_proxy(config, env=env) as running:
        yield running


def pre_checks(agent: DevAgent) -> list[dict[str, Any]]:
    return [r for r in agent.requests() if r["path"] == "/api/policy/pre-check"]


def test_allowed_call_is_audited_exactly_once(proxy: Proxy, agent: DevAgent) -> None:
    response = proxy.chat("Summarise the quarterly report", guardrails=["af"])
    assert response.status_code == 200, response.text
    call_id = response.headers.get("x-litellm-call-id")

    eventually(lambda: agent.audits())
    # A duplicate would be queued with the first; once a later call's audit has landed, it
    # would have landed too.
    later = proxy.chat("and another one", guardrails=["af"])
    later_id = later.headers.get("x-litellm-call-id")
    audits = eventually(
        lambda: (
            [a for a in agent.audits() if a["metadata"]["litellm_call_id"] == later_id]
            and agent.audits()
        )
    )
    mine = [a for a in audits if a["metadata"]["litellm_call_id"] == call_id]
    assert len(mine) == 1, audits
    assert len(audits) == 2, audits
    audit = mine[0]
    assert audit["model"]
    assert audit["provider"]
    assert audit["token_usage"]["total_tokens"] > 0
    assert audit["token_usage"]["prompt_tokens"] > 0
    assert audit["context_id"]


def test_pre_check_carries_identity_model_route_and_call_type(
    proxy: Proxy, agent: DevAgent
) -> None:
    response = proxy.chat("hello there", guardrails=["af"], user="end-user-7")
    assert response.status_code == 200, response.text
    body = pre_checks(agent)[0]["body"]
    assert body["query"] == "hello there"
    assert body["user_token"] == "anonymous"
    assert body["client_id"] == "litellm-test"
    context = body["context"]
    assert context["model"] == "mock"
    assert context["call_type"] == "acompletion"
    assert context["route"].endswith("/chat/completions")
    assert context["end_user_id"] == "end-user-7"
    assert context["litellm_call_id"] == response.headers.get("x-litellm-call-id")


def test_sql_injection_is_refused_before_the_model(
    proxy: Proxy, agent: DevAgent, model_call_log: Path
) -> None:
    response = proxy.chat(SQLI, guardrails=["af"])
    assert response.status_code == 400, response.text
    details = details_of(response)
    assert "sys_sqli_union_select" in details["policies"]
    assert details["code"] == "policy_denied"
    assert details["decision_id"]
    assert details["context_id"]
    assert "UNION" in error_of(response)["message"] or "SQL" in error_of(response)["message"]
    call_id = response.headers.get("x-litellm-call-id")
    calls = [c for c in read_model_calls(model_call_log) if c.get("litellm_call_id") == call_id]
    # LiteLLM logs a blocked request as a failure; a call that reached the model as a success.
    assert not [c for c in calls if c["kind"] == "success"]
    failure = eventually(
        lambda: [c for c in read_model_calls(model_call_log) if c.get("litellm_call_id") == call_id]
    )[0]
    ours = [g for g in failure["guardrail_information"] if g["guardrail_name"] == "af"]
    assert ours[0]["guardrail_status"] == "guardrail_intervened"
    assert agent.audits() == []


# (fault, fault fields, guardrail, expected status, expected code or None for 200)
UNAVAILABLE = [
    ("http-500", {"status": 500}),
    ("http-503", {"status": 503}),
    ("non-json", {"non_json": True}),
    ("malformed-200", {"malformed": True}),
    ("timeout", {"delay_s": 2.5}),
    ("dropped", {"drop": True}),
]


@pytest.mark.parametrize(("name", "fault"), UNAVAILABLE, ids=[u[0] for u in UNAVAILABLE])
@pytest.mark.parametrize(("guard", "status"), [("af", 200), ("af-closed", 503)])
def test_unavailability_follows_fail_open(
    proxy: Proxy, agent: DevAgent, name: str, fault: dict[str, Any], guard: str, status: int
) -> None:
    agent.set_fault("/api/policy/pre-check", **fault)
    started = time.monotonic()
    response = proxy.chat("a harmless question", guardrails=[guard])
    elapsed = time.monotonic() - started
    assert response.status_code == status, response.text
    if status == 503:
        assert details_of(response)["code"] == "governance_unavailable"
    # Never longer than call_timeout_seconds (plus a margin for a loaded 2-core machine).
    assert elapsed < TIMEOUT_S + 2.0
    assert len(pre_checks(agent)) == 1  # SDK retries are off


@pytest.mark.parametrize(("guard", "status"), [("af-dead-open", 200), ("af-dead-closed", 503)])
def test_refused_connection_follows_fail_open(proxy: Proxy, guard: str, status: int) -> None:
    response = proxy.chat("a harmless question", guardrails=[guard])
    assert response.status_code == status, response.text


REJECTIONS = [
    ("401", {"status": 401}, 403, "governance_rejected"),
    ("402", {"status": 402}, 402, "budget_exceeded"),
    ("403", {"status": 403}, 400, "policy_denied"),
]


@pytest.mark.parametrize(
    ("name", "fault", "status", "code"), REJECTIONS, ids=[r[0] for r in REJECTIONS]
)
@pytest.mark.parametrize("guard", ["af", "af-closed"])
def test_platform_rejections_always_fail_closed(
    proxy: Proxy,
    agent: DevAgent,
    name: str,
    fault: dict[str, Any],
    status: int,
    code: str,
    guard: str,
) -> None:
    agent.set_fault("/api/policy/pre-check", **fault)
    response = proxy.chat("a harmless question", guardrails=[guard])
    assert response.status_code == status, response.text
    assert details_of(response)["code"] == code


def test_wrong_credentials_fail_closed_even_with_fail_open(proxy: Proxy) -> None:
    response = proxy.chat("a harmless question", guardrails=["af-wrong-secret"])
    assert response.status_code == 403, response.text
    assert details_of(response)["code"] == "governance_rejected"


def test_breaker_opens_then_recovers_through_one_probe(proxy: Proxy, agent: DevAgent) -> None:
    """The breaker is per proxy worker (each process has its own): with N workers, N * 3
    failed pre-checks open them all, and each lets one probe through to recover."""
    threshold = 3
    expected = threshold * PROXY_WORKERS
    agent.set_fault("/api/policy/pre-check", status=503)
    for _ in range(100 * PROXY_WORKERS):
        assert proxy.chat("q", guardrails=["af-breaker"]).status_code == 503
        if len(pre_checks(agent)) >= expected:
            break
    assert len(pre_checks(agent)) == expected

    for _ in range(5 * PROXY_WORKERS):
        opened = proxy.chat("q", guardrails=["af-breaker"])
        assert opened.status_code == 503
        assert "circuit breaker open" in error_of(opened)["message"]
    assert len(pre_checks(agent)) == expected  # refused without calling AxonFlow

    agent.clear_faults()
    # Recovery is on the proxy's own clock: poll until a probe is let through.
    eventually(
        lambda: proxy.chat("q", guardrails=["af-breaker"]).status_code == 200,
        timeout_s=BREAKER_RECOVERY_S + 15,
    )
    # Exactly one probe per worker at most, and it closed that worker's breaker.
    assert expected + 1 <= len(pre_checks(agent)) <= expected + PROXY_WORKERS
    if PROXY_WORKERS == 1:
        assert proxy.chat("q", guardrails=["af-breaker"]).status_code == 200
    else:
        eventually(
            lambda: all(
                proxy.chat("q", guardrails=["af-breaker"]).status_code == 200
                for _ in range(4 * PROXY_WORKERS)
            ),
            timeout_s=BREAKER_RECOVERY_S + 15,
        )


def test_breaker_ignores_platform_rejections(proxy: Proxy, agent: DevAgent) -> None:
    agent.set_fault("/api/policy/pre-check", status=401)
    for _ in range(5):
        assert proxy.chat("q", guardrails=["af-breaker"]).status_code == 403
    assert len(pre_checks(agent)) == 5  # still calling: rejections never open the breaker


def guardrail_information(model_call_log: Path, call_id: str | None) -> list[dict[str, Any]]:
    """LiteLLM's guardrail records for a call that reached the model, once it is logged."""

    def logged() -> list[dict[str, Any]]:
        return [
            c
            for c in read_model_calls(model_call_log)
            if c["kind"] == "success" and c.get("litellm_call_id") == call_id
        ]

    return list(eventually(logged)[0]["guardrail_information"] or [])


def test_decisions_reach_litellm_guardrail_logging(proxy: Proxy, model_call_log: Path) -> None:
    response = proxy.chat("log me", guardrails=["af"])
    info = guardrail_information(model_call_log, response.headers.get("x-litellm-call-id"))
    ours = [g for g in info if g.get("guardrail_name") == "af"]
    assert ours
    assert ours[0]["guardrail_status"] == "success"
    assert ours[0]["guardrail_provider"] == "axonflow"
    assert ours[0]["guardrail_response"]["decision_id"]


def test_fail_open_pass_is_recorded_as_such(proxy: Proxy, model_call_log: Path) -> None:
    response = proxy.chat("fail open please", guardrails=["af-dead-open"])
    info = guardrail_information(model_call_log, response.headers.get("x-litellm-call-id"))
    ours = [g for g in info if g.get("guardrail_name") == "af-dead-open"]
    assert ours[0]["guardrail_status"] == "guardrail_failed_to_respond"
    assert ours[0]["guardrail_response"]["fail_open"] is True


def test_no_secret_in_any_guardrail_log_line(proxy: Proxy) -> None:
    proxy.chat("a harmless question", guardrails=["af"])
    proxy.chat(SQLI, guardrails=["af"])
    ours = [line for line in proxy.output().splitlines() if "axonflow" in line.lower()]
    assert ours, "the guardrail logged nothing at debug level"
    for line in ours:
        assert SECRET not in line
        assert WRONG_SECRET not in line
        assert "Basic " not in line
        assert SQLI not in line or "DEBUG" in line  # prompts only at debug level


def test_bad_config_aborts_startup_naming_the_key(agent: DevAgent) -> None:
    config = {
        "model_list": [mock_model("mock")],
        "guardrails": [guardrail("af", agent.url, fail_opn=False)],
    }
    code, output = run_proxy_expecting_failure(config)
    assert code is not None, output[-2000:]
    assert code != 0, output[-2000:]
    assert "fail_opn" in output
