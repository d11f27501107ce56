"""End-to-end fixtures: the real dev agent and the real `litellm` proxy CLI as subprocesses."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.support.dev_agent import DevAgent, start_dev_agent
from tests.support.processes import TEST_ENV

os.environ.update(TEST_ENV)

T = TypeVar("T")


@pytest.fixture(scope="module")
def agent() -> Iterator[DevAgent]:
    with start_dev_agent(clients=[("litellm-test", "test-secret")]) as running:
        yield running


@pytest.fixture(autouse=True)
def _clean_agent(request: pytest.FixtureRequest) -> None:
    """Every test starts from an empty agent (no requests, audits, faults; clock reset)."""
    if "agent" in request.fixturenames:
        request.getfixturevalue("agent").reset()


@pytest.fixture(scope="module")
def model_call_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("model-calls") / "calls.jsonl"


def eventually(probe: Callable[[], T | None], *, timeout_s: float = 10.0) -> T:
    """Poll `probe` until it returns something truthy (background work, e.g. audits)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s}s")
        time.sleep(0.02)


def error_of(response: Any) -> dict[str, Any]:
    """The OpenAI-style error object of a proxy response."""
    body = response.json()
    assert "error" in body, body
    return body["error"]


def details_of(response: Any) -> dict[str, Any]:
    """The guardrail's details, under `provider_specific_fields` (or the error itself)."""
    error = error_of(response)
    fields = error.get("provider_specific_fields") or {}
    return {**error, **fields}
