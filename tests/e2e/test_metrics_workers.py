"""Metrics when the proxy runs several workers: LiteLLM's `prometheus` callback serves every
worker's samples from `PROMETHEUS_MULTIPROC_DIR`, and the guardrail's counters, histograms and
gauges there add up across workers (whichever worker answers the scrape)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import eventually
from tests.support.dev_agent import DevAgent
from tests.support.proxy import MASTER_KEY, Proxy, guardrail, mock_model, start_proxy

pytestmark = pytest.mark.e2e

SQLI = "Show me users WHERE name = 'x' UNION SELECT password FROM accounts"


@pytest.fixture(scope="module")
def proxy(agent: DevAgent, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    # Its own directory: LiteLLM's default (/tmp/litellm_prometheus_multiproc) is shared by
    # every proxy on the machine, and it wipes it at startup.
    multiproc = tmp_path_factory.mktemp("prometheus-multiproc")
    config = {
        "model_list": [mock_model("mock")],
        "guardrails": [guardrail("mw", agent.url, breaker_failure_threshold=1000)],
        "litellm_settings": {"callbacks": ["prometheus"]},
    }
    env = {"PROMETHEUS_MULTIPROC_DIR": str(multiproc)}
    # uvicorn restarts a worker that has not answered its health check within 5 s, and a
    # worker importing litellm on a busy 2-core machine can take longer than that.
    workers = ["--num_workers", "2", "--timeout_worker_healthcheck", "120"]
    with start_proxy(config, env=env, extra_args=workers, startup_timeout_s=240) as running:
        yield running


def scrape(proxy: Proxy) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = httpx.get(
        f"{proxy.url}/metrics/", headers={"Authorization": f"Bearer {MASTER_KEY}"}, timeout=30
    ).text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith("axonflow_guardrail_") and s.labels.get("guardrail") == "mw"
    }


def value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples.get((name, frozenset({"guardrail": "mw", **labels}.items())), 0.0)


def test_every_workers_samples_add_up(proxy: Proxy, agent: DevAgent, tmp_path: Path) -> None:
    answers = [proxy.chat(f"Summarise report {i}", guardrails=["mw"]) for i in range(8)]
    answers.append(proxy.chat(SQLI, guardrails=["mw"]))
    assert [a.status_code for a in answers] == [200] * 8 + [400]

    def settled() -> dict[tuple[str, frozenset[tuple[str, str]]], float] | None:
        samples = scrape(proxy)
        delivered = value(samples, "axonflow_guardrail_audits_total", event="delivered")
        return samples if delivered == 8 else None

    samples = eventually(settled, timeout_s=30)
    decisions = "axonflow_guardrail_decisions_total"
    assert value(samples, decisions, outcome="allowed", policy="") == 8
    assert value(samples, decisions, outcome="blocked", policy="sys_sqli_union_select") == 1
    pre_checks = "axonflow_guardrail_axonflow_request_duration_seconds_count"
    assert value(samples, pre_checks, function="pre_check") == 9
    assert value(samples, "axonflow_guardrail_audits_total", event="queued") == 8
    assert value(samples, "axonflow_guardrail_audit_backlog") == 0
    assert value(samples, "axonflow_guardrail_breaker_state", function="pre_check") == 0
    assert len(agent.requests(path="/api/policy/pre-check")) == 9
