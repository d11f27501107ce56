"""LiteLLM's failing OTel import is cached only when `opentelemetry-sdk` is really absent."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import importlib.util
import sys
from typing import Any

import pytest

from axonflow_guardrail import _startup

OTEL_LOGGER = "litellm.integrations.otel.logger"


@pytest.fixture
def _fresh_otel_import(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget any earlier outcome (the test's changes to sys.modules are undone after it)."""
    monkeypatch.delitem(sys.modules, OTEL_LOGGER, raising=False)


@pytest.mark.usefixtures("_fresh_otel_import")
def test_without_the_sdk_the_failed_import_is_recorded_once() -> None:
    assert importlib.util.find_spec("opentelemetry.sdk") is None  # as in litellm[proxy]
    _startup.stop_retrying_missing_otel()
    assert sys.modules[OTEL_LOGGER] is None
    with pytest.raises(ImportError):
        __import__(OTEL_LOGGER)


@pytest.mark.usefixtures("_fresh_otel_import")
def test_with_the_sdk_nothing_is_touched(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def sdk_present(name: str, *args: Any) -> Any:
        return object() if name == "opentelemetry.sdk" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", sdk_present)
    _startup.stop_retrying_missing_otel()
    assert OTEL_LOGGER not in sys.modules or sys.modules[OTEL_LOGGER] is not None
