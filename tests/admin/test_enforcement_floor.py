"""The enforcement floor on a real proxy: `min_enforcement_mode: audit` on `floor_proxy`.

The threat it closes, shown first: LiteLLM lets a key's owner, and the key itself, rewrite the
key's metadata, so without a floor anyone holding a key could switch governance off for it.
"""

from __future__ import annotations

import pytest

from tests.admin.conftest import (
    FLOOR_EXEMPT_ALIAS,
    FLOOR_EXEMPT_TEAM,
    SQLI,
    call_id_of,
    made_no_axonflow_call,
    passes_as_would_have_blocked,
    pre_checks_of,
)
from tests.support.dev_agent import DevAgent
from tests.support.management import Management
from tests.support.proxy import Proxy

pytestmark = pytest.mark.admin

OFF = {"axonflow_enforcement_mode": "off"}


def test_a_key_holder_can_switch_governance_off_without_a_floor(
    proxy: Proxy, admin: Management, agent: DevAgent
) -> None:
    """The threat: the key itself may `/key/update` its own metadata (no admin involved)."""
    _, user_key = admin.new_user()
    key = admin.generate_key(as_key=user_key)
    assert proxy.chat(SQLI, api_key=key).status_code == 400
    admin.update_key(key, as_key=key, metadata=OFF)
    response = proxy.chat(SQLI, api_key=key)
    assert response.status_code == 200, response.text
    assert made_no_axonflow_call(proxy, agent, call_id_of(response))


def test_metadata_below_the_floor_is_governed_at_the_floor_and_warned_once(
    floor_proxy: Proxy, admin: Management, agent: DevAgent
) -> None:
    key = admin.generate_key(metadata=OFF)
    alias = admin.key_info(key).json()["info"]["key_alias"]
    for _ in range(3):
        passes_as_would_have_blocked(floor_proxy, agent, key)
    warnings = [
        line
        for line in floor_proxy.output().splitlines()
        if "below min_enforcement_mode" in line and alias in line
    ]
    assert len(warnings) == 1, warnings
    assert "WARNING" in warnings[0]


def test_a_key_owner_cannot_go_below_the_floor(
    floor_proxy: Proxy, admin: Management, agent: DevAgent
) -> None:
    _, user_key = admin.new_user()
    key = admin.generate_key(as_key=user_key)
    admin.update_key(key, as_key=key, metadata=OFF)
    passes_as_would_have_blocked(floor_proxy, agent, key)
    # The team level is floored the same way.
    team_id = admin.new_team(metadata=OFF)
    team_key = admin.generate_key(team_id=team_id)
    passes_as_would_have_blocked(floor_proxy, agent, team_key)


def test_a_key_owner_cannot_opt_out_under_a_floor(
    floor_proxy: Proxy, admin: Management, agent: DevAgent
) -> None:
    """LiteLLM's `opted_out_global_guardrails` counts only for exempt callers: the key is
    governed as if it had not opted out (here: the guardrail's own level, enforce)."""
    _, user_key = admin.new_user()
    key = admin.generate_key(as_key=user_key)
    admin.update_key(key, as_key=key, metadata={"opted_out_global_guardrails": ["axonflow"]})
    response = floor_proxy.chat(SQLI, api_key=key)
    assert response.status_code == 400, response.text
    assert len(pre_checks_of(agent, call_id_of(response))) == 1


def test_exempt_team_and_key_alias_may_go_lower(
    floor_proxy: Proxy, admin: Management, agent: DevAgent
) -> None:
    admin.new_team(team_id=FLOOR_EXEMPT_TEAM, metadata=OFF)
    team_key = admin.generate_key(team_id=FLOOR_EXEMPT_TEAM)
    alias_key = admin.generate_key(key_alias=FLOOR_EXEMPT_ALIAS, metadata=OFF)
    opted_out = admin.generate_key(
        team_id=FLOOR_EXEMPT_TEAM, metadata={"opted_out_global_guardrails": ["axonflow"]}
    )
    for key in (team_key, alias_key, opted_out):
        response = floor_proxy.chat(SQLI, api_key=key)
        assert response.status_code == 200, response.text
        assert made_no_axonflow_call(floor_proxy, agent, call_id_of(response))

    # A key's owner cannot take the exempt alias while it exists, nor join the exempt team.
    _, user_key = admin.new_user()
    own = admin.generate_key(as_key=user_key, metadata=OFF)
    for change in ({"key_alias": FLOOR_EXEMPT_ALIAS}, {"team_id": FLOOR_EXEMPT_TEAM}):
        refused = admin.call("POST", "/key/update", {"key": own, **change}, as_key=user_key)
        assert refused.status_code >= 400, (change, refused.text)
    passes_as_would_have_blocked(floor_proxy, agent, own)
