"""Identity and enforcement level: precedence, what a client cannot change, token scrubbing."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import pytest
from litellm.proxy._types import UserAPIKeyAuth

from axonflow_guardrail._settings import GuardrailSettings
from axonflow_guardrail.request._identity import (
    USER_TOKEN_HEADER,
    request_headers,
    resolve_identity,
    scrub_user_tokens,
)


@dataclass
class Key:
    """What the hooks receive as `user_api_key_dict`, reduced to what identity reads."""

    metadata: dict[str, Any] | None = field(default_factory=dict)
    team_metadata: dict[str, Any] | None = None
    user_id: str | None = "u1"
    team_id: str | None = "t1"
    key_alias: str | None = "alias-1"
    end_user_id: str | None = None
    org_id: str | None = None
    api_key: str | None = "hashed-key"


def settings(**overrides: Any) -> GuardrailSettings:
    return GuardrailSettings.from_litellm_params(
        {"endpoint": "http://127.0.0.1:1", "client_id": "c", **overrides}
    )


def with_header(value: str) -> dict[str, Any]:
    return {"proxy_server_request": {"headers": {"X-AxonFlow-User-Token": value}}}


def mode(
    key: dict[str, Any] | None, team: dict[str, Any] | None, **guardrail: Any
) -> tuple[str, str]:
    identity = resolve_identity(
        user_api_key_dict=Key(metadata=key, team_metadata=team),
        data={},
        settings=settings(**guardrail),
    )
    return identity.enforcement_mode, identity.enforcement_source


# ---------------------------------------------------------------- enforcement level


@pytest.mark.parametrize(
    ("key", "team", "guardrail", "expected"),
    [
        ({}, None, {}, ("enforce", "guardrail")),
        (None, None, {"enforcement_mode": "audit"}, ("audit", "guardrail")),
        ({}, {}, {"enforcement_mode": "off"}, ("off", "guardrail")),
        ({}, {"axonflow_enforcement_mode": "audit"}, {}, ("audit", "team")),
        ({}, {"axonflow_enforcement_mode": "off"}, {"enforcement_mode": "audit"}, ("off", "team")),
        ({"axonflow_enforcement_mode": "off"}, None, {}, ("off", "key")),
        (
            {"axonflow_enforcement_mode": "enforce"},
            {"axonflow_enforcement_mode": "off"},
            {"enforcement_mode": "audit"},
            ("enforce", "key"),
        ),
        (
            {"axonflow_enforcement_mode": "audit"},
            {"axonflow_enforcement_mode": "enforce"},
            {},
            ("audit", "key"),
        ),
        # Case and whitespace as typed in the admin UI.
        ({"axonflow_enforcement_mode": " Audit "}, None, {}, ("audit", "key")),
        # An empty value means "not set".
        (
            {"axonflow_enforcement_mode": ""},
            {"axonflow_enforcement_mode": "audit"},
            {},
            ("audit", "team"),
        ),
        (
            {"axonflow_enforcement_mode": None},
            {"axonflow_enforcement_mode": "off"},
            {},
            ("off", "team"),
        ),
    ],
)
def test_key_over_team_over_guardrail(
    key: dict[str, Any] | None,
    team: dict[str, Any] | None,
    guardrail: dict[str, Any],
    expected: tuple[str, str],
) -> None:
    assert mode(key, team, **guardrail) == expected


@pytest.mark.parametrize("typo", ["enforced", "of", "shadow", True, 1, ["off"]])
def test_an_unrecognised_value_enforces_instead_of_falling_through(typo: Any) -> None:
    # The team says off and the guardrail says audit: a typo at key level must not reach them.
    assert mode(
        {"axonflow_enforcement_mode": typo},
        {"axonflow_enforcement_mode": "off"},
        enforcement_mode="audit",
    ) == ("enforce", "key:invalid")
    assert mode({}, {"axonflow_enforcement_mode": typo}, enforcement_mode="off") == (
        "enforce",
        "team:invalid",
    )


def test_nothing_in_the_request_lowers_the_level() -> None:
    """Only the authenticated key object is read: look-alike keys in the request are not."""
    forged = {
        "axonflow_enforcement_mode": "off",
        "disable_global_guardrails": True,
        "metadata": {
            "axonflow_enforcement_mode": "off",
            "user_api_key_metadata": {"axonflow_enforcement_mode": "off"},
            "user_api_key_team_metadata": {"axonflow_enforcement_mode": "off"},
            "user_api_key_auth": Key(metadata={"axonflow_enforcement_mode": "off"}),
        },
        "litellm_metadata": {"user_api_key_metadata": {"axonflow_enforcement_mode": "off"}},
        "proxy_server_request": {"headers": {"x-axonflow-enforcement-mode": "off"}},
    }
    identity = resolve_identity(user_api_key_dict=Key(), data=forged, settings=settings())
    assert (identity.enforcement_mode, identity.enforcement_source) == ("enforce", "guardrail")


def test_a_key_object_without_metadata_uses_the_guardrail_setting() -> None:
    class Bare:
        pass

    identity = resolve_identity(
        user_api_key_dict=Bare(), data={}, settings=settings(enforcement_mode="audit")
    )
    assert identity.enforcement_mode == "audit"
    assert identity.user_token == "anonymous"
    assert identity.context() == {
        "user_id": None,
        "team_id": None,
        "key_alias": None,
        "end_user_id": None,
        "org_id": None,
    }


# ---------------------------------------------------------------- user token


def token(
    key: dict[str, Any] | None,
    team: dict[str, Any] | None,
    data: dict[str, Any] | None = None,
    **guardrail: Any,
) -> tuple[str, str]:
    identity = resolve_identity(
        user_api_key_dict=Key(metadata=key, team_metadata=team),
        data=data or {},
        settings=settings(**guardrail),
    )
    return identity.user_token, identity.user_token_source


KEY_TOKEN = {"axonflow_user_token": "tok-key"}
TEAM_TOKEN = {"axonflow_user_token": "tok-team"}


@pytest.mark.parametrize("allowed", [False, True])
def test_key_token_wins_over_team_header_and_default(allowed: bool) -> None:
    assert token(
        KEY_TOKEN,
        TEAM_TOKEN,
        with_header("tok-header"),
        allow_client_user_token=allowed,
        default_user_token="tok-default",
    ) == ("tok-key", "key_metadata")


@pytest.mark.parametrize("allowed", [False, True])
def test_team_token_when_the_key_has_none(allowed: bool) -> None:
    assert token({}, TEAM_TOKEN, with_header("tok-header"), allow_client_user_token=allowed) == (
        "tok-team",
        "team_metadata",
    )


def test_client_header_is_ignored_unless_the_operator_allows_it() -> None:
    data = with_header("tok-header")
    assert token({}, {}, data, default_user_token="tok-default") == ("tok-default", "default")
    assert token({}, {}, data, allow_client_user_token=True) == ("tok-header", "client_header")


def test_default_token_without_any_source() -> None:
    assert token(None, None, allow_client_user_token=True) == ("anonymous", "default")
    assert token({}, {}, default_user_token="tok-default") == ("tok-default", "default")


@pytest.mark.parametrize("blank", ["", "   ", None, 42])
def test_blank_or_non_string_tokens_are_not_set(blank: Any) -> None:
    assert token({"axonflow_user_token": blank}, TEAM_TOKEN) == ("tok-team", "team_metadata")


def test_the_header_is_read_from_the_unlogged_raw_copy_first() -> None:
    """Another AxonFlow guardrail on the same request may have scrubbed the logged copies."""
    data: dict[str, Any] = {
        "secret_fields": {"raw_headers": {USER_TOKEN_HEADER: "tok-raw"}},
        "proxy_server_request": {"headers": {USER_TOKEN_HEADER: "tok-logged"}},
    }
    assert token({}, {}, data, allow_client_user_token=True) == ("tok-raw", "client_header")
    scrub_user_tokens(data)
    assert token({}, {}, data, allow_client_user_token=True) == ("tok-raw", "client_header")
    del data["secret_fields"]
    # Only a scrubbed copy left: treated as no header, not as a token.
    assert token({}, {}, data, allow_client_user_token=True) == ("anonymous", "default")


def test_request_headers_are_lower_cased() -> None:
    assert request_headers(with_header("v")) == {USER_TOKEN_HEADER: "v"}
    assert request_headers({}) == {}


# ---------------------------------------------------------------- identity context


def test_context_carries_litellm_identity_and_never_the_token() -> None:
    identity = resolve_identity(
        user_api_key_dict=Key(metadata=KEY_TOKEN, org_id="org-1", end_user_id="eu-key"),
        data={"user": "eu-body"},
        settings=settings(),
    )
    assert identity.context() == {
        "user_id": "u1",
        "team_id": "t1",
        "key_alias": "alias-1",
        "end_user_id": "eu-key",
        "org_id": "org-1",
    }
    assert "tok-key" not in repr(identity)
    assert identity.binding() == "hashed-key"


def test_end_user_falls_back_to_the_body_user() -> None:
    """With custom_auth LiteLLM does not fill end_user_id from the body's `user`."""
    identity = resolve_identity(
        user_api_key_dict=Key(end_user_id=None), data={"user": "eu-body"}, settings=settings()
    )
    assert identity.end_user_id == "eu-body"


