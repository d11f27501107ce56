"""The enforcement floor: no key or team metadata takes a request below `min_enforcement_mode`.

Why: in LiteLLM, a key's owner (and the key itself, through `/key/update`) can write the key's
metadata: `axonflow_enforcement_mode: off` or `opted_out_global_guardrails: [axonflow]` would
switch governance off for them. With a floor, only the teams and key aliases the operator names
in the guardrail's YAML may go lower; anyone else is governed at the floor, and warned about
once per key. `disable_global_guardrails` is honoured: only proxy admins can set it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from axonflow_guardrail._log import log
from axonflow_guardrail._settings import GuardrailSettings

__all__ = [
    "floor_exempt",
    "floor_keeps_opted_out_caller",
    "opt_out_overridden",
    "warn_below_floor",
    "without_opt_out",
]


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def floor_exempt(
    settings: GuardrailSettings, *, team_id: str | None, key_alias: str | None
) -> bool:
    return (team_id is not None and team_id in settings.enforcement_floor_exempt_teams) or (
        key_alias is not None and key_alias in settings.enforcement_floor_exempt_key_aliases
    )


# Who was already warned about asking for less than the floor: (key, level asked for).
# Bounded: forgotten wholesale when full, which at worst repeats a warning.
_warned_below_floor: set[tuple[str, str]] = set()
_MAX_WARNED = 10_000


def warn_below_floor(
    *,
    who: str,
    key_alias: str | None,
    team_id: str | None,
    requested: str,
    source: str,
    floor: str,
) -> None:
    if (who, requested) in _warned_below_floor:
        return
    if len(_warned_below_floor) >= _MAX_WARNED:
        _warned_below_floor.clear()
    _warned_below_floor.add((who, requested))
    log.warning(
        "axonflow: %s asks for enforcement %r, below min_enforcement_mode %r; not allowed "
        "(key_alias=%s team_id=%s; exempt a team or key alias in the guardrail's YAML to "
        "allow it). Logged once per key.",
        source,
        requested,
        floor,
        key_alias,
        team_id,
    )


def floor_keeps_opted_out_caller(data: Mapping[str, Any], settings: GuardrailSettings) -> bool:
    """Does the floor override a key's or team's `opted_out_global_guardrails` for this call?

    LiteLLM skips a `default_on` guardrail named in key or team metadata
    `opted_out_global_guardrails`, which a key's owner can set on their own key. With a floor,
    only exempt teams and key aliases may opt out; anyone else is governed as if they had not
    opted out (and warned about once). Read from the metadata the proxy stamped
    (`user_api_key_*`, which it strips from what clients send), where LiteLLM reads the opt-out.
    """
    if settings.min_enforcement_mode == "off":
        return False
    found: dict[str, str] = {}
    for name in ("metadata", "litellm_metadata"):
        bucket = data.get(name)
        if isinstance(bucket, Mapping):
            for field_name in ("user_api_key_team_id", "user_api_key_alias", "user_api_key_hash"):
                value = _string(bucket.get(field_name))
                if value is not None:
                    found.setdefault(field_name, value)
    team_id = found.get("user_api_key_team_id")
    key_alias = found.get("user_api_key_alias")
    if floor_exempt(settings, team_id=team_id, key_alias=key_alias):
        return False
    warn_below_floor(
        who=found.get("user_api_key_hash") or f"team:{team_id}|alias:{key_alias}",
        key_alias=key_alias,
        team_id=team_id,
        requested="off",
        source="key or team opted_out_global_guardrails",
        floor=settings.min_enforcement_mode,
    )
    return True


def without_opt_out(data: Mapping[str, Any], guardrail_name: str) -> dict[str, Any]:
    """A shallow view of `data` in which key and team metadata do not opt out of the guardrail.

    For LiteLLM's own `should_run_guardrail` decision only; `data` itself is not changed.
    """
    view = dict(data)
    for name in ("metadata", "litellm_metadata"):
        bucket = data.get(name)
        if not isinstance(bucket, Mapping):
            continue
        copied = dict(bucket)
        for meta_name in ("user_api_key_metadata", "user_api_key_team_metadata"):
            meta = bucket.get(meta_name)
            opted_out = (
                meta.get("opted_out_global_guardrails") if isinstance(meta, Mapping) else None
            )
            if isinstance(meta, Mapping) and isinstance(opted_out, list):
                copied[meta_name] = {
                    **meta,
                    "opted_out_global_guardrails": [g for g in opted_out if g != guardrail_name],
                }
        view[name] = copied
    return view


def opt_out_overridden(
    guardrail: Any, data: Any, settings: GuardrailSettings
) -> dict[str, Any] | None:
    """`data` without the caller's opt-out of `guardrail` when the floor overrides it, else None.

    `guardrail` is a LiteLLM `CustomGuardrail` (its metadata readers decide what the caller
    asked for, as LiteLLM does).
    """
    if (
        guardrail.default_on is not True
        or not isinstance(data, dict)
        or guardrail.get_disable_global_guardrail(data) is True  # proxy admins only: honoured
        or guardrail.guardrail_name
        not in guardrail.get_opted_out_global_guardrails_from_metadata(data)
        or not floor_keeps_opted_out_caller(data, settings)
    ):
        return None
    return without_opt_out(data, guardrail.guardrail_name)
