"""The durable audit outbox, end to end: the real proxy CLI, the dev agent, a SQLite outbox.

Faults on AxonFlow's audit route lose no audit, and duplicates come only from answers the
test made sure were lost; contexts that expired, and calls that passed on `fail_open` while
AxonFlow was down, are audited after the fact with a retroactive pre-check; a full outbox
refuses per the fail mode; dead letters are listed and retried by the CLI; an external
shipper (`ship-audits`) delivers what the workers only wrote.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from axonflow_guardrail.cli import main
from tests.e2e.conftest import details_of, eventually
from tests.support.audit_load import CallResult, run_load
from tests.support.dev_agent import DevAgent
from tests.support.processes import BIN_DIR
from tests.support.proxy import Proxy, guardrail, mock_model, start_proxy

pytestmark = pytest.mark.e2e

AUDIT = "/api/audit/llm-call"
SEND_TIMEOUT_S = 1.0
#: Fast test windows (settings, not sleeps): a lease of 2 s, retries at most 0.3 s apart.
FAST = {
    "audit_timeout_seconds": SEND_TIMEOUT_S,
    "audit_retry_max_seconds": 0.3,
    "audit_outbox_lease_seconds": 2.0,
    "audit_outbox_sync_seconds": 0.2,
    "breaker_recovery_seconds": 0.3,
}


def outbox_guardrail(name: str, agent: DevAgent, path: Path, **settings: Any) -> dict[str, Any]:
    return guardrail(
        name,
        agent.url,
        default_on=False,
        audit_outbox_path=str(path),
        **{**FAST, **settings},
    )


def cli(*args: str) -> dict[str, Any]:
    """`axonflow-guardrail <args> --json`, through the CLI's own entry point (in-process:
    a subprocess would pay litellm's import on every call; `ship-audits` runs as one)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main([*args, "--json"])
    assert code == 0, out.getvalue()
    result: dict[str, Any] = json.loads(out.getvalue())
    return result


def audited(agent: DevAgent, calls: list[CallResult]) -> dict[str, int]:
    """Until every call that answered 200 has an audit: audits per call id."""

    def probe() -> dict[str, int] | None:
        counts = agent.audits_by_call()
        missing = [c for c in calls if c.status == 200 and counts.get(str(c.call_id), 0) < 1]
        return None if missing else counts

    return eventually(probe, timeout_s=60)


