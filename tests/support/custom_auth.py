"""Test keys and teams for the proxy without a database: `general_settings.custom_auth`.

LiteLLM's virtual keys live in Postgres (through Prisma, whose engines cannot be downloaded
here). The proxy also accepts a user-defined auth function and uses the `UserAPIKeyAuth` it
returns exactly as if it had been loaded from the database (key metadata, team metadata, ...)::

    general_settings:
      custom_auth: tests.support.custom_auth.user_api_key_auth

(the proxy subprocess runs with `PYTHONPATH=<repo root>`, see `tests.support.proxy`).

With `custom_auth` configured LiteLLM calls it for *every* authenticated request and no
longer checks the master key itself, so the master key is one of the entries below.

`KEYS` maps a bearer token to the `UserAPIKeyAuth` fields it authenticates as. `api_key` is
the bearer itself: `UserAPIKeyAuth` stores the hash of any `sk-` key, like a real virtual key.
Add your own entries with a prefix of your feature; keep the existing ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Request
from litellm.proxy._types import LitellmUserRoles, ProxyErrorTypes, ProxyException, UserAPIKeyAuth

from tests.support.proxy import MASTER_KEY

__all__ = ["KEYS", "user_api_key_auth"]

_AUDIT = {"axonflow_enforcement_mode": "audit"}
_OFF = {"axonflow_enforcement_mode": "off"}
_ENFORCE = {"axonflow_enforcement_mode": "enforce"}

#: bearer token -> UserAPIKeyAuth fields (besides api_key).
KEYS: dict[str, Mapping[str, Any]] = {
    MASTER_KEY: {"user_id": "proxy-admin", "user_role": LitellmUserRoles.PROXY_ADMIN},
    # ---- enablement (tests/e2e/test_enablement.py) ---------------------------------------
    # No AxonFlow settings anywhere: the guardrail's own enforcement_mode, default token.
    "sk-en-plain": {
        "user_id": "user-plain",
        "team_id": "team-plain",
        "key_alias": "plain-key",
        "org_id": "org-acme",
        "metadata": {},
        "team_metadata": {},
    },
    "sk-en-enforce": {
        "user_id": "user-enforce",
        "team_id": "team-plain",
        "key_alias": "enforce-key",
        "metadata": dict(_ENFORCE),
    },
    "sk-en-audit": {
        "user_id": "user-audit",
        "team_id": "team-plain",
        "key_alias": "audit-key",
        "org_id": "org-acme",
        "metadata": dict(_AUDIT),
    },
    "sk-en-off": {
        "user_id": "user-off",
        "team_id": "team-plain",
        "key_alias": "off-key",
        "metadata": dict(_OFF),
    },
    # The key says nothing: its team decides.
    "sk-en-team-audit": {
        "user_id": "user-team-audit",
        "team_id": "team-audit",
        "key_alias": "team-audit-key",
        "metadata": {},
        "team_metadata": dict(_AUDIT),
    },
    "sk-en-team-off": {
        "user_id": "user-team-off",
        "team_id": "team-off",
        "key_alias": "team-off-key",
        "metadata": {},
        "team_metadata": dict(_OFF),
    },
    # Key over team.
    "sk-en-key-enforce-team-off": {
        "user_id": "user-key-over-team",
        "team_id": "team-off",
        "key_alias": "key-over-team",
        "metadata": dict(_ENFORCE),
        "team_metadata": dict(_OFF),
    },
    # LiteLLM's own (open-source) opt-outs of a default_on guardrail.
    "sk-en-opted-out": {
        "user_id": "user-opted-out",
        "team_id": "team-plain",
        "key_alias": "opted-out-key",
        "metadata": {"opted_out_global_guardrails": ["axonflow"]},
    },
    "sk-en-disable-global": {
        "user_id": "user-disable-global",
        "team_id": "team-plain",
        "key_alias": "disable-global-key",
        "metadata": {"disable_global_guardrails": True},
    },
    "sk-en-team-opted-out": {
        "user_id": "user-team-opted-out",
        "team_id": "team-opted-out",
        "key_alias": "team-opted-out-key",
        "metadata": {},
        "team_metadata": {"opted_out_global_guardrails": ["axonflow"]},
    },
    # Opted out of the default_on guardrail, but enforcing wherever an AxonFlow guardrail
    # runs (per model, per request): the key's level beats the guardrail's own setting.
    "sk-en-solo-enforce": {
        "user_id": "user-solo-enforce",
        "team_id": "team-plain",
        "key_alias": "solo-enforce-key",
        "metadata": {
            "opted_out_global_guardrails": ["axonflow"],
            "axonflow_enforcement_mode": "enforce",
        },
    },
    # User tokens.
    "sk-en-key-token": {
        "user_id": "user-key-token",
        "team_id": "team-token",
        "key_alias": "key-token-key",
        "metadata": {"axonflow_user_token": "tok-key-5b1e"},
        "team_metadata": {"axonflow_user_token": "tok-team-8c2f"},
    },
    "sk-en-team-token": {
        "user_id": "user-team-token",
        "team_id": "team-token",
        "key_alias": "team-token-key",
        "metadata": {},
        "team_metadata": {"axonflow_user_token": "tok-team-8c2f"},
    },
    # ---- approvals (tests/e2e/test_approvals.py) ------------------------------------------
    # Two keys of the same user and team, and a key of someone else: an approval is bound
    # to the key that asked for it.
    "sk-ap-alice": {"user_id": "ap-alice", "team_id": "ap-payments", "key_alias": "ap-alice"},
    "sk-ap-alice-2": {"user_id": "ap-alice", "team_id": "ap-payments", "key_alias": "ap-alice-2"},
    "sk-ap-bob": {"user_id": "ap-bob", "team_id": "ap-ops", "key_alias": "ap-bob"},
}


async def user_api_key_auth(request: Request, api_key: str) -> UserAPIKeyAuth:
    """LiteLLM's `custom_auth` contract: the caller's key (bearer stripped) -> identity."""
    fields = KEYS.get(api_key)
    if fields is None:
        raise ProxyException(
            message="Authentication Error: unknown test key",
            type=ProxyErrorTypes.auth_error,
            param="api_key",
            code=401,
        )
    # Fresh dicts per request: LiteLLM and guardrails may write into what they are given.
    copied: dict[str, Any] = {
        k: dict(v) if isinstance(v, Mapping) else v for k, v in fields.items()
    }
    return UserAPIKeyAuth(api_key=api_key, **copied)