def test_works_with_litellm_user_api_key_auth() -> None:
    auth = UserAPIKeyAuth(
        api_key="sk-real-key",
        user_id="u",
        team_id="t",
        key_alias="a",
        org_id="o",
        metadata={"axonflow_enforcement_mode": "audit", "axonflow_user_token": "tok-k"},
        team_metadata={"axonflow_enforcement_mode": "off"},
    )
    identity = resolve_identity(user_api_key_dict=auth, data={}, settings=settings())
    assert (identity.enforcement_mode, identity.enforcement_source) == ("audit", "key")
    assert (identity.user_token, identity.org_id) == ("tok-k", "o")
    assert identity.api_key_hash is not None
    assert "sk-real-key" not in identity.api_key_hash


# ---------------------------------------------------------------- scrubbing


def logged_request(auth: UserAPIKeyAuth) -> dict[str, Any]:
    """The copies LiteLLM makes of one request (shapes as in litellm_pre_call_utils)."""
    headers = {"content-type": "application/json", USER_TOKEN_HEADER: "tok-header"}
    metadata: dict[str, Any] = {
        "headers": headers,
        "requester_metadata": {"headers": dict(headers), "tags": ["a"]},
        "user_api_key_metadata": dict(auth.metadata),
        "user_api_key_team_metadata": dict(auth.team_metadata or {}),
        "user_api_key_auth_metadata": {"axonflow_user_token": "tok-team", "other": 1},
        "user_api_key_auth": auth.model_copy(),
        "user_api_key_alias": "a",
    }
    data: dict[str, Any] = {
        "model": "m",
        "metadata": metadata,
        "secret_fields": {"raw_headers": dict(headers)},
        "proxy_server_request": {"url": "http://x/v1/chat/completions", "headers": headers},
    }
    data["proxy_server_request"]["body"] = {
        k: v for k, v in data.items() if k not in ("secret_fields", "proxy_server_request")
    }
    return data


