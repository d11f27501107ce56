"""Identity and enforcement level: precedence, what a client cannot change, token scrubbing."""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from typing import Any

import pytest
from litellm.proxy._types import UserAPIKeyAuth

from axonflow_guardrail._settings import GuardrailSettings
from axonflow_guardrail.request._floor import floor_keeps_opted_out_caller, without_opt_out
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


# ---------------------------------------------------------------- token references


def test_a_token_reference_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """What /key/info shows is the reference; AxonFlow gets the token."""
    monkeypatch.setenv("AXONFLOW_USER_TOKEN_BILLING", "tok-from-env")
    ref = {"axonflow_user_token": "os.environ/AXONFLOW_USER_TOKEN_BILLING"}
    assert token(ref, TEAM_TOKEN) == ("tok-from-env", "key_metadata")
    assert token({}, ref) == ("tok-from-env", "team_metadata")


def test_an_unset_reference_uses_the_default_token(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("AXONFLOW_USER_TOKEN_GONE", raising=False)
    ref = {"axonflow_user_token": "os.environ/AXONFLOW_USER_TOKEN_GONE"}
    with caplog.at_level(logging.WARNING, logger="LiteLLM Proxy.axonflow"):
        result = token(ref, TEAM_TOKEN, default_user_token="tok-default")
    assert result == ("tok-default", "key_metadata:unresolved")
    assert "AXONFLOW_USER_TOKEN_GONE" in caplog.text


def test_only_axonflow_token_variables_can_be_referenced(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A key owner who can edit metadata must not send the proxy's secrets to AxonFlow."""
    monkeypatch.setenv("LITELLM_MASTER_KEY", "sk-master-secret")
    ref = {"axonflow_user_token": "os.environ/LITELLM_MASTER_KEY"}
    with caplog.at_level(logging.WARNING, logger="LiteLLM Proxy.axonflow"):
        result = token(ref, None, default_user_token="tok-default")
    assert result == ("tok-default", "key_metadata:unresolved")
    assert "sk-master-secret" not in caplog.text


# ---------------------------------------------------------------- the enforcement floor

OFF = {"axonflow_enforcement_mode": "off"}
AUDIT = {"axonflow_enforcement_mode": "audit"}


def floored(
    key: dict[str, Any] | None,
    team: dict[str, Any] | None = None,
    *,
    team_id: str = "t1",
    key_alias: str = "alias-1",
    api_key: str = "hashed-key",
    **guardrail: Any,
) -> tuple[str, str]:
    identity = resolve_identity(
        user_api_key_dict=Key(
            metadata=key, team_metadata=team, team_id=team_id, key_alias=key_alias, api_key=api_key
        ),
        data={},
        settings=settings(**guardrail),
    )
    return identity.enforcement_mode, identity.enforcement_source


@pytest.mark.parametrize(
    ("key", "team", "floor", "expected"),
    [
        (OFF, None, "audit", ("audit", "floor")),
        ({}, OFF, "audit", ("audit", "floor")),
        (AUDIT, None, "enforce", ("enforce", "floor")),
        (OFF, None, "enforce", ("enforce", "floor")),
        # At or above the floor: the metadata's level stands.
        (AUDIT, None, "audit", ("audit", "key")),
        ({"axonflow_enforcement_mode": "enforce"}, OFF, "audit", ("enforce", "key")),
        ({}, None, "audit", ("enforce", "guardrail")),
        # No floor: today's behaviour.
        (OFF, None, "off", ("off", "key")),
    ],
)
def test_metadata_cannot_go_below_the_floor(
    key: dict[str, Any], team: dict[str, Any] | None, floor: str, expected: tuple[str, str]
) -> None:
    assert floored(key, team, min_enforcement_mode=floor) == expected


def test_exempt_teams_and_key_aliases_may_go_lower() -> None:
    floor = {
        "min_enforcement_mode": "enforce",
        "enforcement_floor_exempt_teams": ["team-research"],
        "enforcement_floor_exempt_key_aliases": ["batch-eval"],
    }
    assert floored(OFF, team_id="team-research", **floor) == ("off", "key")
    assert floored({}, AUDIT, team_id="team-research", **floor) == ("audit", "team")
    assert floored(OFF, key_alias="batch-eval", **floor) == ("off", "key")
    # Only the exact names: a look-alike alias or another team is held at the floor.
    assert floored(OFF, key_alias="batch-eval-2", **floor) == ("enforce", "floor")
    assert floored(OFF, team_id="team-research-x", **floor) == ("enforce", "floor")


def test_an_unrecognised_value_still_enforces_under_a_floor() -> None:
    typo = {"axonflow_enforcement_mode": "of"}
    assert floored(typo, min_enforcement_mode="audit") == ("enforce", "key:invalid")


def test_going_below_the_floor_is_logged_once_per_key(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="LiteLLM Proxy.axonflow"):
        for _ in range(3):
            floored(OFF, api_key="hash-once-a", key_alias="once-a", min_enforcement_mode="audit")
        floored(OFF, api_key="hash-once-b", key_alias="once-b", min_enforcement_mode="audit")
    lines = [r.getMessage() for r in caplog.records if "min_enforcement_mode" in r.getMessage()]
    assert len(lines) == 2, lines
    assert "once-a" in lines[0]
    assert "'off'" in lines[0]
    assert "'audit'" in lines[0]
    assert "once-b" in lines[1]


def stamped(team_id: str | None, alias: str | None, opted_out: list[str]) -> dict[str, Any]:
    """Request data as the proxy stamps it for a key whose metadata opts out."""
    return {
        "metadata": {
            "user_api_key_team_id": team_id,
            "user_api_key_alias": alias,
            "user_api_key_hash": f"hash-{alias}",
            "user_api_key_metadata": {"opted_out_global_guardrails": opted_out, "x": 1},
            "user_api_key_team_metadata": {"opted_out_global_guardrails": opted_out},
        }
    }


def test_the_floor_overrides_opt_outs_except_for_exempt_callers() -> None:
    floor = settings(
        min_enforcement_mode="audit",
        enforcement_floor_exempt_teams=["team-research"],
        enforcement_floor_exempt_key_aliases=["batch-eval"],
    )
    assert floor_keeps_opted_out_caller(stamped("t1", "k1", ["axonflow"]), floor) is True
    assert floor_keeps_opted_out_caller(stamped("team-research", "k1", []), floor) is False
    assert floor_keeps_opted_out_caller(stamped("t1", "batch-eval", []), floor) is False
    # Stamped under litellm_metadata on some routes.
    data = {"litellm_metadata": stamped("team-research", "k2", [])["metadata"]}
    assert floor_keeps_opted_out_caller(data, floor) is False
    assert floor_keeps_opted_out_caller(stamped("t1", "k1", []), settings()) is False


def test_without_opt_out_removes_only_this_guardrail_and_changes_nothing() -> None:
    data = stamped("t1", "k1", ["axonflow", "other"])
    before = copy.deepcopy(data)
    view = without_opt_out(data, "axonflow")
    assert data == before
    meta = view["metadata"]
    assert meta["user_api_key_metadata"] == {"opted_out_global_guardrails": ["other"], "x": 1}
    assert meta["user_api_key_team_metadata"] == {"opted_out_global_guardrails": ["other"]}


def test_litellm_runs_a_default_on_guardrail_despite_a_non_exempt_opt_out() -> None:
    from litellm.types.guardrails import GuardrailEventHooks

    from axonflow_guardrail import AxonFlowGuardrail

    def guard(**floor: Any) -> AxonFlowGuardrail:
        return AxonFlowGuardrail(
            guardrail_name="axonflow",
            event_hook=["pre_call", "post_call"],
            default_on=True,
            endpoint="http://127.0.0.1:9",
            client_id="c",
            **floor,
        )

    pre = GuardrailEventHooks.pre_call
    floored_guard = guard(min_enforcement_mode="audit", enforcement_floor_exempt_teams=["t-x"])
    no_floor = guard()
    opted_out = stamped("t1", "k1", ["axonflow"])
    assert no_floor.should_run_guardrail(opted_out, pre) is False  # LiteLLM's own opt-out
    assert floored_guard.should_run_guardrail(opted_out, pre) is True
    assert floored_guard.should_run_guardrail(stamped("t-x", "k1", ["axonflow"]), pre) is False
    # Another guardrail's opt-out is not ours to override; proxy admins' switch is honoured.
    assert floored_guard.should_run_guardrail(stamped("t1", "k1", ["other"]), pre) is True
    admin_off = stamped("t1", "k1", [])
    admin_off["metadata"]["user_api_key_metadata"]["disable_global_guardrails"] = True
    assert floored_guard.should_run_guardrail(admin_off, pre) is False
