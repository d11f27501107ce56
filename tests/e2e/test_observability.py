"""What operators see, end to end: the real proxy with LiteLLM's `prometheus` callback, the
dev agent, the `approvals` command.

A scripted set of calls (allowed, blocked, redacted, approved by a reviewer with
`axonflow-guardrail approvals approve`, fail-open with the agent stopped, then with the
breaker open) must move the guardrail's metrics on `/metrics` by exactly the documented
amounts; every governed answer names the guardrail in `x-litellm-applied-guardrails`
(`<name>:unscanned` when it failed open), on every route family and on streams; and the
client's W3C traceparent reaches every AxonFlow call while AxonFlow's trace id reaches the
guardrail's log line and LiteLLM's guardrail information.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import eventually
from tests.support.dev_agent import DevAgent, start_dev_agent
from tests.support.fake_llm import FakeLLM, fake_model
from tests.support.logged_payloads import read_logged_payloads
from tests.support.processes import BIN_DIR, free_port
from tests.support.proxy import MASTER_KEY, Proxy, guardrail, start_proxy
from tests.support.route_clients import PATHS, ROUTES, STREAM_ROUTES, body_for, stream_raw

pytestmark = pytest.mark.e2e

HEADER = "x-litellm-applied-guardrails"
SQLI = "Show me users WHERE name = 'x' UNION SELECT password FROM accounts"
SSN_PROMPT = "My SSN is 123-45-6789, what is my tax bracket?"
WIRE = "Please send a wire transfer of $5000 to account 42"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE}-00f067aa0ba902b7-01"
CREDENTIALS = {"AXONFLOW_CLIENT_ID": "litellm-test", "AXONFLOW_CLIENT_SECRET": "test-secret"}


@pytest.fixture(scope="module")
def down_agent() -> Iterator[DevAgent]:
    """The agent the fail-open calls lose (stopped by the test)."""
    with start_dev_agent(clients=[("litellm-test", "test-secret")]) as running:
        yield running


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logged") / "payloads.jsonl"


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLLM]:
    with FakeLLM() as running:
        yield running


@pytest.fixture(scope="module")
def proxy(agent: DevAgent, down_agent: DevAgent, llm: FakeLLM, logged: Path) -> Iterator[Proxy]:
    config = {
        "model_list": [fake_model("mock", llm), fake_model("embed", llm)],
        "guardrails": [
            guardrail(
                "obs",
                agent.url,
                approval_poll_interval_seconds=0.1,
                approval_max_wait_seconds=60,
                breaker_failure_threshold=1000,
            ),
            guardrail(
                "obs-down",
                down_agent.url,
                breaker_failure_threshold=2,
                breaker_recovery_seconds=600,
            ),
            guardrail("obs-dead", f"http://127.0.0.1:{free_port()}", breaker_recovery_seconds=600),
        ],
        "litellm_settings": {"callbacks": ["prometheus", "tests.support.logged_payloads.dumper"]},
    }
    env = {"LOGGED_PAYLOADS": str(logged), "LITELLM_LOG": "INFO"}
    with start_proxy(config, env=env) as running:
        yield running


# ---------------------------------------------------------------------- helpers


def scrape(proxy: Proxy) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = httpx.get(
        f"{proxy.url}/metrics/", headers={"Authorization": f"Bearer {MASTER_KEY}"}, timeout=30
    )
    assert response.status_code == 200, response.text
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name.startswith("axonflow_guardrail_"):
                samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def sample(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


#: A guardrail the client selected in the body is also listed by LiteLLM itself (it lists
#: every requested guardrail after the pre-call hooks): the marker says "not scanned".
UNSCANNED_DOWN = ["obs-down:unscanned", "obs-down"]
UNSCANNED_DEAD = ["obs-dead:unscanned", "obs-dead"]


def applied(response: Any) -> list[str]:
    value = response.headers.get(HEADER)
    return value.split(",") if value else []


def chat(proxy: Proxy, content: str, guard: str, **kwargs: Any) -> httpx.Response:
    return proxy.chat(content, guardrails=[guard], **kwargs)


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [str(BIN_DIR / "axonflow-guardrail"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def approve_when_held(agent: DevAgent) -> str:
    """The reviewer: find the held request with `approvals list`, look at it, approve it."""
    env = {**CREDENTIALS, "AXONFLOW_ENDPOINT": agent.url}

    def pending() -> list[dict[str, Any]]:
        listed = cli("approvals", "list", "--json", env=env)
        assert listed.returncode == 0, listed.stderr
        rows: list[dict[str, Any]] = json.loads(listed.stdout)["pending"]
        return rows

    (row,) = eventually(pending, timeout_s=30)
    assert row["policy"] == "demo_wire_transfer_approval"
    assert row["model"] == "mock"
    shown = cli("approvals", "show", row["id"], env=env)
    assert shown.returncode == 0, shown.stderr
    assert WIRE in shown.stdout
    approved = cli(
        "approvals", "approve", row["id"], "--reviewer-email", "rev@example.com", env=env
    )
    assert approved.returncode == 0, approved.stderr
    assert approved.stdout.startswith(f"approved {row['id']}")
    return str(row["id"])


# ---------------------------------------------------------------------- the scripted run


def test_scripted_calls_move_the_metrics_by_exactly_the_documented_counts(
    proxy: Proxy, agent: DevAgent, down_agent: DevAgent
) -> None:
    before = scrape(proxy)
    answers = [chat(proxy, "Summarise the quarterly report", "obs") for _ in range(2)]
    answers.append(chat(proxy, SQLI, "obs"))
    answers.append(chat(proxy, SSN_PROMPT, "obs"))

    held: dict[str, httpx.Response] = {}
    waiting = threading.Thread(target=lambda: held.update(r=chat(proxy, WIRE, "obs")))
    waiting.start()
    approval_id = approve_when_held(agent)
    waiting.join(timeout=60)
    answers.append(held["r"])

    down_agent.stop()
    answers += [chat(proxy, "Hello while AxonFlow is down", "obs-down") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 400, 200, 200, 200, 200, 200]
    eventually(lambda: len(agent.audits()) >= 4)  # allowed x2, redacted, approved

    after = scrape(proxy)

    def delta(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    decisions = "axonflow_guardrail_decisions_total"
    assert delta(decisions, guardrail="obs", outcome="allowed", policy="") == 2
    blocked = {"outcome": "blocked", "policy": "sys_sqli_union_select"}
    assert delta(decisions, guardrail="obs", **blocked) == 1
    assert delta(decisions, guardrail="obs", outcome="redacted", policy="sys_pii_ssn") == 1
    approval = {"outcome": "approval_required", "policy": "demo_wire_transfer_approval"}
    assert delta(decisions, guardrail="obs", **approval) == 1
    assert delta(decisions, guardrail="obs-down", outcome="fail_open", policy="") == 3

    calls = "axonflow_guardrail_axonflow_request_duration_seconds_count"
    # 2 allowed, blocked, redacted, approval asked and confirmed after the approval.
    assert delta(calls, guardrail="obs", function="pre_check") == 6
    assert delta(calls, guardrail="obs", function="check_input") == 1  # the masking
    assert delta(calls, guardrail="obs", function="approval") >= 2  # create, then polls
    assert delta(calls, guardrail="obs-down", function="pre_check") == 2  # then the breaker
    failures = "axonflow_guardrail_axonflow_failures_total"
    assert delta(failures, guardrail="obs-down", function="pre_check", kind="unavailable") == 2
    assert delta(failures, guardrail="obs", function="pre_check", kind="unavailable") == 0

    breaker = "axonflow_guardrail_breaker_state"
    state = {"guardrail": "obs-down", "function": "pre_check"}
    assert sample(after, breaker, **state) == 2  # open
    assert sample(after, breaker, guardrail="obs", function="pre_check") == 0  # closed
    opened = {"from_state": "closed", "to_state": "open"}
    assert delta("axonflow_guardrail_breaker_transitions_total", **state, **opened) == 1

    approvals = "axonflow_guardrail_approvals_total"
    assert delta(approvals, guardrail="obs", event="held") == 1
    assert delta(approvals, guardrail="obs", event="approved") == 1
    hold = "axonflow_guardrail_approval_hold_duration_seconds_count"
    assert delta(hold, guardrail="obs", outcome="approved") == 1
    assert sample(after, "axonflow_guardrail_approvals_waiting", guardrail="obs") == 0

    audits = "axonflow_guardrail_audits_total"
    delivered = {"guardrail": "obs", "event": "delivered"}

    def all_delivered() -> dict[Any, float] | None:
        now = scrape(proxy)
        return (
            now
            if sample(now, audits, **delivered) - sample(before, audits, **delivered) == 4
            else None
        )

    after = eventually(all_delivered)
    assert delta(audits, guardrail="obs", event="queued") == 4
    # Fail-open passes are kept in the outbox, to be pre-checked and audited after the fact;
    # their agent is down, so they wait (their retroactive pre-checks are counted apart).
    assert delta(audits, guardrail="obs-down", event="queued") == 3
    assert delta(audits, guardrail="obs-down", event="delivered") == 0
    depth = "axonflow_guardrail_audit_outbox_depth"  # sampled each second

    def outbox_settled() -> bool:
        now = scrape(proxy)
        return (
            sample(now, depth, guardrail="obs") == 0
            and sample(now, depth, guardrail="obs-down") == 3
        )

    eventually(outbox_settled)

    # The answers say who governed them, and which went through unscanned.
    assert [applied(a) for a in answers] == [["obs"]] * 5 + [UNSCANNED_DOWN] * 3
    assert approval_id in {a["metadata"].get("approval_request_id") for a in agent.audits()}


# ---------------------------------------------------------------------- the response header


@pytest.mark.parametrize("route", ROUTES)
def test_every_route_family_names_the_guardrail(proxy: Proxy, route: str) -> None:
    model = "embed" if route == "embeddings" else "mock"
    body = body_for(route, model=model, user="Summarise the quarterly report", guard="obs")
    response = proxy.post(PATHS[route], body)
    assert response.status_code == 200, response.text
    assert applied(response) == ["obs"]
    dead = body_for(route, model=model, user="Summarise the quarterly report", guard="obs-dead")
    failed_open = proxy.post(PATHS[route], dead)
    assert failed_open.status_code == 200, failed_open.text
    assert applied(failed_open) == UNSCANNED_DEAD


@pytest.mark.parametrize("route", STREAM_ROUTES)
def test_streams_name_the_guardrail(proxy: Proxy, route: str) -> None:
    governed = stream_raw(proxy, route, model="mock", user="Tell me a story", guard="obs")
    assert governed.status == 200, governed.text
    assert applied(governed) == ["obs"]
    unscanned = stream_raw(proxy, route, model="mock", user="Tell me a story", guard="obs-dead")
    assert unscanned.status == 200, unscanned.text
    assert applied(unscanned) == UNSCANNED_DEAD


def test_a_refusal_names_the_guardrail_too(proxy: Proxy) -> None:
    response = chat(proxy, SQLI, "obs")
    assert response.status_code == 400
    assert applied(response) == ["obs"]


# ---------------------------------------------------------------------- trace context


def test_the_clients_trace_reaches_axonflow_and_axonflows_trace_id_comes_back(
    proxy: Proxy, agent: DevAgent, logged: Path
) -> None:
    headers = {"traceparent": TRACEPARENT}
    allowed = chat(proxy, "Summarise the quarterly report", "obs", headers=headers)
    assert allowed.status_code == 200
    masked = chat(proxy, SSN_PROMPT, "obs", headers=headers)
    assert masked.status_code == 200
    denied = chat(proxy, SQLI, "obs", headers=headers)
    assert denied.status_code == 400
    eventually(lambda: len(agent.audits()) >= 2)

    sent = {r["path"]: r["headers"].get("traceparent") for r in agent.requests()}
    assert sent == {
        "/api/policy/pre-check": TRACEPARENT,
        "/api/v1/mcp/check-input": TRACEPARENT,
        "/api/audit/llm-call": TRACEPARENT,
    }
    # AxonFlow's trace id: in the refusal, the guardrail's log line, LiteLLM's record.
    assert denied.json()["error"]["provider_specific_fields"]["trace_id"] == TRACE
    assert eventually(lambda: f"trace_id={TRACE}" in proxy.output())
    call_id = allowed.headers["x-litellm-call-id"]

    def guardrail_information() -> list[Any]:
        for record in read_logged_payloads(logged):
            if record["litellm_call_id"] == call_id:
                return list(json.loads(record["standard_logging_object"])["guardrail_information"])
        return []

    (info,) = eventually(guardrail_information)
    assert info["guardrail_response"]["trace_id"] == TRACE


def test_without_a_traceparent_nothing_is_invented(proxy: Proxy, agent: DevAgent) -> None:
    response = chat(proxy, "Summarise the quarterly report", "obs")
    assert response.status_code == 200
    (pre_check,) = agent.requests(path="/api/policy/pre-check")
    assert "traceparent" not in pre_check["headers"]
