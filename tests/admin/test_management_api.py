"""Governance steered through LiteLLM's management API, with keys, teams and models in Postgres.

Every key, team, user and model here is created with `/key/generate`, `/team/new`, `/user/new`
or `/model/new` on a proxy with a real database; the guardrail `axonflow` is `default_on`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.admin.conftest import (
    DEFAULT_TOKEN,
    FLOOR_CACHE_TTL_S,
    HARMLESS,
    REFERENCED_TOKEN,
    REFERENCED_TOKEN_VARIABLE,
    SQLI,
    audits_of,
    call_id_of,
    made_no_axonflow_call,
    passes_as_would_have_blocked,
    pre_checks_of,
    record_measurement,
)
from tests.e2e.conftest import details_of, eventually
from tests.support.dev_agent import DevAgent
from tests.support.logged_payloads import read_logged_payloads
from tests.support.management import Management, unique
from tests.support.model_calls import read_model_calls
from tests.support.proxy import MASTER_KEY, Proxy

pytestmark = pytest.mark.admin


def level(mode: str) -> dict[str, str]:
    return {"axonflow_enforcement_mode": mode}


def reached_model(model_call_log: Path, call_id: str) -> bool:
    return any(
        c["kind"] == "success" and c.get("litellm_call_id") == call_id
        for c in read_model_calls(model_call_log)
    )


# ------------------------------------------------------------------ key and team levels


def test_a_key_in_enforce_blocks_sql_injection(
    proxy: Proxy, admin: Management, agent: DevAgent, model_call_log: Path
) -> None:
    key = admin.generate_key(metadata=level("enforce"))
    response = proxy.chat(SQLI, api_key=key)
    assert response.status_code == 400, response.text
    assert details_of(response)["code"] == "policy_denied"
    call_id = call_id_of(response)
    assert len(pre_checks_of(agent, call_id)) == 1
    assert not reached_model(model_call_log, call_id)


def test_a_key_in_audit_lets_it_through_and_records_would_have_blocked(
    proxy: Proxy, admin: Management, agent: DevAgent, model_call_log: Path
) -> None:
    key = admin.generate_key(metadata=level("audit"))
    call_id = passes_as_would_have_blocked(proxy, agent, key)
    eventually(lambda: reached_model(model_call_log, call_id))


def test_a_key_set_to_off_makes_no_axonflow_call(
    proxy: Proxy, admin: Management, agent: DevAgent
) -> None:
    key = admin.generate_key(metadata=level("off"))
    response = proxy.chat(SQLI, api_key=key)
    assert response.status_code == 200, response.text
    assert made_no_axonflow_call(proxy, agent, call_id_of(response))


@pytest.mark.parametrize(
    ("team_meta", "key_meta", "status", "checked"),
    [
        (level("audit"), {}, 200, True),  # the key says nothing: the team's level
        (level("off"), {}, 200, False),
        (level("off"), level("enforce"), 400, True),  # the key wins
        (level("enforce"), level("audit"), 200, True),
    ],
    ids=["team-audit", "team-off", "key-enforce-over-team-off", "key-audit-over-team-enforce"],
)
def test_team_metadata_applies_unless_the_key_says_otherwise(
    proxy: Proxy,
    admin: Management,
    agent: DevAgent,
    team_meta: dict[str, str],
    key_meta: dict[str, str],
    status: int,
    checked: bool,
) -> None:
    team_id = admin.new_team(metadata=team_meta)
    key = admin.generate_key(team_id=team_id, metadata=key_meta)
    response = proxy.chat(SQLI, api_key=key)
    assert response.status_code == status, response.text
    call_id = call_id_of(response)
    if checked:
        (body,) = pre_checks_of(agent, call_id)
        assert body["context"]["team_id"] == team_id
    else:
        assert made_no_axonflow_call(proxy, agent, call_id)


# ------------------------------------------------------------------ how soon an update counts


def test_the_next_request_sees_a_key_update(
    proxy: Proxy, admin: Management, agent: DevAgent
) -> None:
    """On the instance that served `/key/update`, LiteLLM refreshes its key cache at once."""
    key = admin.generate_key(metadata=level("enforce"))
    assert proxy.chat(SQLI, api_key=key).status_code == 400  # cached as enforce
    updated = time.monotonic()
    admin.update_key(key, metadata=level("audit"))
    response = proxy.chat(SQLI, api_key=key)
    seen_after = time.monotonic() - updated
    assert response.status_code == 200, response.text
    (audit,) = eventually(lambda: audits_of(agent, call_id_of(response)))
    assert audit["metadata"]["would_have_blocked"] is True
    record_measurement("key_update_same_instance_s", round(seen_after, 3))


def test_the_next_request_sees_a_team_update(
    proxy: Proxy, admin: Management, agent: DevAgent
) -> None:
    team_id = admin.new_team(metadata=level("enforce"))
    key = admin.generate_key(team_id=team_id)
    assert proxy.chat(SQLI, api_key=key).status_code == 400  # team cached as enforce
    updated = time.monotonic()
    admin.update_team(team_id, metadata=level("off"))
    response = proxy.chat(SQLI, api_key=key)
    seen_after = time.monotonic() - updated
    assert response.status_code == 200, response.text
    assert made_no_axonflow_call(proxy, agent, call_id_of(response))
    record_measurement("team_update_same_instance_s", round(seen_after, 3))


def test_another_instance_sees_a_key_update_within_its_key_cache_ttl(
    proxy: Proxy, floor_proxy: Proxy, admin: Management
) -> None:
    """A second proxy on the same database keeps the key it cached until its
    `user_api_key_cache_ttl` (default 60 s; 2 s on `floor_proxy`) runs out."""
    key = admin.generate_key(metadata=level("enforce"))
    assert floor_proxy.chat(SQLI, api_key=key).status_code == 400  # now in its cache
    updated = time.monotonic()
    admin.update_key(key, metadata=level("audit"))  # through the other instance
    statuses: list[int] = []

    def seen() -> bool:
        statuses.append(floor_proxy.chat(SQLI, api_key=key).status_code)
        return statuses[-1] == 200

    eventually(seen, timeout_s=FLOOR_CACHE_TTL_S + 10)
    delay = time.monotonic() - updated
    assert delay <= FLOOR_CACHE_TTL_S + 5, (delay, statuses)
    record_measurement(
        "key_update_other_instance_s",
        {"ttl_s": FLOOR_CACHE_TTL_S, "seen_after_s": round(delay, 3), "requests": len(statuses)},
    )


# ------------------------------------------------------------------ the user token


def test_a_referenced_user_token_reaches_axonflow_and_nobody_else(
    proxy: Proxy,
    floor_proxy: Proxy,
    admin: Management,
    agent: DevAgent,
    logged_payloads: Path,
) -> None:
    """`os.environ/AXONFLOW_USER_TOKEN_*` in key metadata: AxonFlow gets the token; the key's
    holder, its owner and team members see only the reference; no log holds the token."""
    user_id, user_key = admin.new_user()
    reference = f"os.environ/{REFERENCED_TOKEN_VARIABLE}"
    key = admin.generate_key(user_id=user_id, metadata={"axonflow_user_token": reference})
    calls = [proxy.chat(HARMLESS, api_key=key), proxy.chat(SQLI, api_key=key)]
    assert [c.status_code for c in calls] == [200, 400]
    ids = [call_id_of(c) for c in calls]
    for call_id in ids:
        (body,) = pre_checks_of(agent, call_id)
        assert body["user_token"] == REFERENCED_TOKEN
    (audit,) = eventually(lambda: audits_of(agent, ids[0]))
    assert audit["metadata"]["user_token_source"] == "key_metadata"

    for as_key in (user_key, key):  # the key's owner, and the key itself
        info = admin.key_info(key, as_key=as_key)
        assert info.status_code == 200, info.text
        assert info.json()["info"]["metadata"]["axonflow_user_token"] == reference
        assert REFERENCED_TOKEN not in info.text
    _, stranger_key = admin.new_user()
    assert admin.key_info(key, as_key=stranger_key).status_code == 403

    rows = eventually(
        lambda: (
            [admin.spend_logs(i) for i in ids] if all(admin.spend_logs(i) for i in ids) else None
        ),
        timeout_s=20,
    )
    assert REFERENCED_TOKEN not in json.dumps(rows)
    records = eventually(
        lambda: [r for r in read_logged_payloads(logged_payloads) if r["litellm_call_id"] in ids]
    )
    assert REFERENCED_TOKEN not in json.dumps(records)
    for instance in (proxy, floor_proxy):
        assert REFERENCED_TOKEN not in instance.output()


def test_a_plain_user_token_in_metadata_is_shown_to_the_keys_holder(
    proxy: Proxy, admin: Management, agent: DevAgent
) -> None:
    """Why the reference exists: LiteLLM's `/key/info` returns key metadata as stored to the
    key itself, its owner and its team's members. The token still reaches AxonFlow and stays
    out of spend logs and the proxy's log."""
    token = f"tok-plain-{unique('t')}"
    key = admin.generate_key(metadata={"axonflow_user_token": token})
    response = proxy.chat(HARMLESS, api_key=key)
    assert response.status_code == 200, response.text
    call_id = call_id_of(response)
    assert pre_checks_of(agent, call_id)[0]["user_token"] == token
    assert token in admin.key_info(key, as_key=key).text
    rows = eventually(lambda: admin.spend_logs(call_id), timeout_s=20)
    assert token not in json.dumps(rows)
    assert token not in proxy.output()


