"""AxonFlow governance for LiteLLM Proxy.

Add to `litellm_config.yaml`::

    guardrails:
      - guardrail_name: axonflow
        litellm_params:
          guardrail: axonflow_guardrail.AxonFlowGuardrail
          mode: [pre_call, post_call]
          endpoint: os.environ/AXONFLOW_ENDPOINT
          client_id: os.environ/AXONFLOW_CLIENT_ID
          client_secret: os.environ/AXONFLOW_CLIENT_SECRET

The public surface is this module's `__all__`; everything else is private. Where a request is
checked, where approvals wait and where audits go: the package's rooms, each with a docstring
saying what lives there and what it may import (the README's "Where things happen" map):

- `_guardrail`: `AxonFlowGuardrail`, LiteLLM's hooks read as the request's journey;
- `request/`: what the request says and who sends it;
- `response/`: what the answer says;
- `gates/`: what a call must pass (pre-check, approvals, output check, streams, routes);
- `audit/`: what is remembered of a call and delivered to AxonFlow;
- `axonflow/`: every AxonFlow call, through the official SDK;
- `cli/`, `dev_agent/`: the `axonflow-guardrail` command and the local AxonFlow emulator.

The names below are imported on first use: the package also ships the `axonflow-guardrail
dev-agent` command, which must start fast and must not import litellm (seconds of import time
and, offline, network warnings before its first log line).
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from axonflow_guardrail._guardrail import AxonFlowGuardrail
    from axonflow_guardrail._settings import ConfigurationError

__all__ = ["AxonFlowGuardrail", "ConfigurationError", "__version__"]

try:
    __version__ = version("axonflow-guardrail")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

_HOMES = {"AxonFlowGuardrail": "_guardrail", "ConfigurationError": "_settings"}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'axonflow_guardrail' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"axonflow_guardrail.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
