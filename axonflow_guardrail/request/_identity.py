"""Who is calling, as AxonFlow should see it, and how strictly to govern them.

Everything that *lowers* governance is read from what the operator controls (the guardrail's
settings, and key or team metadata, which LiteLLM loads from its database or from
`custom_auth`), never from the request body or headers. The one client-supplied input is the
end-user token header, and only when the operator turns `allow_client_user_token` on (for
deployments whose gateway forwards end-user JWTs).

Key and team metadata are not only the operator's: LiteLLM lets a key's owner edit their own
key's metadata, and a team admin their team's. `min_enforcement_mode` is the floor they cannot
go below; only the team ids and key aliases the operator names in the guardrail's YAML can.

User tokens are secrets: `scrub_user_tokens` takes them out of every copy of the request that
LiteLLM hands to its logging callbacks and spend logs (see docs/enablement.md).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from axonflow_guardrail._log import log
from axonflow_guardrail._settings import (
    ENFORCEMENT_MODES,
    ENFORCEMENT_RANK,
    EnforcementMode,
    GuardrailSettings,
)
from axonflow_guardrail.request._floor import floor_exempt, warn_below_floor

__all__ = [
    "ENFORCEMENT_KEY",
    "USER_TOKEN_HEADER",
    "USER_TOKEN_KEY",
    "CallerIdentity",
    "request_headers",
    "resolve_identity",
    "scrub_user_tokens",
]

USER_TOKEN_HEADER = "x-axonflow-user-token"
ENFORCEMENT_KEY = "axonflow_enforcement_mode"
USER_TOKEN_KEY = "axonflow_user_token"
_REDACTED = "[redacted by axonflow guardrail]"
_ENV_REFERENCE = "os.environ/"
_ENV_TOKEN_PREFIX = "AXONFLOW_USER_TOKEN_"


@dataclass(frozen=True, slots=True, kw_only=True)
class CallerIdentity:
    user_token: str = field(repr=False)
    user_token_source: str
    enforcement_mode: EnforcementMode
    enforcement_source: str
    user_id: str | None = None
    team_id: str | None = None
    key_alias: str | None = None
    end_user_id: str | None = None
    org_id: str | None = None
    api_key_hash: str | None = None

    def context(self) -> dict[str, Any]:
        """LiteLLM's identity for the pre-check context (no secrets)."""
        return {
            "user_id": self.user_id,
            "team_id": self.team_id,
            "key_alias": self.key_alias,
            "end_user_id": self.end_user_id,
            "org_id": self.org_id,
        }

    def binding(self) -> str:
        """What an approval is bound to: the key if there is one, else user and team."""
        return self.api_key_hash or f"user:{self.user_id}|team:{self.team_id}"


def _metadata(obj: Any, name: str) -> Mapping[str, Any]:
    value = getattr(obj, name, None)
    return value if isinstance(value, Mapping) else {}


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() and value != _REDACTED else None