def test_an_unresolvable_reference_falls_back_to_the_default_token(
    proxy: Proxy, admin: Management, agent: DevAgent
) -> None:
    key = admin.generate_key(metadata={"axonflow_user_token": "os.environ/LITELLM_MASTER_KEY"})
    response = proxy.chat(HARMLESS, api_key=key)
    assert response.status_code == 200, response.text
    (body,) = pre_checks_of(agent, call_id_of(response))
    assert body["user_token"] == DEFAULT_TOKEN  # never the master key
    assert MASTER_KEY not in json.dumps(agent.requests())


# ------------------------------------------------------------------ models from /model/new


def test_a_model_added_with_model_new_is_governed_only_if_it_names_the_guardrail(
    proxy: Proxy, admin: Management, agent: DevAgent, model_call_log: Path
) -> None:
    governed, plain = unique("db-governed"), unique("db-plain")
    params = {"api_key": "sk-not-used", "mock_response": "Hello from a stored model."}
    admin.new_model(governed, {"model": f"openai/{governed}", "guardrails": ["af-model"], **params})
    admin.new_model(plain, {"model": f"openai/{plain}", **params})
    # Out of the default_on guardrail, so only the model's own guardrail can run.
    key = admin.generate_key(metadata={"opted_out_global_guardrails": ["axonflow"]})

    blocked = proxy.chat(SQLI, api_key=key, model=governed)
    assert blocked.status_code == 400, blocked.text
    assert len(pre_checks_of(agent, call_id_of(blocked), "af-model")) == 1

    allowed = proxy.chat(HARMLESS, api_key=key, model=governed)
    assert allowed.status_code == 200, allowed.text
    call_id = call_id_of(allowed)
    # LiteLLM runs post-call hooks twice for model-level guardrails; audited once. A duplicate
    # would queue right behind the first, so it has landed once a later audit has.
    eventually(lambda: audits_of(agent, call_id))
    later = proxy.chat(HARMLESS, api_key=key, model=governed)
    eventually(lambda: audits_of(agent, call_id_of(later)))
    assert len(audits_of(agent, call_id)) == 1
    eventually(lambda: reached_model(model_call_log, call_id))

    ungoverned = proxy.chat(SQLI, api_key=key, model=plain)
    assert ungoverned.status_code == 200, ungoverned.text
    assert made_no_axonflow_call(proxy, agent, call_id_of(ungoverned))


