"""A proxy with several workers (`litellm --num_workers 2`) sharing one real Redis.

What only shows with several processes: each worker builds its own SDK client (one, kept
alive), every call is audited exactly once whichever worker served it, and an approval is
spent once across workers through the proxy's Redis-backed cache. The end-to-end core also
runs against two workers (`make workers` runs `-m compat_core` with
AXONFLOW_TEST_PROXY_WORKERS=2); this module holds the checks that need the worker count known.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import redis

from axonflow_guardrail.gates.approvals._gate import SPENT_KEY_PREFIX
from tests.e2e.conftest import details_of, eventually
from tests.e2e.test_approvals import REVIEW, pending_id, reviewer, wire
from tests.support.dev_agent import DevAgent, start_dev_agent
from tests.support.processes import TEST_ENV
from tests.support.proxy import MASTER_KEY, Proxy, guardrail, mock_model, start_proxy

WORKERS = 2
CREATED = re.compile(r"axonflow SDK client created: pid=(\d+)")
SQLI = "x UNION SELECT password FROM users"


@pytest.fixture(scope="module")
def agent() -> Iterator[DevAgent]:
    with start_dev_agent(clients=[("litellm-test", "test-secret")]) as running:
        yield running


@pytest.fixture(autouse=True)
def _clean_agent(agent: DevAgent) -> None:
    agent.reset()


def config(agent: DevAgent) -> dict[str, Any]:
    return {
        "model_list": [mock_model("mock")],
        "guardrails": [
            guardrail(
                "af",
                agent.url,
                default_on=True,
                breaker_failure_threshold=1000,
                approval_max_wait_seconds=0,
            )
        ],
    }


@pytest.fixture(scope="module")
def proxy(agent: DevAgent, redis_url: str) -> Iterator[Proxy]:
    env = {**TEST_ENV, "LITELLM_LOG": "INFO"}
    with start_proxy(config(agent), env=env, workers=WORKERS) as running:
        yield running


def chat(proxy: Proxy, text: str, **headers: str) -> httpx.Response:
    """A request on a new connection, so the kernel may hand it to either worker."""
    body = {"model": "mock", "messages": [{"role": "user", "content": text}]}
    all_headers = {"Authorization": f"Bearer {MASTER_KEY}", **headers}
    with httpx.Client(timeout=30) as client:
        return client.post(f"{proxy.url}/v1/chat/completions", json=body, headers=all_headers)


def served_by_both_workers(proxy: Proxy) -> dict[str, int]:
    """Send requests until both workers have built their SDK client; pid -> clients built."""

    def both() -> dict[str, int] | None:
        assert chat(proxy, "hello").status_code == 200
        built = Counter(CREATED.findall(proxy.output()))
        return dict(built) if len(built) >= WORKERS else None

    return eventually(both, timeout_s=60)


def test_each_worker_builds_one_sdk_client_and_keeps_it(proxy: Proxy) -> None:
    served_by_both_workers(proxy)
    for i in range(30):
        assert chat(proxy, f"question {i}").status_code == 200
    built = Counter(CREATED.findall(proxy.output()))
    assert len(built) == WORKERS, built
    assert set(built.values()) == {1}, built  # one client per worker, never rebuilt


def test_blocks_on_every_worker(proxy: Proxy) -> None:
    served_by_both_workers(proxy)
    for _ in range(10):
        response = chat(proxy, SQLI)
        assert response.status_code == 400, response.text
        assert details_of(response)["code"] == "policy_denied"


def test_every_call_is_audited_exactly_once_across_workers(agent: DevAgent, redis_url: str) -> None:
    """Concurrent calls over both workers; the proxy is then stopped, which flushes every
    worker's audit queue, so the count is final: one audit per call, none twice."""
    env = {**TEST_ENV, "LITELLM_LOG": "INFO"}
    with start_proxy(config(agent), env=env, workers=WORKERS) as proxy:
        served_by_both_workers(proxy)
        agent.reset()
        with ThreadPoolExecutor(max_workers=8) as pool:
            responses = list(pool.map(lambda i: chat(proxy, f"call {i}"), range(40)))
        assert all(r.status_code == 200 for r in responses)
        call_ids = [r.headers["x-litellm-call-id"] for r in responses]
        eventually(lambda: len(agent.audits()) >= len(call_ids), timeout_s=30)
    # (audits of the warm-up calls may land after the reset: count every call id anyway)
    audited = Counter(a["metadata"]["litellm_call_id"] for a in agent.audits())
    assert set(call_ids) <= set(audited)
    assert set(audited.values()) == {1}, [c for c, n in audited.items() if n > 1]


async def test_an_approval_is_spent_once_across_workers(
    proxy: Proxy, agent: DevAgent, redis_url: str
) -> None:
    """Ten concurrent re-sends of one approved id over both workers: exactly one proceeds."""
    served_by_both_workers(proxy)
    prompt = wire("workers")
    approval_id = pending_id(chat(proxy, prompt))
    async with reviewer(agent) as sdk:
        await sdk.approve_hitl_request(approval_id, REVIEW)
    headers = {"x-axonflow-approval-id": approval_id}
    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(lambda _: chat(proxy, prompt, **headers), range(10)))
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: 1, 403: 9}, [r.text for r in responses]
    for refused in (r for r in responses if r.status_code == 403):
        assert details_of(refused)["code"] == "approval_invalid", refused.text
        assert details_of(refused)["reason"] == "spent", refused.text
    # And later, on whichever worker: still spent.
    for _ in range(4):
        again = chat(proxy, prompt, **headers)
        assert details_of(again)["reason"] == "spent", again.text
    # The use was recorded in the shared Redis, not only in one worker's memory.
    shared = redis.Redis.from_url(redis_url, socket_timeout=5)
    assert shared.exists(SPENT_KEY_PREFIX + approval_id) == 1