def request_headers(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """The client's request headers (lower-case names).

    Read from the proxy's unlogged raw copy (`secret_fields.raw_headers`, set by the proxy
    itself, never from the body) when there is one: the logged copies may already have been
    scrubbed by another AxonFlow guardrail on the same request.
    """
    for headers in (_raw_headers(data), _logged_headers(data)):
        if headers:
            return {str(k).lower(): v for k, v in headers.items()}
    return {}


def _raw_headers(data: Mapping[str, Any]) -> Mapping[str, Any] | None:
    secret = data.get("secret_fields")
    raw = secret.get("raw_headers") if isinstance(secret, Mapping) else None
    return raw if isinstance(raw, Mapping) else None


def _logged_headers(data: Mapping[str, Any]) -> Mapping[str, Any] | None:
    psr = data.get("proxy_server_request")
    headers = psr.get("headers") if isinstance(psr, Mapping) else None
    return headers if isinstance(headers, Mapping) else None


# Where LiteLLM keeps per-request copies that reach its logs, spend logs and every logging
# callback: the request record (headers, body snapshot) and the metadata buckets, which
# hold the client's headers (`headers`, `requester_metadata.headers`) and the key's and
# team's metadata (`user_api_key_metadata`, `user_api_key_team_metadata`,
# `user_api_key_auth_metadata`, and the `user_api_key_auth` object itself).
_LOGGED_CONTAINERS = ("metadata", "litellm_metadata", "proxy_server_request")
_MODEL_METADATA_FIELDS = ("metadata", "team_metadata", "project_metadata", "organization_metadata")
_MAX_DEPTH = 8
_LEAF_TYPES = frozenset({str, int, float, bool, type(None), list, tuple})


def scrub_user_tokens(data: MutableMapping[str, Any]) -> None:
    """Replace every end-user token in the proxy's logged copies of this request.

    Covers the `x-axonflow-user-token` header and the `axonflow_user_token` value LiteLLM
    copies from key and team metadata into the request's metadata. Copy-on-write below the
    top level: nested dicts and the `user_api_key_auth` object may be shared with LiteLLM's
    key cache, so they are replaced by scrubbed copies, never changed in place. The copy
    forwarded upstream and `secret_fields` (never logged) are not touched.
    """
    for name in _LOGGED_CONTAINERS:
        container = data.get(name)
        if isinstance(container, MutableMapping):
            for key in list(container):
                value = container[key]
                if _is_secret_entry(key, value):
                    container[key] = _REDACTED
                    continue
                scrubbed = _scrubbed(value, 1)
                if scrubbed is not value:
                    container[key] = scrubbed


def _is_secret_entry(key: Any, value: Any) -> bool:
    if not isinstance(value, str) or value == _REDACTED:
        return False
    name = str(key).lower()
    return name in (USER_TOKEN_HEADER, USER_TOKEN_KEY)


def _scrubbed(value: Any, depth: int) -> Any:
    """`value`, or a scrubbed copy of it if it holds a token (only mappings are searched)."""
    if type(value) in _LEAF_TYPES or depth > _MAX_DEPTH:
        return value  # most values: decided without the (slow) ABC checks below
    if isinstance(value, Mapping):
        changed: dict[Any, Any] | None = None
        for key, item in value.items():
            new = _REDACTED if _is_secret_entry(key, item) else _scrubbed(item, depth + 1)
            if new is not item:
                if changed is None:
                    changed = dict(value)
                changed[key] = new
        return value if changed is None else changed
    copy_model = getattr(value, "model_copy", None)
    if callable(copy_model):  # a pydantic model such as UserAPIKeyAuth
        update: dict[str, Any] = {}
        for field_name in _MODEL_METADATA_FIELDS:
            current = getattr(value, field_name, None)
            if isinstance(current, Mapping):
                new = _scrubbed(current, depth + 1)
                if new is not current:
                    update[field_name] = new
        if update:
            return copy_model(update=update)
    return value


def resolve_identity(
    *, user_api_key_dict: Any, data: Mapping[str, Any], settings: GuardrailSettings
) -> CallerIdentity:
    """Identity and enforcement level for one request.

    Enforcement: key metadata, else team metadata, else the guardrail's `enforcement_mode`
    (an unrecognised value at key or team level enforces). User token: key metadata, else
    team metadata, else the client header (only if allowed), else `default_user_token`.

    Only `user_api_key_dict` (what LiteLLM authenticated) is read for settings, never the
    request data: on some routes and hooks a client can put look-alike keys there.
    """
    key_meta = _metadata(user_api_key_dict, "metadata")
    team_meta = _metadata(user_api_key_dict, "team_metadata")

    mode: EnforcementMode = settings.enforcement_mode
    mode_source = "guardrail"
    for source, meta in (("key", key_meta), ("team", team_meta)):
        raw = meta.get(ENFORCEMENT_KEY)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue
        value = raw.strip().lower() if isinstance(raw, str) else None
        if value in ENFORCEMENT_MODES:
            mode, mode_source = value, source
        else:
            # A typo must not fall through to a laxer team or guardrail setting.
            log.warning(
                "axonflow: %s metadata has %s=%r, which is not one of %s; enforcing",
                source,
                ENFORCEMENT_KEY,
                raw,
                ", ".join(ENFORCEMENT_MODES),
            )
            mode, mode_source = "enforce", f"{source}:invalid"
        break

    user_id = _string(getattr(user_api_key_dict, "user_id", None))
    team_id = _string(getattr(user_api_key_dict, "team_id", None))
    key_alias = _string(getattr(user_api_key_dict, "key_alias", None))
    api_key_hash = _string(getattr(user_api_key_dict, "api_key", None)) or _string(
        getattr(user_api_key_dict, "token", None)
    )
    floor = settings.min_enforcement_mode
    if ENFORCEMENT_RANK[mode] < ENFORCEMENT_RANK[floor] and not floor_exempt(
        settings, team_id=team_id, key_alias=key_alias
    ):
        warn_below_floor(
            who=api_key_hash or f"user:{user_id}|team:{team_id}",
            key_alias=key_alias,
            team_id=team_id,
            requested=mode,
            source=f"{mode_source} metadata",
            floor=floor,
        )
        mode, mode_source = floor, "floor"

    token, token_source = settings.default_user_token, "default"
    for source, meta in (("key_metadata", key_meta), ("team_metadata", team_meta)):
        candidate = _string(meta.get(USER_TOKEN_KEY))
        if candidate is not None:
            token, token_source = _dereferenced(candidate, source, settings)
            break
    else:
        if settings.allow_client_user_token:
            header = _string(request_headers(data).get(USER_TOKEN_HEADER))
            if header is not None:
                token, token_source = header, "client_header"

    return CallerIdentity(
        user_token=token,
        user_token_source=token_source,
        enforcement_mode=mode,
        enforcement_source=mode_source,
        user_id=user_id,
        team_id=team_id,
        key_alias=key_alias,
        end_user_id=_string(getattr(user_api_key_dict, "end_user_id", None))
        or _string(data.get("user")),
        org_id=_string(getattr(user_api_key_dict, "org_id", None)),
        api_key_hash=api_key_hash,
    )


def _dereferenced(value: str, source: str, settings: GuardrailSettings) -> tuple[str, str]:
    """A metadata token, or the one its `os.environ/AXONFLOW_USER_TOKEN_*` reference names.

    Key and team metadata are shown as stored to the key's holder and owner and to team
    members (`/key/info`, the admin UI): a reference keeps the token itself out of the database.
    Only variables named `AXONFLOW_USER_TOKEN_*` can be referenced: whoever can edit a key's
    metadata must not be able to send the proxy's other secrets to AxonFlow. A reference to
    another or an unset variable is a mistake: the default token is used and the mistake
    logged (by name, never a value).
    """
    if not value.startswith(_ENV_REFERENCE):
        return value, source
    name = value[len(_ENV_REFERENCE) :]
    resolved = _string(os.environ.get(name)) if name.startswith(_ENV_TOKEN_PREFIX) else None
    if resolved is None:
        log.warning(
            "axonflow: %s %s names the environment variable %r, which is %s; using "
            "default_user_token",
            source,
            USER_TOKEN_KEY,
            name,
            "not set" if name.startswith(_ENV_TOKEN_PREFIX) else f"not {_ENV_TOKEN_PREFIX}*",
        )
        return settings.default_user_token, f"{source}:unresolved"
    return resolved, source
