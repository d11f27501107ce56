"""Who is calling, as AxonFlow should see it, and how strictly to govern them.

Everything that *lowers* governance is read from what the operator controls (the guardrail's
settings, and key or team metadata, which LiteLLM loads from its database or from
`custom_auth`), never from the request body or headers. The one client-supplied input is the
end-user token header, and only when the operator turns `allow_client_user_token` on (for
deployments whose gateway forwards end-user JWTs).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any, cast

from axonflow_guardrail._settings import ENFORCEMENT_MODES, EnforcementMode, GuardrailSettings

__all__ = [
    "USER_TOKEN_HEADER",
    "CallerIdentity",
    "request_headers",
    "resolve_identity",
    "scrub_user_token_header",
]

USER_TOKEN_HEADER = "x-axonflow-user-token"
ENFORCEMENT_KEY = "axonflow_enforcement_mode"
USER_TOKEN_KEY = "axonflow_user_token"
_REDACTED = "[redacted by axonflow guardrail]"


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
    return value if isinstance(value, str) and value.strip() else None


def request_headers(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """The client's request headers as the proxy recorded them (lower-case names)."""
    psr = data.get("proxy_server_request")
    headers = psr.get("headers") if isinstance(psr, Mapping) else None
    if not isinstance(headers, Mapping):
        return {}
    return {str(k).lower(): v for k, v in headers.items()}


def scrub_user_token_header(data: MutableMapping[str, Any]) -> None:
    """Replace the end-user token in the proxy's stored header copies.

    LiteLLM keeps those copies for its logs and spend records; a user token must not land
    there. The copy forwarded upstream is not touched (it never carries this header to the
    model provider unless the operator forwards all headers).
    """
    containers: list[Any] = [data.get("proxy_server_request")]
    for bucket in ("metadata", "litellm_metadata"):
        containers.append(data.get(bucket))
    for container in containers:
        if not isinstance(container, MutableMapping):
            continue
        headers = container.get("headers")
        if isinstance(headers, MutableMapping):
            for name in list(headers):
                if str(name).lower() == USER_TOKEN_HEADER:
                    headers[name] = _REDACTED


def resolve_identity(
    *, user_api_key_dict: Any, data: Mapping[str, Any], settings: GuardrailSettings
) -> CallerIdentity:
    """Identity and enforcement level for one request.

    Enforcement: key metadata, else team metadata, else the guardrail's `enforcement_mode`.
    User token: key metadata, else team metadata, else the client header (only if allowed),
    else `default_user_token`.
    """
    key_meta = _metadata(user_api_key_dict, "metadata")
    team_meta = _metadata(user_api_key_dict, "team_metadata")

    mode: EnforcementMode = settings.enforcement_mode
    mode_source = "guardrail"
    for source, meta in (("key", key_meta), ("team", team_meta)):
        raw = _string(meta.get(ENFORCEMENT_KEY))
        if raw is not None and raw.lower() in ENFORCEMENT_MODES:
            mode, mode_source = cast(EnforcementMode, raw.lower()), source
            break

    token, token_source = settings.default_user_token, "default"
    for source, meta in (("key_metadata", key_meta), ("team_metadata", team_meta)):
        candidate = _string(meta.get(USER_TOKEN_KEY))
        if candidate is not None:
            token, token_source = candidate, source
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
        user_id=_string(getattr(user_api_key_dict, "user_id", None)),
        team_id=_string(getattr(user_api_key_dict, "team_id", None)),
        key_alias=_string(getattr(user_api_key_dict, "key_alias", None)),
        end_user_id=_string(getattr(user_api_key_dict, "end_user_id", None))
        or _string(data.get("user")),
        org_id=_string(getattr(user_api_key_dict, "org_id", None)),
        api_key_hash=_string(getattr(user_api_key_dict, "api_key", None))
        or _string(getattr(user_api_key_dict, "token", None)),
    )