# ------------------------------------------------------------------ LiteLLM's own opt-outs


@pytest.mark.parametrize(
    ("key_meta", "team_meta"),
    [
        ({"opted_out_global_guardrails": ["axonflow"]}, {}),
        ({"disable_global_guardrails": True}, {}),
        ({}, {"opted_out_global_guardrails": ["axonflow"]}),
        ({}, {"disable_global_guardrails": True}),
    ],
    ids=["key-opted-out", "key-disable-global", "team-opted-out", "team-disable-global"],
)
def test_litellm_opt_outs_skip_the_default_guardrail(
    proxy: Proxy,
    admin: Management,
    agent: DevAgent,
    key_meta: dict[str, Any],
    team_meta: dict[str, Any],
) -> None:
    team_id = admin.new_team(metadata=team_meta)
    key = admin.generate_key(team_id=team_id, metadata=key_meta)
    response = proxy.chat(SQLI, api_key=key)
    assert response.status_code == 200, response.text
    assert made_no_axonflow_call(proxy, agent, call_id_of(response))


def test_only_proxy_admins_may_disable_global_guardrails_but_owners_may_opt_out(
    admin: Management,
) -> None:
    """As the README's table says: a key's owner can opt their key out of `axonflow` (and
    set `axonflow_enforcement_mode`), but not `disable_global_guardrails`."""
    user_id, user_key = admin.new_user()
    key = admin.generate_key(as_key=user_key, metadata=level("enforce"))
    refused = admin.call(
        "POST",
        "/key/update",
        {"key": key, "metadata": {"disable_global_guardrails": True}},
        as_key=user_key,
    )
    assert refused.status_code == 403, refused.text
    admin.update_key(
        key, as_key=user_key, metadata={"opted_out_global_guardrails": ["axonflow"], **level("off")}
    )
    info = admin.key_info(key).json()["info"]
    assert info["user_id"] == user_id
    assert info["metadata"]["opted_out_global_guardrails"] == ["axonflow"]


