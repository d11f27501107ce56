"""The guardrail's settings, read from `litellm_params` in the proxy YAML and checked at startup.

LiteLLM builds a guardrail with every key of its `litellm_params` block *plus* about 45
defaults of unrelated built-in integrations. We pick our own keys by name, and we refuse any
other key that LiteLLM does not know either: that is an operator's typo (`fail_opn: false`),
and a typo in a governance layer must stop the proxy, not be ignored.

Every error is a `ConfigurationError` (a `RuntimeError`). LiteLLM *skips* a guardrail whose
constructor raises `ValueError` or `TypeError` and starts the proxy without it; any other
exception aborts startup, which is what a misconfigured governance layer must do.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal
from urllib.parse import urlparse

__all__ = ["ConfigurationError", "EnforcementMode", "GuardrailSettings", "UnverifiablePolicy"]

EnforcementMode = Literal["enforce", "audit", "off"]
ENFORCEMENT_MODES: tuple[EnforcementMode, ...] = ("enforce", "audit", "off")
UnverifiablePolicy = Literal["refuse", "placeholder"]
UNVERIFIABLE_POLICIES: tuple[UnverifiablePolicy, ...] = ("refuse", "placeholder")
#: How strict each level is: a floor keeps a request at or above its own rank.
ENFORCEMENT_RANK: Mapping[EnforcementMode, int] = {"off": 0, "audit": 1, "enforce": 2}

# LiteLLM's usual names, accepted as aliases so the entry reads like any other guardrail's.
_ALIASES: Mapping[str, str] = {"api_base": "endpoint", "api_key": "client_secret"}


class ConfigurationError(RuntimeError):
    """A setting in the guardrail's `litellm_params` is missing or wrong.

    Deliberately not a `ValueError`: LiteLLM would swallow that and run ungoverned.
    """


@dataclass(frozen=True, slots=True, kw_only=True)
class GuardrailSettings:
    """Everything an operator can set. Names and defaults follow `axonflow-litellm`'s table."""

    endpoint: str
    client_id: str
    client_secret: str = field(default="", repr=False)
    default_user_token: str = field(default="anonymous", repr=False)
    tenant_id: str | None = None
    fail_open: bool = True
    call_timeout_seconds: float = 5.0
    breaker_failure_threshold: int = 5
    breaker_recovery_seconds: float = 30.0
    enable_hitl_polling: bool = True
    approval_poll_interval_seconds: float = 2.0
    approval_max_wait_seconds: float = 300.0
    extra_context: Mapping[str, Any] = field(default_factory=dict)
    # Beyond the seed.
    enforcement_mode: EnforcementMode = "enforce"
    allow_client_user_token: bool = False
    check_output: bool = False
    redact_input: bool = True
    max_check_chars: int = 200_000
    audit_queue_size: int = 10_000
    audit_concurrency: int = 8
    #: Content that cannot be read as text (binary files, file ids, token ids): refused with
    #: `unverifiable_content` in enforce mode, or checked as a placeholder.
    unverifiable_content: UnverifiablePolicy = "refuse"
    #: A bug in the guardrail fails closed (503) unless this lets `fail_open` decide: a risk.
    fail_open_on_internal_error: bool = False
    # The floor below which key or team metadata cannot take a request, and who may go lower.
    min_enforcement_mode: EnforcementMode = "off"
    enforcement_floor_exempt_teams: frozenset[str] = frozenset()
    enforcement_floor_exempt_key_aliases: frozenset[str] = frozenset()

    @classmethod
    def field_names(cls) -> frozenset[str]:
        return frozenset(f.name for f in fields(cls))

    @classmethod
    def from_litellm_params(
        cls, params: Mapping[str, Any], *, litellm_keys: frozenset[str] = frozenset()
    ) -> GuardrailSettings:
        """Build settings from the guardrail's keyword arguments.

        `litellm_keys` are the keys LiteLLM itself defines (and may pass with defaults);
        they are ignored. Anything else we do not know is refused by name.
        """
        ours = cls.field_names()
        values: dict[str, Any] = {}
        for key, value in params.items():
            target = _ALIASES.get(key, key)
            if target in ours:
                if value is None:
                    continue
                if target in values and values[target] != value:
                    raise ConfigurationError(
                        f"axonflow guardrail: '{key}' and '{_alias_partner(key)}' are both set "
                        "and differ; set one of them"
                    )
                values[target] = value
            elif key not in litellm_keys:
                raise ConfigurationError(
                    f"axonflow guardrail: unknown setting '{key}' in litellm_params "
                    f"(known: {', '.join(sorted(ours | set(_ALIASES)))})"
                )
        return cls._validated(values)

    @classmethod
    def _validated(cls, raw: dict[str, Any]) -> GuardrailSettings:
        v: dict[str, Any] = {}
        endpoint = _text(raw, "endpoint", required=True).rstrip("/")
        parsed = urlparse(endpoint)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ConfigurationError(
                f"axonflow guardrail: 'endpoint' must be an http(s) URL, got {endpoint!r}"
            )
        v["endpoint"] = endpoint
        v["client_id"] = _text(raw, "client_id", required=True)
        for key in ("client_secret", "default_user_token"):
            if key in raw:
                v[key] = _text(raw, key, required=False)
        if v.get("default_user_token") == "":
            raise ConfigurationError("axonflow guardrail: 'default_user_token' must not be empty")
        if "tenant_id" in raw:
            v["tenant_id"] = _text(raw, "tenant_id", required=False) or None
        for key in (
            "fail_open",
            "enable_hitl_polling",
            "allow_client_user_token",
            "check_output",
            "redact_input",
            "fail_open_on_internal_error",
        ):
            if key in raw:
                v[key] = _bool(raw, key)
        for key, minimum in (
            ("call_timeout_seconds", 0.0),
            ("breaker_recovery_seconds", 0.0),
            ("approval_poll_interval_seconds", 0.0),
        ):
            if key in raw:
                v[key] = _number(raw, key, above=minimum)
        if "approval_max_wait_seconds" in raw:
            v["approval_max_wait_seconds"] = _number(raw, "approval_max_wait_seconds", at_least=0.0)
        for key in ("breaker_failure_threshold", "audit_queue_size", "audit_concurrency"):
            if key in raw:
                v[key] = _integer(raw, key, at_least=1)
        if "max_check_chars" in raw:
            v["max_check_chars"] = _integer(raw, "max_check_chars", at_least=0)
        if "extra_context" in raw:
            extra = raw["extra_context"]
            if not isinstance(extra, Mapping) or not all(isinstance(k, str) for k in extra):
                raise ConfigurationError(
                    "axonflow guardrail: 'extra_context' must be a mapping of names to values"
                )
            v["extra_context"] = dict(extra)
        for key, choices in (
            ("enforcement_mode", ENFORCEMENT_MODES),
            ("min_enforcement_mode", ENFORCEMENT_MODES),
            ("unverifiable_content", UNVERIFIABLE_POLICIES),
        ):
            if key in raw:
                v[key] = _choice(raw, key, choices)
        for key in ("enforcement_floor_exempt_teams", "enforcement_floor_exempt_key_aliases"):
            if key in raw:
                v[key] = _names(raw, key)
        _check_floor(v)
        return cls(**v)


