"""Settings from `litellm_params`: seed names and defaults, aliases, validation by key name."""

from __future__ import annotations

import pytest

from axonflow_guardrail._settings import ConfigurationError, GuardrailSettings

BASE = {"endpoint": "http://127.0.0.1:8080", "client_id": "app"}


def build(**params: object) -> GuardrailSettings:
    return GuardrailSettings.from_litellm_params({**BASE, **params})


def test_defaults_match_the_seed_table() -> None:
    s = build()
    assert s.client_secret == ""
    assert s.default_user_token == "anonymous"
    assert s.tenant_id is None
    assert s.fail_open is True
    assert s.call_timeout_seconds == 5.0
    assert s.breaker_failure_threshold == 5
    assert s.breaker_recovery_seconds == 30.0
    assert s.enable_hitl_polling is True
    assert s.approval_poll_interval_seconds == 2.0
    assert s.approval_max_wait_seconds == 300.0
    assert dict(s.extra_context) == {}
    assert s.enforcement_mode == "enforce"
    assert s.check_output is False
    assert s.redact_input is True


def test_litellm_aliases() -> None:
    s = GuardrailSettings.from_litellm_params(
        {"api_base": "https://af.example.com/", "api_key": "sek", "client_id": "app"}
    )
    assert s.endpoint == "https://af.example.com"
    assert s.client_secret == "sek"


def test_conflicting_alias_names_both_keys() -> None:
    with pytest.raises(ConfigurationError, match="'api_base' and 'endpoint'"):
        build(api_base="http://other:1")


def test_strings_from_environment_are_parsed() -> None:
    s = build(fail_open="false", call_timeout_seconds="2.5", breaker_failure_threshold="3")
    assert s.fail_open is False
    assert s.call_timeout_seconds == 2.5
    assert s.breaker_failure_threshold == 3


@pytest.mark.parametrize(
    ("params", "key"),
    [
        ({"endpoint": None}, "endpoint"),
        ({"endpoint": "not a url"}, "endpoint"),
        ({"client_id": ""}, "client_id"),
        ({"fail_open": "maybe"}, "fail_open"),
        ({"call_timeout_seconds": 0}, "call_timeout_seconds"),
        ({"call_timeout_seconds": "fast"}, "call_timeout_seconds"),
        ({"breaker_failure_threshold": 0}, "breaker_failure_threshold"),
        ({"breaker_failure_threshold": 2.5}, "breaker_failure_threshold"),
        ({"approval_max_wait_seconds": -1}, "approval_max_wait_seconds"),
        ({"extra_context": "x"}, "extra_context"),
        ({"enforcement_mode": "strict"}, "enforcement_mode"),
        ({"fail_opn": False}, "fail_opn"),
    ],
)
def test_bad_values_name_the_key(params: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigurationError, match=f"'{key}'"):
        build(**params)


def test_configuration_error_is_not_swallowed_by_litellm() -> None:
    """LiteLLM skips guardrails whose constructor raises ValueError/TypeError."""
    assert not issubclass(ConfigurationError, (ValueError, TypeError))


def test_litellm_own_keys_are_ignored() -> None:
    s = GuardrailSettings.from_litellm_params(
        {**BASE, "fail_on_error": True, "mask": False},
        litellm_keys=frozenset({"fail_on_error", "mask"}),
    )
    assert s.client_id == "app"


def test_secrets_are_not_in_repr() -> None:
    s = build(client_secret="top-secret", default_user_token="user-jwt")
    assert "top-secret" not in repr(s)
    assert "user-jwt" not in repr(s)


def test_zero_wait_means_do_not_hold() -> None:
    assert build(approval_max_wait_seconds=0).approval_max_wait_seconds == 0


# ---------------------------------------------------------------- the enforcement floor


def test_the_floor_is_off_by_default() -> None:
    s = build()
    assert s.min_enforcement_mode == "off"
    assert s.enforcement_floor_exempt_teams == frozenset()
    assert s.enforcement_floor_exempt_key_aliases == frozenset()


def test_floor_and_exemptions_are_read() -> None:
    s = build(
        min_enforcement_mode="Audit",
        enforcement_floor_exempt_teams=["team-research", " team-ops "],
        enforcement_floor_exempt_key_aliases="batch-eval, red-team",  # from os.environ/NAME
    )
    assert s.min_enforcement_mode == "audit"
    assert s.enforcement_floor_exempt_teams == {"team-research", "team-ops"}
    assert s.enforcement_floor_exempt_key_aliases == {"batch-eval", "red-team"}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"min_enforcement_mode": "strict"}, "'min_enforcement_mode' must be one of"),
        ({"min_enforcement_mode": ""}, "'min_enforcement_mode' is required"),
        (
            {"min_enforcement_mode": "audit", "enforcement_floor_exempt_teams": ["ok", ""]},
            "'enforcement_floor_exempt_teams' must be a list of non-empty names",
        ),
        (
            {"min_enforcement_mode": "audit", "enforcement_floor_exempt_key_aliases": {"a": 1}},
            "'enforcement_floor_exempt_key_aliases' must be a list",
        ),
        # The guardrail's own level below its floor: one of the two is a mistake.
        (
            {"min_enforcement_mode": "enforce", "enforcement_mode": "audit"},
            "'enforcement_mode' 'audit' is below 'min_enforcement_mode' 'enforce'",
        ),
        # Exemptions from a floor that does not exist: the operator thinks there is one.
        (
            {"enforcement_floor_exempt_teams": ["team-research"]},
            "'min_enforcement_mode' is off",
        ),
        ({"min_enforcment_mode": "audit"}, "unknown setting 'min_enforcment_mode'"),
    ],
)
def test_bad_floor_settings_stop_the_proxy(params: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        build(**params)


def test_the_floor_may_equal_the_guardrail_level() -> None:
    s = build(min_enforcement_mode="audit", enforcement_mode="audit")
    assert (s.enforcement_mode, s.min_enforcement_mode) == ("audit", "audit")
