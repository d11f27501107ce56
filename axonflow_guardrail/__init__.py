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
"""

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