def _names(raw: Mapping[str, Any], key: str) -> frozenset[str]:
    """A list of team ids or key aliases (a comma-separated string from os.environ/NAME)."""
    value = raw[key]
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(
        isinstance(item, str) and item.strip() for item in items
    ):
        raise ConfigurationError(
            f"axonflow guardrail: '{key}' must be a list of non-empty names, got {value!r}"
        )
    return frozenset(item.strip() for item in items)


def _check_floor(v: Mapping[str, Any]) -> None:
    """A floor the guardrail's own level breaks, or exemptions without a floor, are mistakes."""
    floor: EnforcementMode = v.get("min_enforcement_mode", "off")
    own: EnforcementMode = v.get("enforcement_mode", "enforce")
    if ENFORCEMENT_RANK[own] < ENFORCEMENT_RANK[floor]:
        raise ConfigurationError(
            f"axonflow guardrail: 'enforcement_mode' {own!r} is below 'min_enforcement_mode' "
            f"{floor!r}; raise it or lower the floor"
        )
    exempt = [
        key
        for key in ("enforcement_floor_exempt_teams", "enforcement_floor_exempt_key_aliases")
        if v.get(key)
    ]
    if exempt and floor == "off":
        raise ConfigurationError(
            f"axonflow guardrail: {' and '.join(repr(k) for k in exempt)} exempt callers from a "
            "floor, but 'min_enforcement_mode' is off (no floor); set it to audit or enforce"
        )


def _alias_partner(key: str) -> str:
    if key in _ALIASES:
        return _ALIASES[key]
    return next((alias for alias, target in _ALIASES.items() if target == key), key)


def _text(raw: Mapping[str, Any], key: str, *, required: bool) -> str:
    value = raw.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ConfigurationError(
                f"axonflow guardrail: '{key}' is required (an os.environ/NAME value whose "
                "variable is unset counts as missing)"
            )
        return ""
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise ConfigurationError(f"axonflow guardrail: '{key}' must be a string")
    return str(value).strip()


def _choice(raw: Mapping[str, Any], key: str, choices: tuple[str, ...]) -> str:
    value = _text(raw, key, required=True).lower()
    if value not in choices:
        raise ConfigurationError(
            f"axonflow guardrail: '{key}' must be one of {', '.join(choices)}, got {value!r}"
        )
    return value


def _bool(raw: Mapping[str, Any], key: str) -> bool:
    value = raw[key]
    if isinstance(value, bool):
        return value
    # Values from os.environ/NAME arrive as strings.
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "on"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("false", "0", "no", "off"):
        return False
    raise ConfigurationError(f"axonflow guardrail: '{key}' must be true or false, got {value!r}")


def _number(
    raw: Mapping[str, Any], key: str, *, above: float | None = None, at_least: float | None = None
) -> float:
    value = raw[key]
    try:
        if isinstance(value, bool):
            raise TypeError
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigurationError(
            f"axonflow guardrail: '{key}' must be a number, got {value!r}"
        ) from None
    if not math.isfinite(number):
        raise ConfigurationError(f"axonflow guardrail: '{key}' must be finite, got {value!r}")
    if above is not None and number <= above:
        raise ConfigurationError(f"axonflow guardrail: '{key}' must be greater than {above:g}")
    if at_least is not None and number < at_least:
        raise ConfigurationError(f"axonflow guardrail: '{key}' must be at least {at_least:g}")
    return number


def _integer(raw: Mapping[str, Any], key: str, *, at_least: int) -> int:
    value = raw[key]
    try:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise TypeError
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigurationError(
            f"axonflow guardrail: '{key}' must be a whole number, got {value!r}"
        ) from None
    if number < at_least:
        raise ConfigurationError(f"axonflow guardrail: '{key}' must be at least {at_least}")
    return number
