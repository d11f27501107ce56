"""The proxy config as LiteLLM reads it: includes, environment_variables, `os.environ/` in
mappings (not in plain list items), and the keyword arguments LiteLLM builds for the guardrail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from axonflow_guardrail.cli._proxy_config import (
    ProxyConfigError,
    axonflow_entries,
    load_proxy_config,
)


def write(path: Path, config: Any) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def test_environment_references_includes_and_exported_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PC_SECRET", "s3")
    monkeypatch.setenv("PC_EXPORTED", "before")  # restored afterwards
    write(
        tmp_path / "extra.yaml",
        {
            "guardrails": [
                {
                    "guardrail_name": "af",
                    "litellm_params": {
                        "guardrail": "axonflow_guardrail.AxonFlowGuardrail",
                        "mode": "pre_call",
                        "endpoint": "os.environ/PC_EXPORTED",
                        "client_id": "c",
                        "api_key": "os.environ/PC_SECRET",
                        "extra_context": {"tags": ["os.environ/PC_SECRET"]},
                    },
                }
            ]
        },
    )
    config = load_proxy_config(
        write(
            tmp_path / "main.yaml",
            {
                "include": ["extra.yaml"],
                "environment_variables": {"PC_EXPORTED": "http://agent:8080"},
                "guardrails": [
                    {"guardrail_name": "p", "litellm_params": {"guardrail": "presidio"}}
                ],
            },
        )
    )
    entries = axonflow_entries(config, config_path=tmp_path / "main.yaml")
    assert [e.name for e in entries] == ["af"]
    (af,) = entries
    assert af.problem is None
    assert af.kwargs is not None
    assert af.kwargs["guardrail_name"] == "af"
    assert af.kwargs["event_hook"] == "pre_call"
    assert af.kwargs["default_on"] is False
    assert af.kwargs["endpoint"] == "http://agent:8080"
    assert af.kwargs["api_key"] == "s3"
    # LiteLLM resolves mappings, and mappings inside lists, never plain list items.
    assert af.kwargs["extra_context"] == {"tags": ["os.environ/PC_SECRET"]}
    assert "guardrail" not in af.kwargs
    assert af.set_keys >= {"endpoint", "client_id", "api_key"}


def test_what_litellm_would_skip_is_a_problem(tmp_path: Path) -> None:
    config = {
        "guardrails": [
            {
                "guardrail_name": "no-mode",
                "litellm_params": {"guardrail": "axonflow_guardrail.AxonFlowGuardrail"},
            },
            {
                "guardrail_name": "bad-type",
                "litellm_params": {
                    "guardrail": "axonflow_guardrail.AxonFlowGuardrail",
                    "mode": "pre_call",
                    "default_on": "sometimes",
                    "api_key": {"not": "a string"},
                },
            },
        ]
    }
    entries = axonflow_entries(config, config_path=tmp_path / "c.yaml")
    assert [(e.name, e.kwargs) for e in entries] == [("no-mode", None), ("bad-type", None)]
    assert entries[0].problem == (
        "LiteLLM cannot parse litellm_params ('mode': Field required) and would skip this guardrail"
    )
    assert "'default_on'" in (entries[1].problem or "")
    assert "'api_key'" in (entries[1].problem or "")
    assert "sometimes" not in (entries[1].problem or "")  # values may be secrets


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ProxyConfigError, match="cannot read"):
        load_proxy_config(tmp_path / "missing.yaml")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(ProxyConfigError, match="not a YAML mapping"):
        load_proxy_config(tmp_path / "list.yaml")
    write(tmp_path / "inc.yaml", {"include": ["nowhere.yaml"]})
    with pytest.raises(ProxyConfigError, match=r"nowhere\.yaml"):
        load_proxy_config(tmp_path / "inc.yaml")


def test_includes_on_releases_without_nested_includes(tmp_path: Path) -> None:
    """LiteLLM before `config_includes`: one level, next to the config, lists extended."""
    from axonflow_guardrail.cli._proxy_config import _with_includes_one_level

    write(tmp_path / "more.yaml", {"guardrails": [{"guardrail_name": "b"}], "general": 2})
    main = {"include": ["more.yaml"], "guardrails": [{"guardrail_name": "a"}], "general": 1}
    merged = _with_includes_one_level(main, str(tmp_path / "main.yaml"))
    assert merged == {
        "guardrails": [{"guardrail_name": "a"}, {"guardrail_name": "b"}],
        "general": 2,
    }
    with pytest.raises(FileNotFoundError):
        _with_includes_one_level({"include": ["gone.yaml"]}, str(tmp_path / "main.yaml"))