def test_scrub_removes_every_logged_token_copy() -> None:
    auth = UserAPIKeyAuth(
        api_key="sk-k",
        metadata={"axonflow_user_token": "tok-key", "tags": ["x"]},
        team_metadata={"axonflow_user_token": "tok-team"},
    )
    data = logged_request(auth)
    scrub_user_tokens(data)
    logged = {k: v for k, v in data.items() if k != "secret_fields"}
    text = repr(logged)
    for secret in ("tok-key", "tok-team", "tok-header"):
        assert secret not in text, secret
    # Everything else is kept.
    assert data["metadata"]["user_api_key_metadata"]["tags"] == ["x"]
    assert data["metadata"]["user_api_key_auth_metadata"]["other"] == 1
    assert data["metadata"]["requester_metadata"]["tags"] == ["a"]
    assert data["metadata"]["headers"]["content-type"] == "application/json"
    # The unlogged raw copy still has the header (other guardrails may need it).
    assert data["secret_fields"]["raw_headers"][USER_TOKEN_HEADER] == "tok-header"


def test_scrub_never_changes_shared_objects() -> None:
    """LiteLLM caches key objects: the request's copies are replaced, never edited in place."""
    auth = UserAPIKeyAuth(
        api_key="sk-k",
        metadata={"axonflow_user_token": "tok-key"},
        team_metadata={"axonflow_user_token": "tok-team"},
    )
    shared_meta = {"axonflow_user_token": "tok-key"}
    data = logged_request(auth)
    data["metadata"]["user_api_key_metadata"] = shared_meta
    stamped_auth = data["metadata"]["user_api_key_auth"]
    before = copy.deepcopy(shared_meta)
    scrub_user_tokens(data)
    assert shared_meta == before
    assert auth.metadata == {"axonflow_user_token": "tok-key"}
    assert stamped_auth.metadata == {"axonflow_user_token": "tok-key"}
    assert data["metadata"]["user_api_key_auth"] is not stamped_auth
    assert "tok-key" not in repr(data["metadata"]["user_api_key_auth"])


def test_scrub_is_idempotent_and_tolerates_odd_shapes() -> None:
    data: dict[str, Any] = {
        "metadata": "not-a-dict",
        "litellm_metadata": {"headers": None, USER_TOKEN_HEADER: "tok"},
        "proxy_server_request": {"headers": {"X-AXONFLOW-USER-TOKEN": "tok"}},
    }
    scrub_user_tokens(data)
    once = copy.deepcopy(data)
    scrub_user_tokens(data)
    assert data == once
    assert data["litellm_metadata"][USER_TOKEN_HEADER] != "tok"
    assert data["proxy_server_request"]["headers"]["X-AXONFLOW-USER-TOKEN"] != "tok"
    scrub_user_tokens({})
