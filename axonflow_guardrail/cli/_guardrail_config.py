"""The guardrail's settings as the proxy reads them, for the outbox commands.

`ship-audits` and `outbox` must use what the proxy uses (the outbox path or Redis, the
AxonFlow endpoint and credentials, and the client secret that seals user tokens), so they
read the same `litellm_config.yaml` entry, `os.environ/NAME` values included. `--outbox`
overrides where the outbox is; without `--config`, the commands that need no AxonFlow work
from `--outbox` alone.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from axonflow_guardrail._settings import ConfigurationError, GuardrailSettings

__all__ = ["add_outbox_arguments", "load_settings"]

_GUARDRAIL_CLASS = "axonflow_guardrail.AxonFlowGuardrail"
_ALIASES = {"api_base", "api_key"}


def add_outbox_arguments(parser: argparse.ArgumentParser, *, config_required: bool) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        required=config_required,
        metavar="FILE",
        help="the proxy's litellm_config.yaml (the guardrail's settings and credentials)",
    )
    parser.add_argument(
        "--guardrail",
        metavar="NAME",
        help="the guardrail_name to use (default: the only AxonFlowGuardrail entry)",
    )
    parser.add_argument(
        "--outbox",
        metavar="PATH|URL",
        help="the outbox: a SQLite file or a redis:// URL (default: from the config)",
    )


def load_settings(args: argparse.Namespace) -> tuple[GuardrailSettings, str]:
    """The settings and the channel (guardrail name); raises `ConfigurationError`."""
    if args.config is None:
        channel = args.guardrail or "axonflow"
        return GuardrailSettings(endpoint="http://127.0.0.1", client_id="-"), channel
    try:
        config = yaml.safe_load(args.config.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"cannot read {args.config}: {exc}") from None
    entries = [
        entry
        for entry in (config or {}).get("guardrails") or []
        if isinstance(entry, Mapping)
        and (entry.get("litellm_params") or {}).get("guardrail") == _GUARDRAIL_CLASS
    ]
    if args.guardrail:
        entries = [e for e in entries if e.get("guardrail_name") == args.guardrail]
    if len(entries) != 1:
        names = ", ".join(str(e.get("guardrail_name")) for e in entries) or "none"
        raise ConfigurationError(
            f"{args.config}: need exactly one AxonFlowGuardrail entry (found: {names}); "
            "choose one with --guardrail NAME"
        )
    entry = entries[0]
    ours = GuardrailSettings.field_names() | _ALIASES
    params = {
        key: _resolved(value)
        for key, value in (entry.get("litellm_params") or {}).items()
        if key in ours
    }
    return GuardrailSettings.from_litellm_params(params), str(entry["guardrail_name"])


def _resolved(value: Any) -> Any:
    """`os.environ/NAME`, as LiteLLM resolves it (unset: None, i.e. not given)."""
    if isinstance(value, str) and value.startswith("os.environ/"):
        return os.environ.get(value.removeprefix("os.environ/"))
    return value
