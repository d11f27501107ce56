"""The audit outbox when things stop: AxonFlow down past its context window, the proxy
stopped (SIGTERM) or killed (SIGKILL) with records waiting, `--num_workers 2` on one SQLite file,
and two proxy instances on one real Redis server, one of them killed with records in flight.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Any

import pytest
from pytest_redis import factories

from tests.e2e.conftest import eventually
from tests.support.audit_load import CallResult, run_load
from tests.support.dev_agent import DevAgent
from tests.support.proxy import Proxy, guardrail, mock_model, start_proxy

pytestmark = pytest.mark.e2e

AUDIT = "/api/audit/llm-call"
SQLI = "x UNION SELECT password FROM users"
FAST = {
    "audit_timeout_seconds": 2.0,
    "audit_retry_max_seconds": 0.3,
    "audit_outbox_lease_seconds": 2.0,
    "audit_outbox_sync_seconds": 0.2,
    "breaker_failure_threshold": 2,
    "breaker_recovery_seconds": 0.3,
}

redis_server = factories.redis_proc(port=None, save="", timeout=30)


def config(agent: DevAgent, **settings: Any) -> dict[str, Any]:
    return {
        "model_list": [mock_model("mock")],
        "guardrails": [guardrail("axonflow", agent.url, default_on=True, **{**FAST, **settings})],
    }


def all_audited(agent: DevAgent, calls: list[CallResult], *, before: dict[str, int]) -> None:
    """Every call that answered 200 has at least one audit (here, or before a restart)."""

    def missing() -> list[str]:
        counts = agent.audits_by_call()
        return [
            str(c.call_id)
            for c in calls
            if c.status == 200 and counts.get(str(c.call_id), 0) + before.get(str(c.call_id), 0) < 1
        ]

    try:
        eventually(lambda: not missing(), timeout_s=120)
    except AssertionError:
        raise AssertionError(f"calls never audited: {missing()}") from None


def kill(proxy: Proxy) -> None:
    os.killpg(proxy.process.proc.pid, signal.SIGKILL)
    proxy.process.proc.wait(timeout=10)


def test_calls_during_an_outage_longer_than_the_context_window_are_governed_after_it(
    agent: DevAgent, tmp_path: Path
) -> None:
    with start_proxy(config(agent, audit_outbox_path=str(tmp_path / "o.db"))) as proxy:
        agent.set_fault(AUDIT, status=503)  # audits of these calls wait, with live contexts
        before_outage = run_load(proxy.url, 8, kinds=("chat",))
        agent.stop()
        during = run_load(proxy.url, 12, prompt=lambda i: f"Outage call {i}")
        blocked = run_load(proxy.url, 1, kinds=("chat",), prompt=lambda i: SQLI)
        agent.start()  # same port, a fresh AxonFlow: it knows none of the old contexts
        agent.advance_clock(301)  # and its clock is past the window of anything earlier
        calls = before_outage + during + blocked
        assert [c.status for c in calls] == [200] * len(calls)  # fail_open: true
        all_audited(agent, calls, before={})
        output = proxy.output()
    by_call = {r["metadata"]["litellm_call_id"]: r for r in agent.audits(route="llm-call")}
    for call in during + blocked:
        meta = by_call[call.call_id]["metadata"]
        assert meta["failed_open"] is True
        assert meta["retroactive"] is True
        assert meta["original_decision_id"] is None  # there never was one
    for call in before_outage:
        meta = by_call[call.call_id]["metadata"]
        assert meta["retroactive"] is True
        assert meta["original_decision_id"]
    [sqli] = blocked
    meta = by_call[sqli.call_id]["metadata"]
    assert meta["retroactive_verdict"] == "deny"
    assert meta["would_have_blocked"] is True
    assert "sys_sqli_union_select" in meta["retroactive_policies"]
    assert f"call_id={sqli.call_id}" in output
    assert "would have been BLOCKED" in output
    assert all(by_call[c.call_id]["metadata"]["retroactive_verdict"] == "allow" for c in during)


def test_sigterm_then_sigkill_mid_load_lose_no_audit_of_an_answered_call(
    agent: DevAgent, tmp_path: Path
) -> None:
    """The issue's stop: a slow audit route, a burst, SIGTERM; then SIGKILL in a load."""
    settings = {"audit_outbox_path": str(tmp_path / "o.db")}
    agent.set_fault(AUDIT, delay_s=0.3)
    with start_proxy(config(agent, **settings)) as first:
        burst = run_load(first.url, 150, concurrency=16)
        first.process.stop()  # SIGTERM: a clean stop
        assert "Application shutdown complete" in first.output()
    delivered_before = agent.audits_by_call()
    with start_proxy(config(agent, **settings)) as second:
        answered: list[CallResult] = []
        enough = threading.Event()

        def note(result: CallResult) -> None:
            answered.append(result)
            if len(answered) >= 80:
                enough.set()

        killer = threading.Thread(target=lambda: enough.wait(120) and kill(second))
        killer.start()
        load = run_load(second.url, 200, concurrency=8, on_result=note)
        killer.join()
    assert any(c.status == 0 for c in load), "the proxy was not killed mid-load"
    delivered_before_restart = {**delivered_before}
    for key, value in agent.audits_by_call().items():
        delivered_before_restart[key] = value
    agent.clear_faults()
    agent.reset()  # only what the restarted proxy delivers counts from here on
    with start_proxy(config(agent, **settings)):
        all_audited(agent, burst + load, before=delivered_before_restart)


