"""The LiteLLM release check: fallbacks and what the guardrail says at startup."""

from __future__ import annotations

import logging

import pytest

from axonflow_guardrail import _litellm_compat as compat
from axonflow_guardrail._litellm_compat import (
    DIFFERENCES,
    LiteLLMRelease,
    differences_for,
)


def release(text: str) -> LiteLLMRelease:
    return LiteLLMRelease(text=text, numbers=tuple(int(p) for p in text.split(".")))


def test_fallback_bucket_follows_litellms_rule() -> None:
    data: dict[str, object] = {"litellm_metadata": {"a": 1}, "metadata": {"user": "x"}}
    name, bucket = compat._fallback_bucket(data)
    assert name == "litellm_metadata"
    assert bucket is data["litellm_metadata"]
    fresh: dict[str, object] = {"metadata": "not a dict"}
    name, bucket = compat._fallback_bucket(fresh)
    assert (name, bucket) == ("metadata", {})
    assert fresh["metadata"] is bucket


def test_metadata_bucket_matches_litellms_helper_on_this_release() -> None:
    data: dict[str, object] = {}
    assert compat.metadata_bucket(data) == compat._fallback_bucket({})
    assert data == {"metadata": {}}


def test_compromised_and_old_releases_are_recognised() -> None:
    assert release("1.107.0").compromised
    assert release("1.82.7").compromised
    assert not release("1.106.2").compromised
    assert release("1.83.14").below_floor
    assert not release("1.84.0").below_floor


def test_differences_apply_only_to_older_releases_and_configured_modes() -> None:
    assert differences_for(release("1.106.2"), ["pre_call", "post_call", "pre_mcp_call"]) == []
    old = differences_for(release("1.84.0"), ["pre_call"])
    assert DIFFERENCES["anthropic_refusal_envelope"] in old
    assert DIFFERENCES["mcp_hook_once"] not in old  # no MCP mode configured
    assert DIFFERENCES["chat_stream_usage"] not in old  # no post_call
    assert DIFFERENCES["model_guardrail_public_name"] in old  # any mode
    middle = differences_for(release("1.100.5"), ["pre_mcp_call"])
    assert middle == [DIFFERENCES["mcp_hook_once"]]
    for difference in DIFFERENCES.values():
        assert difference.last_old < difference.since


def test_startup_names_the_release_and_each_difference(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(compat, "litellm_release", lambda: release("1.94.1"))
    caplog.set_level(logging.INFO, logger=compat.log.name)
    compat.check_litellm_release(modes=["pre_call", "post_call"])
    text = caplog.text
    assert "running on litellm 1.94.1" in text
    assert "OpenAI's error envelope" in text
    assert "usage_estimated" in text
    assert "MCP" not in text


def test_compromised_release_is_an_error_at_startup(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(compat, "litellm_release", lambda: release("1.107.0"))
    caplog.set_level(logging.INFO, logger=compat.log.name)
    compat.check_litellm_release(modes=["pre_call"])
    assert any(r.levelno == logging.ERROR and "compromised" in r.message for r in caplog.records)
