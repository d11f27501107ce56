"""While the breaker is open: one loud line per window, with the count, not one per request."""

from __future__ import annotations

import logging

import pytest

from axonflow_guardrail.gates._pre_check import BreakerOpenLog


def test_first_refusal_is_logged_then_one_summary_per_window(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    breaker_log = BreakerOpenLog(window_seconds=10, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="LiteLLM Proxy.axonflow"):
        breaker_log.note(call_id="c0", passed=True)
        for i in range(1, 50):
            now[0] += 0.1
            breaker_log.note(call_id=f"c{i}", passed=True)
        now[0] = 10.5
        breaker_log.note(call_id="c-last", passed=True)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert "FAIL-OPEN" in lines[0]
    assert "c0" in lines[0]
    assert "50 request(s)" in lines[1]
    assert "c-last" in lines[1]


def test_fail_closed_summaries_are_errors(caplog: pytest.LogCaptureFixture) -> None:
    breaker_log = BreakerOpenLog(window_seconds=10, clock=lambda: 0.0)
    with caplog.at_level(logging.WARNING, logger="LiteLLM Proxy.axonflow"):
        breaker_log.note(call_id="c0", passed=False)
    assert caplog.records[0].levelno == logging.ERROR
    assert "refused (503)" in caplog.records[0].getMessage()
