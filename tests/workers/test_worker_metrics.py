"""The guardrail's metrics with several workers: LiteLLM's `prometheus` callback serves every
worker's samples from `PROMETHEUS_MULTIPROC_DIR`, so whichever worker answers the scrape, the
guardrail's counters, histograms and gauges add up across workers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import eventually
from tests.support.dev_agent import DevAgent, start_dev_agent
from tests.support.processes import TEST_ENV
from tests.support.proxy import MASTER_KEY, Proxy, guardrail, mock_model, start_proxy
from tests.workers.test_workers import SQLI, WORKERS, chat, served_by_both_workers

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def agent() -> Iterator[DevAgent]:
    with start_dev_agent(clients=[("litellm-test", "test-secret")]) as running:
        yield running


@pytest.fixture(scope="module")
def proxy(
    agent: DevAgent, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    config: dict[str, Any] = {
        "model_list": [mock_model("mock")],
        "guardrails": [guardrail("mw", agent.url, default_on=True, breaker_failure_threshold=1000)],
        "litellm_settings": {"callbacks": ["prometheus"]},
    }
    # Its own directory: LiteLLM's default (/tmp/litellm_prometheus_multiproc) is shared by
    # every proxy on the machine, and LiteLLM wipes it at startup.
    multiproc = tmp_path_factory.mktemp("prometheus-multiproc")
    env = {**TEST_ENV, "LITELLM_LOG": "INFO", "PROMETHEUS_MULTIPROC_DIR": str(multiproc)}
    with start_proxy(config, env=env, workers=WORKERS) as running:
        yield running


def scrape(proxy: Proxy) -> Samples:
    text = httpx.get(
        f"{proxy.url}/metrics/", headers={"Authorization": f"Bearer {MASTER_KEY}"}, timeout=30
    ).text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith("axonflow_guardrail_") and s.labels.get("guardrail") == "mw"
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset({"guardrail": "mw", **labels}.items())), 0.0)


def test_every_workers_samples_add_up(proxy: Proxy, agent: DevAgent) -> None:
    served_by_both_workers(proxy)  # both workers have governed calls from here on
    audits = "axonflow_guardrail_audits_total"

    def settled(expected_delivered: float | None = None) -> Samples | None:
        samples = scrape(proxy)
        queued = value(samples, audits, event="queued")
        delivered = value(samples, audits, event="delivered")
        if delivered != queued or (
            expected_delivered is not None and delivered != expected_delivered
        ):
            return None
        return samples

    before = eventually(settled, timeout_s=30)
    answers = [chat(proxy, f"Summarise report {i}") for i in range(12)]
    answers.append(chat(proxy, SQLI))
    assert [a.status_code for a in answers] == [200] * 12 + [400]
    target = value(before, audits, event="delivered") + 12
    after = eventually(lambda: settled(target), timeout_s=30)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    decisions = "axonflow_guardrail_decisions_total"
    assert delta(decisions, outcome="allowed", policy="") == 12
    assert delta(decisions, outcome="blocked", policy="sys_sqli_union_select") == 1
    duration = "axonflow_guardrail_axonflow_request_duration_seconds_count"
    assert delta(duration, function="pre_check") == 13
    assert delta(audits, event="queued") == 12
    assert value(after, "axonflow_guardrail_audit_backlog") == 0
    assert value(after, "axonflow_guardrail_breaker_state", function="pre_check") == 0
    assert [a.headers.get("x-litellm-applied-guardrails") for a in answers] == ["mw"] * 13
