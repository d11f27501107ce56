"""Turning governance on per model, key and team; shadow (audit) mode; identity to AxonFlow.

One proxy serves the module, with keys and teams from `tests.support.custom_auth`
(`sk-en-*`; LiteLLM's own virtual keys need Postgres). Its guardrails:

- `axonflow`: `default_on`, enforcing unless a key or team says otherwise;
- `af-model`: on the `governed` model only (`model_list[].litellm_params.guardrails`);
- `af-client-token`: per request, accepts the client's user-token header;
- `af-audit`: per request, `enforcement_mode: audit` on the guardrail itself.

Each guardrail puts its name in the pre-check context (`extra_context`), so a test can tell
whose pre-check it is looking at. Keys opted out of `axonflow` (`sk-en-opted-out`,
`sk-en-solo-enforce`) isolate the per-model and per-request guardrails.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from axonflow.hitl import HITLQueueListOptions

from tests.e2e.conftest import details_of, eventually
from tests.support import litellm_release as release
from tests.support.dev_agent import DevAgent
from tests.support.logged_payloads import read_logged_payloads
from tests.support.model_calls import read_model_calls
from tests.support.proxy import Proxy, guardrail, mock_model, start_proxy

pytestmark = pytest.mark.e2e

SQLI = "Show me users WHERE name = 'x' UNION SELECT password FROM accounts"
WIRE = "Please send a wire transfer of 9000 EUR to account DE00 1234"
HARMLESS = "Summarise the quarterly report"
DEFAULT_TOKEN = "tok-default-0d0d"
HEADER_TOKEN = "tok-header-9a9a"
KEY_TOKEN = "tok-key-5b1e"  # in tests.support.custom_auth
TEAM_TOKEN = "tok-team-8c2f"
TOKEN_HEADER = "x-axonflow-user-token"
OPTED_OUT = "sk-en-opted-out"  # skips the default_on guardrail, nothing else


def _guard(name: str, agent: DevAgent, **settings: Any) -> dict[str, Any]:
    # No test here expects a held request; a short wait bounds any accident.
    return guardrail(
        name,
        agent.url,
        extra_context={"guardrail": name},
        approval_max_wait_seconds=2,
        **settings,
    )


@pytest.fixture(scope="module")
def logged_payloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logged") / "payloads.jsonl"


@pytest.fixture(scope="module")
def proxy(agent: DevAgent, model_call_log: Path, logged_payloads: Path) -> Iterator[Proxy]:
    governed = mock_model("governed", guardrails=["af-model"])
    config = {
        "model_list": [mock_model("mock"), governed],
        "guardrails": [
            _guard("axonflow", agent, default_on=True, default_user_token=DEFAULT_TOKEN),
            _guard("af-model", agent),
            _guard("af-client-token", agent, allow_client_user_token=True),
            _guard("af-audit", agent, enforcement_mode="audit"),
        ],
        "general_settings": {"custom_auth": "tests.support.custom_auth.user_api_key_auth"},
        "litellm_settings": {
            "callbacks": [
                "tests.support.model_calls.recorder",
                "tests.support.logged_payloads.dumper",
            ]
        },
    }
    env = {"MODEL_CALL_LOG": str(model_call_log), "LOGGED_PAYLOADS": str(logged_payloads)}
    with start_proxy(config, env=env) as running:
        yield running


# ------------------------------------------------------------------ helpers


def call_id_of(response: httpx.Response) -> str:
    call_id = str(response.headers.get("x-litellm-call-id") or "")
    assert call_id, response.headers
    return call_id


def pre_checks(agent: DevAgent, call_id: str, guard: str | None = None) -> list[dict[str, Any]]:
    """Pre-check bodies for one call (optionally one guardrail's)."""
    bodies = [r["body"] for r in agent.requests(path="/api/policy/pre-check")]
    return [
        b
        for b in bodies
        if b["context"].get("litellm_call_id") == call_id
        and (guard is None or b["context"].get("guardrail") == guard)
    ]


def audits_for(agent: DevAgent, call_id: str) -> list[dict[str, Any]]:
    return [a for a in agent.audits() if a["metadata"].get("litellm_call_id") == call_id]


def audit_of(agent: DevAgent, call_id: str) -> dict[str, Any]:
    return eventually(lambda: audits_for(agent, call_id))[0]


def settle(proxy: Proxy, agent: DevAgent, *, key: str, model: str = "mock") -> None:
    """Send a later harmless call through the same guardrail and wait for its audit.

    Audits are queued in order, so an audit of an earlier call (or a duplicate) would have
    landed by then: absence can be asserted without sleeping.
    """
    later = proxy.chat(HARMLESS, api_key=key, model=model)
    assert later.status_code == 200, later.text
    audit_of(agent, call_id_of(later))


def reached_model(model_call_log: Path, call_id: str) -> bool:
    return any(
        c["kind"] == "success" and c.get("litellm_call_id") == call_id
        for c in read_model_calls(model_call_log)
    )


def our_guardrail_info(model_call_log: Path, call_id: str, guard: str) -> dict[str, Any]:
    def logged() -> list[dict[str, Any]]:
        return [
            g
            for c in read_model_calls(model_call_log)
            if c.get("litellm_call_id") == call_id
            for g in c.get("guardrail_information") or []
            if g.get("guardrail_name") == guard
        ]

    return eventually(logged)[0]


# ------------------------------------------------------------------ custom_auth contract


def test_custom_auth_answers_for_every_key(proxy: Proxy, agent: DevAgent) -> None:
    unknown = proxy.chat(HARMLESS, api_key="sk-not-a-key")
    assert unknown.status_code == 401, unknown.text
    assert agent.requests(path="/api/policy/pre-check") == []
    # With custom_auth, LiteLLM no longer checks the master key itself: our table maps it.
    master = proxy.chat(SQLI)
    assert master.status_code == 400, master.text


# ------------------------------------------------------------------ per key / per team


@pytest.mark.compat_core
def test_key_set_to_enforce_blocks_sql_injection(
    proxy: Proxy, agent: DevAgent, model_call_log: Path
) -> None:
    response = proxy.chat(SQLI, api_key="sk-en-enforce")
    assert response.status_code == 400, response.text
    details = details_of(response)
    assert details["code"] == "policy_denied"
    assert "sys_sqli_union_select" in details["policies"]
    call_id = call_id_of(response)
    (body,) = pre_checks(agent, call_id, "axonflow")
    assert body["context"]["key_alias"] == "enforce-key"
    assert not reached_model(model_call_log, call_id)


@pytest.mark.compat_core
def test_key_set_to_audit_passes_and_records_would_have_blocked(
    proxy: Proxy, agent: DevAgent, model_call_log: Path
) -> None:
    response = proxy.chat(SQLI, api_key="sk-en-audit")
    assert response.status_code == 200, response.text
    call_id = call_id_of(response)
    assert len(pre_checks(agent, call_id, "axonflow")) == 1
    audit = audit_of(agent, call_id)
    assert audit["metadata"]["would_have_blocked"] is True
    assert audit["metadata"]["enforcement"] == "audit"
    info = our_guardrail_info(model_call_log, call_id, "axonflow")
    assert info["guardrail_status"] == "guardrail_flagged"
    assert info["guardrail_response"]["would_have_blocked"] is True
    assert info["guardrail_response"]["verdict"] == "deny"
    assert reached_model(model_call_log, call_id)


@pytest.mark.compat_core
def test_key_set_to_off_makes_no_axonflow_call(
    proxy: Proxy, agent: DevAgent, model_call_log: Path
) -> None:
    response = proxy.chat(SQLI, api_key="sk-en-off")
    assert response.status_code == 200, response.text
    call_id = call_id_of(response)
    settle(proxy, agent, key="sk-en-plain")
    mentions = [r for r in agent.requests() if call_id in json.dumps(r["body"])]
    assert mentions == []
    info = our_guardrail_info(model_call_log, call_id, "axonflow")
    assert info["guardrail_status"] == "not_run"
    assert info["guardrail_response"] == {"enforcement": "off"}


@pytest.mark.parametrize(
    ("key", "status", "checked"),
    [
        ("sk-en-team-audit", 200, True),  # key silent, team audit
        ("sk-en-team-off", 200, False),  # key silent, team off
        ("sk-en-key-enforce-team-off", 400, True),  # key over team
    ],
)
def test_team_level_applies_when_the_key_says_nothing(
    proxy: Proxy, agent: DevAgent, key: str, status: int, checked: bool
) -> None:
    response = proxy.chat(SQLI, api_key=key)
    assert response.status_code == status, response.text
    call_id = call_id_of(response)
    assert len(pre_checks(agent, call_id)) == (1 if checked else 0)
    if key == "sk-en-team-audit":
        assert audit_of(agent, call_id)["metadata"]["would_have_blocked"] is True


@pytest.mark.compat_core
@pytest.mark.parametrize("key", ["sk-en-opted-out", "sk-en-disable-global", "sk-en-team-opted-out"])
def test_litellm_opt_outs_in_key_or_team_metadata_skip_the_default_guardrail(
    proxy: Proxy, agent: DevAgent, key: str
) -> None:
    response = proxy.chat(SQLI, api_key=key)
    assert response.status_code == 200, response.text
    assert pre_checks(agent, call_id_of(response)) == []


FORGED_OFF = {"axonflow_enforcement_mode": "off", "disable_global_guardrails": True}
BODY_TRICKS: list[tuple[str, dict[str, Any], dict[str, str]]] = [
    ("empty-guardrails", {"guardrails": []}, {}),
    ("root-disable", {"disable_global_guardrails": True}, {}),
    ("root-opt-out", {"opted_out_global_guardrails": ["axonflow"]}, {}),
    ("root-mode", {"axonflow_enforcement_mode": "off"}, {}),
    (
        "metadata-settings",
        {
            "metadata": {
                **FORGED_OFF,
                "opted_out_global_guardrails": ["axonflow"],
                "guardrails": [],
            }
        },
        {},
    ),
    (
        "forged-key-metadata",
        {
            "metadata": {
                "user_api_key_metadata": FORGED_OFF,
                "user_api_key_team_metadata": FORGED_OFF,
            }
        },
        {},
    ),
    (
        "forged-litellm-metadata",
        {
            "litellm_metadata": {
                **FORGED_OFF,
                "user_api_key_metadata": FORGED_OFF,
                "user_api_key_team_metadata": FORGED_OFF,
            }
        },
        {},
    ),
    ("header", {}, {"x-axonflow-enforcement-mode": "off"}),
]


@pytest.mark.parametrize(("name", "body", "headers"), BODY_TRICKS, ids=[t[0] for t in BODY_TRICKS])
@pytest.mark.parametrize("key", ["sk-en-plain", "sk-en-enforce"])
def test_nothing_in_the_request_turns_governance_off(
    proxy: Proxy,
    agent: DevAgent,
    name: str,
    body: dict[str, Any],
    headers: dict[str, str],
    key: str,
) -> None:
    response = proxy.chat(SQLI, api_key=key, headers=headers, **body)
    assert response.status_code == 400, response.text
    assert details_of(response)["code"] == "policy_denied"
    assert len(pre_checks(agent, call_id_of(response), "axonflow")) == 1


def test_litellm_itself_refuses_forged_auth_metadata(
    proxy: Proxy, agent: DevAgent, model_call_log: Path
) -> None:
    """`metadata.user_api_key_auth_metadata` is on LiteLLM's banned list: refused before auth.

    (500 on this machine: LiteLLM's auth-error path imports Prisma, which is not installed.)
    """
    prompt = f"{SQLI} -- forged auth metadata"
    forged = {"user_api_key_auth_metadata": FORGED_OFF}
    response = proxy.chat(prompt, api_key="sk-en-plain", metadata=forged)
    assert response.status_code >= 400, response.text
    assert agent.requests(path="/api/policy/pre-check") == []
    # Model calls are logged in order: once a later call is logged, this one would be too.
    later = proxy.chat(HARMLESS, api_key="sk-en-plain")
    eventually(lambda: reached_model(model_call_log, call_id_of(later)))
    assert prompt not in model_call_log.read_text()


def test_audit_mode_creates_no_approval(
    proxy: Proxy, agent: DevAgent, model_call_log: Path
) -> None:
    response = proxy.chat(WIRE, api_key="sk-en-audit")
    assert response.status_code == 200, response.text
    call_id = call_id_of(response)
    audit = audit_of(agent, call_id)
    assert audit["metadata"]["would_have_blocked"] is True
    assert "approval_request_id" not in audit["metadata"]
    info = our_guardrail_info(model_call_log, call_id, "axonflow")
    assert info["guardrail_response"]["verdict"] == "needs_approval"
    hitl = [r for r in agent.requests() if r["path"].startswith("/api/v1/hitl")]
    assert hitl == []
    assert asyncio.run(queued_approvals(agent)) == 0


async def queued_approvals(agent: DevAgent) -> int:
    """Rows in the agent's approval queue, any status, as the SDK lists them."""
    sdk = agent.sdk_client()
    try:
        listed = await sdk.list_hitl_queue(HITLQueueListOptions(limit=100))
        return len(listed.items)
    finally:
        await sdk.close()


def test_audit_mode_never_rewrites_the_request(
    proxy: Proxy, agent: DevAgent, model_call_log: Path
) -> None:
    """A redact verdict in shadow mode is recorded; the model gets the request unchanged."""
    prompt = "Charge my card 4111 1111 1111 1111 for the order"
    response = proxy.chat(prompt, api_key="sk-en-audit")
    assert response.status_code == 200, response.text
    call_id = call_id_of(response)
    info = our_guardrail_info(model_call_log, call_id, "axonflow")
    assert info["guardrail_response"]["verdict"] == "redact"
    assert info["guardrail_response"]["enforcement"] == "audit"
    sent = [
        c
        for c in read_model_calls(model_call_log)
        if c["kind"] == "success" and c.get("litellm_call_id") == call_id
    ]
    assert "4111 1111 1111 1111" in json.dumps(sent[0]["messages"])
    assert not [r for r in agent.requests() if r["path"] == "/api/v1/mcp/check-input"]


# ------------------------------------------------------------------ per request / per model


def test_per_request_selection_and_guardrail_level_audit(proxy: Proxy, agent: DevAgent) -> None:
    # Not named: the non-default guardrails do not run.
    plain = proxy.chat(SQLI, api_key=OPTED_OUT)
    assert plain.status_code == 200, plain.text
    assert pre_checks(agent, call_id_of(plain)) == []
    # Named: runs, in its own (audit) mode.
    audited = proxy.chat(SQLI, api_key=OPTED_OUT, guardrails=["af-audit"])
    assert audited.status_code == 200, audited.text
    call_id = call_id_of(audited)
    assert len(pre_checks(agent, call_id, "af-audit")) == 1
    assert audit_of(agent, call_id)["metadata"]["would_have_blocked"] is True
    # A key's level beats the guardrail's own setting.
    enforced = proxy.chat(SQLI, api_key="sk-en-solo-enforce", guardrails=["af-audit"])
    assert enforced.status_code == 400, enforced.text
    assert len(pre_checks(agent, call_id_of(enforced), "af-audit")) == 1


@pytest.mark.compat_core
def test_per_model_guardrail_governs_only_its_model(proxy: Proxy, agent: DevAgent) -> None:
    other = proxy.chat(SQLI, api_key=OPTED_OUT, model="mock")
    assert other.status_code == 200, other.text
    assert pre_checks(agent, call_id_of(other)) == []

    extras: list[dict[str, Any]] = [{}, {"guardrails": []}, {"metadata": {"guardrails": []}}]
    for extra in extras:
        governed = proxy.chat(SQLI, api_key=OPTED_OUT, model="governed", **extra)
        assert governed.status_code == 400, (extra, governed.text)
        assert details_of(governed)["code"] == "policy_denied"
        (body,) = pre_checks(agent, call_id_of(governed))
        assert body["context"]["guardrail"] == "af-model"
        # Older LiteLLM hands model-level guardrails the deployment's model name.
        public = release.MODEL_GUARDRAILS_SEE_PUBLIC_NAME
        assert body["context"]["model"] == ("governed" if public else "openai/governed")


@pytest.mark.compat_core
def test_per_model_guardrail_audits_exactly_once(
    proxy: Proxy, agent: DevAgent, model_call_log: Path
) -> None:
    response = proxy.chat(HARMLESS, api_key=OPTED_OUT, model="governed")
    assert response.status_code == 200, response.text
    call_id = call_id_of(response)
    audit_of(agent, call_id)
    # LiteLLM runs post-call hooks twice for model-level guardrails; a duplicate audit would
    # be queued right behind the first, so it has landed once a later call's audit has.
    settle(proxy, agent, key=OPTED_OUT, model="governed")
    mine = audits_for(agent, call_id)
    assert len(mine) == 1, mine
    assert mine[0]["metadata"]["guardrail"] == "af-model"
    assert len(pre_checks(agent, call_id)) == 1
    assert reached_model(model_call_log, call_id)


def test_default_and_model_guardrails_each_check_and_audit_once(
    proxy: Proxy, agent: DevAgent
) -> None:
    response = proxy.chat(HARMLESS, api_key="sk-en-plain", model="governed")
    assert response.status_code == 200, response.text
    call_id = call_id_of(response)
    assert sorted(b["context"]["guardrail"] for b in pre_checks(agent, call_id)) == [
        "af-model",
        "axonflow",
    ]
    eventually(lambda: len(audits_for(agent, call_id)) >= 2)
    settle(proxy, agent, key="sk-en-plain", model="governed")
    guards = sorted(a["metadata"]["guardrail"] for a in audits_for(agent, call_id))
    assert guards == ["af-model", "axonflow"]


# ------------------------------------------------------------------ the applied-guardrails header


def test_the_applied_guardrails_header_names_who_governed_the_answer(
    proxy: Proxy, agent: DevAgent
) -> None:
    header = "x-litellm-applied-guardrails"
    plain = proxy.chat(HARMLESS, api_key="sk-en-plain")
    assert plain.headers.get(header) == "axonflow"
    both = proxy.chat(HARMLESS, api_key="sk-en-plain", model="governed")
    assert sorted(both.headers[header].split(",")) == ["af-model", "axonflow"]
    agent.set_fault("/api/policy/pre-check", status=503, times=1)
    unscanned = proxy.chat(HARMLESS, api_key="sk-en-plain")
    assert unscanned.status_code == 200, unscanned.text
    assert unscanned.headers.get(header) == "axonflow:unscanned"  # failed open: not scanned
    opted_out = proxy.chat(HARMLESS, api_key=OPTED_OUT)
    assert header not in opted_out.headers


# ------------------------------------------------------------------ identity


def test_pre_check_context_carries_litellm_identity(proxy: Proxy, agent: DevAgent) -> None:
    response = proxy.chat(HARMLESS, api_key="sk-en-audit", user="end-user-42")
    assert response.status_code == 200, response.text
    (body,) = pre_checks(agent, call_id_of(response), "axonflow")
    context = body["context"]
    assert context["user_id"] == "user-audit"
    assert context["team_id"] == "team-plain"
    assert context["key_alias"] == "audit-key"
    assert context["org_id"] == "org-acme"
    assert context["end_user_id"] == "end-user-42"
    assert context["guardrail"] == "axonflow"  # the operator's extra_context


# (key, per-request guardrails, send the header, guardrail to look at, token, source)
TOKEN_CASES: list[tuple[str, list[str] | None, bool, str, str, str]] = [
    ("sk-en-key-token", None, True, "axonflow", KEY_TOKEN, "key_metadata"),
    ("sk-en-team-token", None, True, "axonflow", TEAM_TOKEN, "team_metadata"),
    ("sk-en-plain", None, True, "axonflow", DEFAULT_TOKEN, "default"),  # header not allowed
    (OPTED_OUT, ["af-client-token"], True, "af-client-token", HEADER_TOKEN, "client_header"),
    (OPTED_OUT, ["af-client-token"], False, "af-client-token", "anonymous", "default"),
    # Allowed, but the operator's key token still wins over the client's header.
    ("sk-en-key-token", ["af-client-token"], True, "af-client-token", KEY_TOKEN, "key_metadata"),
]


@pytest.mark.parametrize(
    ("key", "guards", "send_header", "guard", "token", "source"),
    TOKEN_CASES,
    ids=["key", "team", "header-ignored", "header-allowed", "default", "key-over-header"],
)
def test_user_token_reaches_axonflow_from_each_source(
    proxy: Proxy,
    agent: DevAgent,
    key: str,
    guards: list[str] | None,
    send_header: bool,
    guard: str,
    token: str,
    source: str,
) -> None:
    headers = {TOKEN_HEADER: HEADER_TOKEN} if send_header else {}
    response = proxy.chat(HARMLESS, api_key=key, guardrails=guards, headers=headers)
    assert response.status_code == 200, response.text
    call_id = call_id_of(response)
    (body,) = pre_checks(agent, call_id, guard)
    assert body["user_token"] == token
    audits = eventually(
        lambda: [a for a in audits_for(agent, call_id) if a["metadata"]["guardrail"] == guard]
    )
    assert audits[0]["metadata"]["user_token_source"] == source


def test_user_tokens_stay_out_of_litellm_logs(
    proxy: Proxy, agent: DevAgent, logged_payloads: Path
) -> None:
    """Key/team tokens and the header are scrubbed from every copy LiteLLM logs."""
    headers = {TOKEN_HEADER: HEADER_TOKEN}
    calls = [
        proxy.chat(HARMLESS, api_key="sk-en-key-token", headers=headers),  # success
        proxy.chat(SQLI, api_key="sk-en-key-token", headers=headers),  # blocked: failure log
        proxy.chat(HARMLESS, api_key=OPTED_OUT, guardrails=["af-client-token"], headers=headers),
    ]
    assert [c.status_code for c in calls] == [200, 400, 200]
    ids = [call_id_of(c) for c in calls]
    # The tokens did reach AxonFlow.
    assert pre_checks(agent, ids[0])[0]["user_token"] == KEY_TOKEN
    assert pre_checks(agent, ids[2])[0]["user_token"] == HEADER_TOKEN

    def logged() -> list[dict[str, Any]] | None:
        records = [r for r in read_logged_payloads(logged_payloads) if r["litellm_call_id"] in ids]
        return records if {r["litellm_call_id"] for r in records} == set(ids) else None

    records = eventually(logged)
    assert {r["kind"] for r in records} >= {"success", "failure"}
    for record in records:
        text = json.dumps(record)
        for secret in (KEY_TOKEN, TEAM_TOKEN, HEADER_TOKEN):
            assert secret not in text, (secret, record["kind"])
        assert "redacted by axonflow guardrail" in text  # the copies were there, scrubbed