@pytest.fixture(scope="module")
def proxy(agent: DevAgent, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    outboxes = tmp_path_factory.mktemp("outboxes")
    config = {
        "model_list": [mock_model("mock")],
        "guardrails": [
            outbox_guardrail("faults", agent, outboxes / "faults.db"),
            outbox_guardrail("open", agent, outboxes / "open.db", audit_outbox_max_records=3),
            outbox_guardrail(
                "closed",
                agent,
                outboxes / "closed.db",
                fail_open=False,
                audit_outbox_max_records=3,
            ),
            outbox_guardrail("dl", agent, outboxes / "dl.db"),
            outbox_guardrail("ext", agent, outboxes / "ext.db", audit_shipper="external"),
        ],
    }
    with start_proxy(config) as running:
        running.outboxes = outboxes  # type: ignore[attr-defined]
        yield running


def test_audit_route_faults_lose_no_audit_and_duplicates_only_follow_lost_answers(
    proxy: Proxy, agent: DevAgent
) -> None:
    faults: list[dict[str, Any]] = [
        {"status": 500},
        {"drop": True},
        {"status": 503},
        {"delay_s": SEND_TIMEOUT_S + 0.5},  # handled after the client gave up: answer lost
        {"drop": True, "after": True},  # stored, then the connection dropped: answer lost
        {"status": 502, "after": True},  # stored, then an error answer: answer lost
    ]
    stop = threading.Event()

    def cycle_faults() -> None:
        i = 0
        while not stop.wait(0.4):
            agent.set_fault(AUDIT, **faults[i % len(faults)])
            i += 1

    cycler = threading.Thread(target=cycle_faults)
    cycler.start()
    try:
        calls = run_load(
            proxy.url, 420, prompt=lambda i: f"Summarise item {i}", guardrails=["faults"]
        )
    finally:
        stop.set()
        cycler.join()
    agent.clear_faults()
    assert [c for c in calls if c.status != 200] == []
    counts = audited(agent, calls)

    # Which calls' audit answers were lost: the agent handled the request, the shipper never
    # saw the answer (`after` faults, and delays past the shipper's timeout).
    lost: dict[str, int] = {}
    for entry in agent.requests(path=AUDIT):
        fault = entry.get("fault") or ""
        if "after" in fault or f"delay={SEND_TIMEOUT_S + 0.5:g}s" in fault:
            call_id = ((entry["body"] or {}).get("metadata") or {}).get("litellm_call_id")
            lost[call_id] = lost.get(call_id, 0) + 1
    ours = {str(c.call_id) for c in calls}
    duplicates = {k: v - 1 for k, v in counts.items() if k in ours and v > 1}
    assert set(duplicates) <= set(lost), "a duplicate without a lost answer"
    assert all(duplicates[k] <= lost[k] for k in duplicates)
    assert lost, "the fault schedule lost no answer: the test did not test duplicates"
    print(
        f"\n{len(calls)} calls, {sum(counts[k] for k in ours)} audits, "
        f"{sum(duplicates.values())} duplicate(s) after {sum(lost.values())} lost answer(s)"
    )
    # Every audit names its record and call.
    for record in agent.audits(route="llm-call"):
        assert record["metadata"]["axonflow_record_id"]


def test_an_audit_held_past_the_context_window_gets_a_retroactive_context(
    proxy: Proxy, agent: DevAgent
) -> None:
    agent.set_fault(AUDIT, status=503)
    calls = run_load(
        proxy.url, 4, prompt=lambda i: f"Held audit {i}", kinds=("chat",), guardrails=["faults"]
    )
    decision_ids = {
        r["body"]["context"]["litellm_call_id"]: r
        for r in agent.requests(path="/api/policy/pre-check")
    }
    eventually(lambda: len(agent.requests(path=AUDIT)) >= 4)
    agent.advance_clock(301)  # AxonFlow's 5-minute window is over for those contexts
    agent.clear_faults()
    audited(agent, calls)
    for call in calls:
        [record] = [
            r
            for r in agent.audits(route="llm-call")
            if r["metadata"]["litellm_call_id"] == call.call_id
        ]
        meta = record["metadata"]
        assert meta["retroactive"] is True
        assert meta["retroactive_verdict"] == "allow"
        assert meta["original_decision_id"]
        assert record["context_id"] != meta["original_context_id"]
        assert call.call_id in decision_ids


def test_a_full_outbox_refuses_the_newest_record_when_failing_open(
    proxy: Proxy, agent: DevAgent
) -> None:
    agent.set_fault(AUDIT, status=503)
    for i in range(5):
        response = proxy.chat(f"Open call {i}", guardrails=["open"])
        assert response.status_code == 200
    assert "axonflow audit REFUSED: the audit outbox is full" in proxy.output()
    status = cli(
        "outbox",
        "status",
        "--outbox",
        str(proxy.outboxes / "open.db"),  # type: ignore[attr-defined]
        "--guardrail",
        "open",
    )
    assert status["pending"] == 3
    assert status["counters"]["refused_full"] == 2
    agent.clear_faults()


def test_a_full_outbox_refuses_new_calls_when_failing_closed(proxy: Proxy, agent: DevAgent) -> None:
    agent.set_fault(AUDIT, status=503)
    statuses = [proxy.chat(f"Closed call {i}", guardrails=["closed"]) for i in range(5)]
    assert [r.status_code for r in statuses[:3]] == [200, 200, 200]
    refused = statuses[-1]
    assert refused.status_code == 503
    assert details_of(refused)["code"] == "governance_unavailable"
    agent.clear_faults()
    # Room again once AxonFlow took the records.
    eventually(lambda: proxy.chat("Closed again", guardrails=["closed"]).status_code == 200)


def test_dead_letters_are_kept_listed_and_retried_by_the_cli(proxy: Proxy, agent: DevAgent) -> None:
    outbox = str(proxy.outboxes / "dl.db")  # type: ignore[attr-defined]
    agent.set_fault(AUDIT, status=422)  # a 4xx: AxonFlow refuses the record for good
    call_ids = [
        proxy.chat(f"Dead letter {i}", guardrails=["dl"]).headers["x-litellm-call-id"]
        for i in range(3)
    ]

    def letters() -> list[dict[str, Any]] | None:
        found = cli("outbox", "dead-letters", "--outbox", outbox, "--guardrail", "dl")
        return found["dead_letters"] if len(found["dead_letters"]) == 3 else None

    listed = eventually(letters, timeout_s=30)
    assert {d["call_id"] for d in listed} == set(call_ids)
    assert all("HTTP 422" in d["error"] for d in listed)
    agent.clear_faults()
    assert cli("outbox", "retry", "--all", "--outbox", outbox, "--guardrail", "dl")["retried"] == 3
    counts = eventually(
        lambda: (c := agent.audits_by_call()) and all(k in c for k in call_ids) and c
    )
    assert all(counts[k] == 1 for k in call_ids)
    status = cli("outbox", "status", "--outbox", outbox, "--guardrail", "dl")
    assert status["dead_letters"] == 0
    assert status["counters"]["dead_lettered"] == 3


def test_an_external_shipper_delivers_what_the_workers_only_wrote(
    proxy: Proxy, agent: DevAgent
) -> None:
    call_ids = [
        proxy.chat(f"External {i}", guardrails=["ext"]).headers["x-litellm-call-id"]
        for i in range(4)
    ]
    assert not any(k in agent.audits_by_call() for k in call_ids)  # the worker only wrote
    done = subprocess.run(
        [
            str(BIN_DIR / "axonflow-guardrail"),
            "ship-audits",
            "--once",
            "--config",
            str(proxy.config_path),
            "--guardrail",
            "ext",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    counts = agent.audits_by_call()
    assert all(counts.get(k) == 1 for k in call_ids), counts
