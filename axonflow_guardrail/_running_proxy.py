"""The running proxy's config file, as LiteLLM recorded it (shared by the start-up steps).

At guardrail start-up LiteLLM has not yet published its `general_settings` or router, but it
has recorded the file's path; the start-up warnings and the audit outbox's Redis lookup read
the file from there. Outside a proxy (tests, the CLI) there is none: `{}`.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import yaml

__all__ = ["running_proxy_config"]


def running_proxy_config() -> Mapping[str, Any]:
    proxy_server = sys.modules.get("litellm.proxy.proxy_server")
    path = getattr(proxy_server, "user_config_file_path", None)
    if not isinstance(path, str) or not path:
        return {}
    try:
        with open(path, encoding="utf-8") as handle:
            config = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError):
        return {}
    return config if isinstance(config, Mapping) else {}
