"""The proxy's `litellm_config.yaml`, read the way LiteLLM reads it, for the operator commands.

Why not just `yaml.safe_load`: what the guardrail receives is what LiteLLM makes of the file.
LiteLLM merges `include:` files, exports `environment_variables:`, resolves every
`os.environ/NAME` value (in mappings and in mappings inside lists, never in plain list items),
parses each guardrail's `litellm_params` with its own model and passes the guardrail
`guardrail_name`, `event_hook` (the mode), `default_on` and every other parameter that is not
None. This module does the same with LiteLLM's own helpers (`resolve_includes`, `get_secret`,
`holds_secret_pointer`, `LitellmParams`, `get_instance_fn`), so `doctor` validates the
arguments the guardrail would really get. Releases of the supported range that lack a helper
(`resolve_includes`, `holds_secret_pointer` and `with_tolerated_stream_scope` are newer than
1.100) get that release's own rule, done here. Importing litellm takes seconds: only the
commands that read a config file import this module.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["GuardrailEntry", "ProxyConfigError", "axonflow_entries", "load_proxy_config"]

#: What LiteLLM keeps out of the keyword arguments it passes to a custom guardrail.
_NOT_PASSED = frozenset({"guardrail", "mode", "default_on", "stream_scope"})
_MAX_DEPTH = 50


class ProxyConfigError(Exception):
    """The file cannot be read as a LiteLLM config (missing, not YAML, not a mapping)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GuardrailEntry:
    """One AxonFlow guardrail of the config, as LiteLLM would build it."""

    name: str
    #: The constructor's keyword arguments, or None when LiteLLM could not build them.
    kwargs: dict[str, Any] | None
    #: Why LiteLLM would skip or refuse the entry before the guardrail even sees it.
    problem: str | None = None
    #: The keys the operator set (after `os.environ/` resolution), to tell set from default.
    set_keys: frozenset[str] = field(default_factory=frozenset)


def load_proxy_config(path: Path) -> dict[str, Any]:
    """The config as LiteLLM resolves it; exports `environment_variables` into this process."""
    _offline_litellm()
    location = os.path.abspath(path)
    config = _read_yaml(Path(location))
    try:
        merged = _with_includes(config, location)
    except (OSError, ValueError) as exc:
        raise ProxyConfigError(str(exc)) from exc
    _export_environment_variables(merged)
    resolved = _resolved(merged, depth=0)
    assert isinstance(resolved, dict)
    return resolved


def axonflow_entries(config: Mapping[str, Any], *, config_path: Path) -> list[GuardrailEntry]:
    """The config's guardrails that are `AxonFlowGuardrail` (or a subclass), in YAML order."""
    entries = []
    for item in config.get("guardrails") or []:
        if not isinstance(item, Mapping):
            continue
        params = item.get("litellm_params")
        name = str(item.get("guardrail_name") or "")
        if isinstance(params, Mapping) and _is_axonflow(params.get("guardrail"), config_path):
            entries.append(_entry(name, params))
    return entries


def _with_includes(config: dict[str, Any], location: str) -> dict[str, Any]:
    try:
        from litellm.proxy.common_utils.config_includes import (
            resolve_include_file_path,
            resolve_includes,
        )
    except ImportError:  # releases before nested includes: one level, next to the config
        return _with_includes_one_level(config, location)

    async def read(included: str) -> Mapping[str, object]:
        return _read_yaml(Path(included))

    def resolve(include: str, declared_in: str) -> str:
        return resolve_include_file_path(include, declared_in, location)

    return asyncio.run(resolve_includes(config, location, resolve, read))


def _with_includes_one_level(config: dict[str, Any], location: str) -> dict[str, Any]:
    """`ProxyConfig._process_includes` of those releases: lists extended, the rest replaced."""
    includes = config.pop("include", None)
    if includes is None:
        return config
    if not isinstance(includes, list):
        raise ValueError("'include' must be a list of file paths")
    for include in includes:
        included = Path(os.path.dirname(location)) / str(include)
        if not included.exists():
            raise FileNotFoundError(f"Included file not found: {included}")
        for key, value in _read_yaml(included).items():
            if isinstance(value, list) and isinstance(config.get(key), list):
                config[key].extend(value)
            else:
                config[key] = value
    return config


