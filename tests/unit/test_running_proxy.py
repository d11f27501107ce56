"""The running proxy's config file: read from the path LiteLLM recorded, `{}` without one."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from axonflow_guardrail._running_proxy import running_proxy_config


def _proxy_with(monkeypatch: pytest.MonkeyPatch, path: object) -> None:
    module = types.ModuleType("litellm.proxy.proxy_server")
    module.user_config_file_path = path  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "litellm.proxy.proxy_server", module)


def test_the_recorded_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "litellm_config.yaml"
    config.write_text("router_settings:\n  redis_host: 127.0.0.1\n")
    _proxy_with(monkeypatch, str(config))
    assert running_proxy_config() == {"router_settings": {"redis_host": "127.0.0.1"}}


@pytest.mark.parametrize("content", [None, "- a list\n", "key: [unclosed\n"])
def test_no_file_a_missing_or_unusable_one_reads_as_empty(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, content: str | None
) -> None:
    config = tmp_path / "litellm_config.yaml"
    if content is not None:
        config.write_text(content)
    _proxy_with(monkeypatch, str(config))
    assert running_proxy_config() == {}
    _proxy_with(monkeypatch, None)
    assert running_proxy_config() == {}
