"""LiteLLM's management API, as an operator (or a key's owner) calls it: keys, teams, users,
models and spend logs in the proxy's database.

Every call raises with the proxy's answer when it is not a success, so a test never goes on
with a key or team that was not created. `as_key` makes the call with another bearer than the
master key: a user's or a virtual key's own rights, as LiteLLM checks them.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping
from typing import Any

import httpx

from tests.support.proxy import MASTER_KEY, Proxy

__all__ = ["Management", "ManagementError", "unique"]

_counter = itertools.count(1)


def unique(prefix: str) -> str:
    """A name no earlier test used (LiteLLM refuses a second key with the same alias)."""
    return f"{prefix}-{time.monotonic_ns() % 10**9}-{next(_counter)}"


class ManagementError(AssertionError):
    """The proxy refused a management call (status and body in the message)."""


class Management:
    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy
        self._http = httpx.Client(base_url=proxy.url, timeout=60.0, trust_env=False)

    def close(self) -> None:
        self._http.close()

    def call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        as_key: str = MASTER_KEY,
        params: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """One management call, whatever its status."""
        return self._http.request(
            method,
            path,
            json=dict(body) if body is not None else None,
            params=params,
            headers={"Authorization": f"Bearer {as_key}"},
        )

    def _ok(self, method: str, path: str, body: Mapping[str, Any] | None = None, **kw: Any) -> Any:
        response = self.call(method, path, body, **kw)
        if response.status_code != 200:
            raise ManagementError(f"{method} {path} -> {response.status_code}: {response.text}")
        return response.json()

    # ------------------------------------------------------------------ keys

    def generate_key(self, *, as_key: str = MASTER_KEY, **fields: Any) -> str:
        """`/key/generate`; the new key (`sk-...`)."""
        fields.setdefault("key_alias", unique("key"))
        return str(self._ok("POST", "/key/generate", fields, as_key=as_key)["key"])

    def update_key(self, key: str, *, as_key: str = MASTER_KEY, **fields: Any) -> dict[str, Any]:
        """`/key/update` (LiteLLM replaces `metadata` as a whole)."""
        result: dict[str, Any] = self._ok(
            "POST", "/key/update", {"key": key, **fields}, as_key=as_key
        )
        return result

    def key_info(self, key: str, *, as_key: str = MASTER_KEY) -> httpx.Response:
        return self.call("GET", "/key/info", params={"key": key}, as_key=as_key)

    # ------------------------------------------------------------------ teams and users

    def new_team(self, *, as_key: str = MASTER_KEY, **fields: Any) -> str:
        fields.setdefault("team_alias", unique("team"))
        return str(self._ok("POST", "/team/new", fields, as_key=as_key)["team_id"])

    def update_team(self, team_id: str, *, as_key: str = MASTER_KEY, **fields: Any) -> Any:
        return self._ok("POST", "/team/update", {"team_id": team_id, **fields}, as_key=as_key)

    def new_user(self, **fields: Any) -> tuple[str, str]:
        """`/user/new`: (user_id, the user's own key)."""
        fields.setdefault("user_id", unique("user"))
        fields.setdefault("user_role", "internal_user")
        created = self._ok("POST", "/user/new", fields)
        return str(created["user_id"]), str(created["key"])

    # ------------------------------------------------------------------ models and spend logs

    def new_model(self, name: str, litellm_params: Mapping[str, Any]) -> str:
        """`/model/new` (needs `store_model_in_db`); the model's id."""
        created = self._ok(
            "POST", "/model/new", {"model_name": name, "litellm_params": dict(litellm_params)}
        )
        return str(created["model_id"])

    def spend_logs(self, call_id: str) -> list[dict[str, Any]]:
        """Spend-log rows of one call (LiteLLM writes them in batches: poll for them)."""
        rows = self._ok("GET", "/spend/logs", params={"request_id": call_id})
        return [
            row
            for row in rows
            if row.get("request_id") == call_id
            or (row.get("metadata") or {}).get("litellm_call_id") == call_id
        ]
