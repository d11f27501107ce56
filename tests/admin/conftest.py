"""The admin tier: the proxy as production runs it, with keys, teams and models in Postgres.

One Postgres cluster (LiteLLM's schema applied, see `tests.support.litellm_db`) serves the whole
tier, and two proxy instances share it, started once and at the same time (a proxy with a
database takes ~25 s to be ready):

- `proxy`: the guardrail `axonflow` with `default_on` and no floor, plus `af-model`, which runs
  only on models that name it; `store_model_in_db` for `/model/new`; spend logs written every
  second, with prompts (so the guardrail's whole record is kept there and can be searched for
  secrets);
- `floor_proxy`: a second instance whose `axonflow` has `min_enforcement_mode: audit`, with one
  exempt team and one exempt key alias, and a 2 s key cache (`user_api_key_cache_ttl`), so how
  long another instance takes to see a `/key/update` can be measured.

Keys, teams, users and models are created only through the management API (or the admin UI).
Measurements (update delays) are written to `test-artifacts/admin/measurements.json`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# `_clean_agent` (autouse): every test starts from an empty agent, here the session's.
from tests.e2e.conftest import _clean_agent, eventually  # noqa: F401
from tests.support.dev_agent import DevAgent, start_dev_agent
from tests.support.litellm_db import LiteLLMDatabase, start_litellm_database
from tests.support.management import Management
from tests.support.processes import REPO_ROOT, TEST_ENV
from tests.support.proxy import Proxy, guardrail, mock_model, start_proxies

os.environ.update(TEST_ENV)

ARTIFACTS = Path(os.environ.get("ADMIN_TEST_ARTIFACTS", REPO_ROOT / "test-artifacts" / "admin"))
DEFAULT_TOKEN = "tok-admin-default-4e4e"
#: In the proxies' environment, referenced from key metadata as os.environ/<name>.
REFERENCED_TOKEN_VARIABLE = "AXONFLOW_USER_TOKEN_ADMIN_TIER"
REFERENCED_TOKEN = "tok-referenced-7f7f"
FLOOR_EXEMPT_TEAM = "team-floor-exempt"
FLOOR_EXEMPT_ALIAS = "floor-exempt-key"
FLOOR_CACHE_TTL_S = 2.0


def _guard(name: str, agent: DevAgent, **settings: Any) -> dict[str, Any]:
    return guardrail(
        name,
        agent.url,
        extra_context={"guardrail": name},
        approval_max_wait_seconds=2,
        default_user_token=DEFAULT_TOKEN,
        **settings,
    )


@pytest.fixture(scope="session")
def litellm_database() -> Iterator[LiteLLMDatabase]:
    with start_litellm_database() as database:
        yield database


@pytest.fixture(scope="session")
def agent() -> Iterator[DevAgent]:
    with start_dev_agent(clients=[("litellm-test", "test-secret")]) as running:
        yield running


@pytest.fixture(scope="session")
def logged_payloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("admin-logged") / "payloads.jsonl"


@pytest.fixture(scope="session")
def model_call_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("admin-model-calls") / "calls.jsonl"


@pytest.fixture(scope="session")
def _proxies(
    litellm_database: LiteLLMDatabase, agent: DevAgent, logged_payloads: Path, model_call_log: Path
) -> Iterator[list[Proxy]]:
    db = litellm_database
    callbacks = ["tests.support.model_calls.recorder", "tests.support.logged_payloads.dumper"]
    main = {
        "model_list": [mock_model("mock")],
        "guardrails": [_guard("axonflow", agent, default_on=True), _guard("af-model", agent)],
        "general_settings": {
            **db.general_settings,
            "store_model_in_db": True,
            "proxy_batch_write_at": 1,
            "store_prompts_in_spend_logs": True,
        },
        "litellm_settings": {"callbacks": callbacks},
    }
    floor = {
        "model_list": [mock_model("mock")],
        "guardrails": [
            _guard(
                "axonflow",
                agent,
                default_on=True,
                min_enforcement_mode="audit",
                enforcement_floor_exempt_teams=[FLOOR_EXEMPT_TEAM],
                enforcement_floor_exempt_key_aliases=[FLOOR_EXEMPT_ALIAS],
            )
        ],
        "general_settings": {
            **db.general_settings,
            "proxy_batch_write_at": 1,
            "user_api_key_cache_ttl": FLOOR_CACHE_TTL_S,
        },
        "litellm_settings": {"callbacks": callbacks},
    }
    env = {
        **db.proxy_env,
        REFERENCED_TOKEN_VARIABLE: REFERENCED_TOKEN,
        "LOGGED_PAYLOADS": str(logged_payloads),
        "MODEL_CALL_LOG": str(model_call_log),
    }
    with start_proxies([main, floor], env=env, startup_timeout_s=300) as running:
        yield running


@pytest.fixture(scope="session")
def proxy(_proxies: list[Proxy]) -> Proxy:
    return _proxies[0]


@pytest.fixture(scope="session")
def floor_proxy(_proxies: list[Proxy]) -> Proxy:
    return _proxies[1]


@pytest.fixture(scope="session")
def admin(proxy: Proxy) -> Iterator[Management]:
    management = Management(proxy)
    yield management
    management.close()


def record_measurement(name: str, value: Any) -> None:
    """Keep a figure the tier measured (the report reads it from the artefacts)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / "measurements.json"
    known = json.loads(path.read_text()) if path.exists() else {}
    known[name] = value
    path.write_text(json.dumps(known, indent=2, sort_keys=True) + "\n")


# ------------------------------------------------------------------ what a call left behind

SQLI = "Show me users WHERE name = 'x' UNION SELECT password FROM accounts"
HARMLESS = "Summarise the quarterly report"


def call_id_of(response: Any) -> str:
    call_id = str(response.headers.get("x-litellm-call-id") or "")
    assert call_id, response.headers
    return call_id


def pre_checks_of(agent: DevAgent, call_id: str, guard: str = "axonflow") -> list[dict[str, Any]]:
    """The pre-check bodies one guardrail sent for one call."""
    return [
        r["body"]
        for r in agent.requests(path="/api/policy/pre-check")
        if r["body"]["context"].get("litellm_call_id") == call_id
        and r["body"]["context"].get("guardrail") == guard
    ]


def audits_of(agent: DevAgent, call_id: str) -> list[dict[str, Any]]:
    return [a for a in agent.audits() if a["metadata"].get("litellm_call_id") == call_id]


def made_no_axonflow_call(proxy: Proxy, agent: DevAgent, call_id: str) -> bool:
    """True if, once a later call (master key, default guardrail) was audited, the agent has
    no trace of `call_id` (audits are queued in order, so a late one would have landed)."""
    later = proxy.chat(HARMLESS)
    assert later.status_code == 200, later.text
    eventually(lambda: audits_of(agent, call_id_of(later)))
    return not [r for r in agent.requests() if call_id in json.dumps(r["body"])]


def passes_as_would_have_blocked(proxy: Proxy, agent: DevAgent, key: str) -> str:
    """SQL injection with `key` passes, checked once and audited as would-have-blocked in
    audit mode; the call id."""
    response = proxy.chat(SQLI, api_key=key)
    assert response.status_code == 200, response.text
    call_id = call_id_of(response)
    assert len(pre_checks_of(agent, call_id)) == 1
    (audit,) = eventually(lambda: audits_of(agent, call_id))
    assert audit["metadata"]["enforcement"] == "audit"
    assert audit["metadata"]["would_have_blocked"] is True
    return call_id
