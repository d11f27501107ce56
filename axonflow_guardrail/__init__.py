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

The names below are imported on first use: the package also ships the `axonflow-guardrail
dev-agent` command, which must start fast and must not import litellm (seconds of import time
and, offline, network warnings before its first log line).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from axonflow_guardrail._circuit_breaker import BreakerState, CircuitBreaker
    from axonflow_guardrail._errors import ErrorCode
    from axonflow_guardrail._guardrail import AxonFlowGuardrail
    from axonflow_guardrail._request_text import extract_request_text
    from axonflow_guardrail._settings import ConfigurationError, GuardrailSettings

__all__ = [
    "AxonFlowGuardrail",
    "BreakerState",
    "CircuitBreaker",
    "ConfigurationError",
    "ErrorCode",
    "GuardrailSettings",
    "extract_request_text",
]

_HOMES = {
    "AxonFlowGuardrail": "_guardrail",
    "BreakerState": "_circuit_breaker",
    "CircuitBreaker": "_circuit_breaker",
    "ConfigurationError": "_settings",
    "ErrorCode": "_errors",
    "GuardrailSettings": "_settings",
    "extract_request_text": "_request_text",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'axonflow_guardrail' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"axonflow_guardrail.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