def _entry(name: str, params: Mapping[str, Any]) -> GuardrailEntry:
    from litellm.types.guardrails import LitellmParams
    from pydantic import ValidationError

    set_keys = frozenset(k for k, v in params.items() if v is not None)
    try:
        parsed = LitellmParams(**_tolerated_stream_scope(params))
    except ValidationError as exc:
        # LiteLLM logs this and starts WITHOUT the guardrail (a ValueError at init). The
        # values stay out of the message: they may be secrets.
        errors = "; ".join(
            f"'{'.'.join(str(p) for p in error['loc'])}': {error['msg']}"
            for error in exc.errors(include_input=False, include_url=False)
        )
        problem = f"LiteLLM cannot parse litellm_params ({errors}) and would skip this guardrail"
        return GuardrailEntry(name=name, kwargs=None, problem=problem, set_keys=set_keys)
    if parsed.mode is None:
        problem = "'mode' is missing; LiteLLM would skip this guardrail"
        return GuardrailEntry(name=name, kwargs=None, problem=problem, set_keys=set_keys)
    extra = {k: v for k, v in parsed.model_dump(exclude_none=True).items() if k not in _NOT_PASSED}
    kwargs = {
        "guardrail_name": name,
        "event_hook": parsed.mode,
        "default_on": parsed.default_on,
        **extra,
    }
    return GuardrailEntry(name=name, kwargs=kwargs, set_keys=set_keys)


def _is_axonflow(guardrail: Any, config_path: Path) -> bool:
    """Whether LiteLLM would build an `AxonFlowGuardrail` for this `guardrail:` value."""
    if not isinstance(guardrail, str) or "." not in guardrail or "://" in guardrail:
        return False  # a built-in integration, or a remote module the doctor never loads
    from litellm.proxy.types_utils.utils import get_instance_fn

    from axonflow_guardrail._guardrail import AxonFlowGuardrail

    try:
        found = get_instance_fn(guardrail, config_file_path=str(config_path))
    except Exception:
        return False
    return isinstance(found, type) and issubclass(found, AxonFlowGuardrail)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProxyConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ProxyConfigError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(loaded, dict):
        raise ProxyConfigError(f"{path} is not a YAML mapping")
    return loaded


def _export_environment_variables(config: Mapping[str, Any]) -> None:
    """`environment_variables:` go into the environment before anything else, as in LiteLLM."""
    from litellm.secret_managers.main import get_secret_str

    variables = config.get("environment_variables")
    if not isinstance(variables, Mapping):
        return
    for key, value in variables.items():
        if isinstance(value, str) and value.startswith("os.environ/"):
            resolved = get_secret_str(secret_name=value)
            if resolved is not None:
                os.environ[str(key)] = resolved
        else:
            os.environ[str(key)] = str(value)


def _tolerated_stream_scope(params: Mapping[str, Any]) -> dict[str, Any]:
    try:
        from litellm.types.guardrails import with_tolerated_stream_scope
    except ImportError:  # releases without `stream_scope`
        return dict(params)
    return with_tolerated_stream_scope(params)


def _holds_secret_pointer(key: str) -> bool:
    try:
        from litellm.types.router import holds_secret_pointer
    except ImportError:  # releases without federated-identity pointers: every value resolves
        return False
    return bool(holds_secret_pointer(key))


def _resolved(value: Any, *, depth: int, key: str = "") -> Any:
    """`ProxyConfig._check_for_os_environ_vars`: mappings, and mappings inside lists."""
    from litellm.secret_managers.main import get_secret

    if depth > _MAX_DEPTH:
        return value
    if isinstance(value, Mapping):
        return {k: _resolved(v, depth=depth + 1, key=str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [
            _resolved(item, depth=depth + 1) if isinstance(item, Mapping) else item
            for item in value
        ]
    if (
        isinstance(value, str)
        and value.startswith("os.environ/")
        and not _holds_secret_pointer(key)
    ):
        return get_secret(value)
    return value


def _offline_litellm() -> None:
    """The doctor needs no model cost map: never let importing litellm fetch one."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