# ------------------------------------------------------------------ the decision in spend logs


def test_the_decision_is_in_spend_logs_for_allowed_blocked_and_fail_open_calls(
    proxy: Proxy, admin: Management, agent: DevAgent
) -> None:
    token = f"tok-spend-{unique('t')}"
    key = admin.generate_key(metadata={"axonflow_user_token": token})
    allowed = proxy.chat(HARMLESS, api_key=key)
    blocked = proxy.chat(SQLI, api_key=key)
    agent.set_fault("/api/policy/pre-check", status=503, times=1)
    failed_open = proxy.chat(HARMLESS, api_key=key)
    assert [r.status_code for r in (allowed, blocked, failed_open)] == [200, 400, 200]

    expected = {
        call_id_of(allowed): "success",
        call_id_of(blocked): "guardrail_intervened",
        call_id_of(failed_open): "guardrail_failed_to_respond",
    }
    for call_id, status in expected.items():
        rows = eventually(lambda call_id=call_id: admin.spend_logs(call_id), timeout_s=20)
        entries = [
            g
            for row in rows
            for g in row["metadata"].get("guardrail_information") or []
            if g.get("guardrail_name") == "axonflow"
        ]
        assert [e["guardrail_status"] for e in entries] == [status], entries
        text = json.dumps(rows)
        for secret in (token, key, MASTER_KEY, "test-secret"):
            assert secret not in text, (status, secret)
    blocked_entry = admin.spend_logs(call_id_of(blocked))[0]["metadata"]["guardrail_information"]
    assert blocked_entry[0]["guardrail_response"]["code"] == "policy_denied"
    fail_open_rows = admin.spend_logs(call_id_of(failed_open))
    fail_open_entry = fail_open_rows[0]["metadata"]["guardrail_information"][0]
    assert fail_open_entry["guardrail_response"]["fail_open"] is True
