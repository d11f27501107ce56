"""What the guardrail does once, when LiteLLM builds it from the proxy YAML.

LiteLLM builds a guardrail with every key of its `litellm_params` plus about 45 defaults of its
own: the guardrail's settings are picked out by name (`_settings`), LiteLLM's go to its base
class. A mode the guardrail cannot serve, or a base-class argument LiteLLM's constructor
refuses, is a `ConfigurationError`: LiteLLM would skip a guardrail whose constructor raises
`ValueError`/`TypeError` and run ungoverned. Also here: the startup warnings about modes that
weaken governance, and one fix of LiteLLM's own behaviour (`stop_retrying_missing_otel`).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from collections.abc import Mapping
from typing import Any

from litellm.integrations.custom_guardrail import CustomGuardrail
from litellm.types.guardrails import GuardrailEventHooks, LitellmParams

from axonflow_guardrail._log import log
from axonflow_guardrail._settings import ConfigurationError, GuardrailSettings

__all__ = [
    "BASE_INIT_PARAMS",
    "check_configuration",
    "log_ready",
    "read_configuration",
    "stop_retrying_missing_otel",
    "warn_about_modes",
]

SUPPORTED_HOOKS = (
    GuardrailEventHooks.pre_call,
    GuardrailEventHooks.during_call,
    GuardrailEventHooks.post_call,
    GuardrailEventHooks.pre_mcp_call,
    GuardrailEventHooks.during_mcp_call,
)
#: Keyword arguments LiteLLM may pass that are its base class's, not ours.
BASE_INIT_PARAMS = frozenset(
    name
    for name, p in inspect.signature(CustomGuardrail.__init__).parameters.items()
    if p.kind is not inspect.Parameter.VAR_KEYWORD and name != "self"
)
_LITELLM_KEYS = frozenset(LitellmParams.model_fields) | BASE_INIT_PARAMS


def read_configuration(
    kwargs: Mapping[str, Any],
) -> tuple[GuardrailSettings, frozenset[str], dict[str, Any]]:
    """The guardrail's settings, its modes, and the arguments for LiteLLM's base class."""
    settings = GuardrailSettings.from_litellm_params(
        {k: v for k, v in kwargs.items() if k not in BASE_INIT_PARAMS}, litellm_keys=_LITELLM_KEYS
    )
    event_hook = kwargs.get("event_hook")
    hooks = event_hook if isinstance(event_hook, list) else [event_hook]
    modes = [str(getattr(h, "value", h)) for h in hooks if h is not None]
    supported = {h.value for h in SUPPORTED_HOOKS}
    unsupported = [m for m in modes if m not in supported]
    if unsupported:
        raise ConfigurationError(
            f"axonflow guardrail: 'mode' {unsupported} is not supported; "
            f"use any of {sorted(supported)}"
        )
    return settings, frozenset(modes), {k: v for k, v in kwargs.items() if k in BASE_INIT_PARAMS}


def check_configuration(kwargs: Mapping[str, Any]) -> tuple[GuardrailSettings, frozenset[str]]:
    """Everything building the guardrail from `kwargs` checks, without building it (for
    `axonflow-guardrail doctor`). Raises `ConfigurationError`."""
    settings, modes, base_kwargs = read_configuration(kwargs)
    try:
        CustomGuardrail(**base_kwargs)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(f"axonflow guardrail: {exc}") from exc
    return settings, modes


def warn_about_modes(name: str, modes: frozenset[str], settings: GuardrailSettings) -> None:
    if "post_call" not in modes:
        log.warning(
            "axonflow guardrail %r: mode has no post_call, so calls are pre-checked but NOT "
            "audited and outputs are not checked",
            name,
        )
    if "during_call" in modes and "pre_call" not in modes and settings.redact_input:
        log.warning(
            "axonflow guardrail %r: mode during_call runs in parallel with the LLM call, so "
            "input redaction cannot apply: text a policy wants masked reaches the model "
            "unmasked (add pre_call to mask it)",
            name,
        )


def log_ready(name: str, settings: GuardrailSettings, modes: frozenset[str]) -> None:
    log.info(
        "axonflow guardrail %r ready: endpoint=%s client_id=%s mode=%s fail_open=%s enforcement=%s",
        name,
        settings.endpoint,
        settings.client_id,
        ",".join(sorted(modes)) or "-",
        settings.fail_open,
        settings.enforcement_mode,
    )


def stop_retrying_missing_otel() -> None:
    """Make LiteLLM's optional OTel import fail once, not on every guardrail record, when
    `opentelemetry-sdk` is not installed.

    `add_standard_logging_guardrail_information_to_request_data` (and LiteLLM's auth path)
    import `litellm.integrations.otel.logger` on every request, inside a try/except. Without
    `opentelemetry-sdk` (not part of `litellm[proxy]`) that import fails, and a failed import is
    retried in full each time. Recording the failure in `sys.modules` makes later imports fail at
    once, which is what they did anyway. Only when the SDK is really absent
    (`importlib.util.find_spec`): any other ImportError (a broken install, a missing transitive
    dependency) must stay visible, not silently turn OTel off for the worker. The proper fix is
    to install `opentelemetry-sdk` (the README's performance section; the Docker image does).
    """
    name = "litellm.integrations.otel.logger"
    if name in sys.modules or _otel_sdk_installed():
        return
    try:
        importlib.import_module(name)
    except ImportError:
        sys.modules[name] = None  # type: ignore[assignment]


def _otel_sdk_installed() -> bool:
    try:
        return importlib.util.find_spec("opentelemetry.sdk") is not None
    except (ImportError, ValueError):  # the `opentelemetry` namespace itself is absent
        return False