def test_two_workers_share_one_sqlite_outbox_and_audit_every_call_once(
    agent: DevAgent, tmp_path: Path
) -> None:
    """`litellm --num_workers 2` on one outbox file: every call audited exactly once."""
    settings = {"audit_outbox_path": str(tmp_path / "o.db")}
    with start_proxy(
        config(agent, **settings),
        extra_args=["--num_workers", "2"],
        # uvicorn kills a worker that does not answer its health ping within 5 s; importing
        # LiteLLM on a loaded 2-core machine takes longer (README "Several workers").
        env={"TIMEOUT_WORKER_HEALTHCHECK": "120", "LITELLM_LOG": "INFO"},
        startup_timeout_s=300,
    ) as proxy:
        calls: list[CallResult] = []
        threads = [
            threading.Thread(target=lambda: calls.extend(run_load(proxy.url, 60))) for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [c.status for c in calls] == [200] * 120
        all_audited(agent, calls, before={})
        counts = agent.audits_by_call()
        served_by = proxy.output().count("axonflow SDK client created")
    assert all(counts[str(c.call_id)] == 1 for c in calls)
    assert served_by >= 2, "both workers served calls (one SDK client each)"


@pytest.fixture
def redis_url(redis_server: Any) -> str:
    return f"redis://{redis_server.host}:{redis_server.port}/0"


def test_a_killed_instance_records_in_flight_are_delivered_by_the_other(
    agent: DevAgent, redis_url: str
) -> None:
    settings = {"audit_outbox": "redis", "audit_outbox_redis_url": redis_url}
    with (
        start_proxy(config(agent, **settings)) as doomed,
        start_proxy(config(agent, **settings)) as survivor,
    ):
        agent.set_fault(AUDIT, delay_s=1.5)  # every audit in flight for a while
        calls = run_load(doomed.url, 24, kinds=("chat", "messages"))
        eventually(lambda: len(agent.requests(path=AUDIT)) >= 4)  # claimed and in flight
        kill(doomed)
        agent.clear_faults()
        try:
            all_audited(agent, calls, before={})
        except AssertionError:
            print(survivor.output()[-4000:], doomed.output()[-4000:])
            raise
        assert survivor.process.proc.poll() is None
    counts = agent.audits_by_call()
    assert all(counts[str(c.call_id)] >= 1 for c in calls)
