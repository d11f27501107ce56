"""What the provider will receive is what gets checked: the attacker's requests, refused.

One real proxy serves the module; its models are served by `FakeLLM`, which records every
request that reaches it, so "the blocked prompt never reached the model" is asserted on the
model's side of the wire. Each class of request that used to slip past the check is sent on
every route family, streaming and not, through a guardrail with `fail_open: true` and one with
`fail_open: false`:

- a prompt smuggled in `extra_body` (LiteLLM merges it into the provider request last);
- a malformed content part (it used to crash the extractor, and the crash failed open);
- text outside the known prompt fields: tool definitions, schemas, unknown keys, parameters;
- encoded text: base64 files and data URLs of text, and what cannot be decoded;
- routes LiteLLM runs no pre-call hook on (`/v1/messages/count_tokens`, ...).

Breakers per AxonFlow function and the half-open probe have their own tests at the end, as do
user tokens in LiteLLM's debug log lines.
"""

from __future__ import annotations

import base64
import concurrent.futures
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import details_of
from tests.support.dev_agent import DevAgent
from tests.support.fake_llm import FakeLLM, fake_model
from tests.support.proxy import Proxy, guardrail, start_proxy
from tests.support.route_clients import PATHS, PROMPT_FIELD, ROUTES, STREAM_ROUTES, body_for

pytestmark = pytest.mark.e2e

SQLI = "Show me users WHERE name = 'x' UNION SELECT password FROM accounts"
SSN = "123-45-6789"
HARMLESS = "Summarise the quarterly report"
FAIL_MODES = ("af-open", "af-closed")
PRE_CHECK = "/api/policy/pre-check"
CHECK_INPUT = "/api/v1/mcp/check-input"


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLLM]:
    with FakeLLM() as running:
        yield running


@pytest.fixture(autouse=True)
def _clean_llm(llm: FakeLLM) -> None:
    llm.reset()


@pytest.fixture(scope="module")
def proxy(agent: DevAgent, llm: FakeLLM) -> Iterator[Proxy]:
    common = {"breaker_failure_threshold": 1000, "audit_concurrency": 1}
    config = {
        "model_list": [fake_model(name, llm) for name in ("fake", "embed")],
        "guardrails": [
            guardrail("af-open", agent.url, fail_open=True, **common),
            guardrail("af-closed", agent.url, fail_open=False, **common),
            guardrail("af-placeholder", agent.url, unverifiable_content="placeholder", **common),
            # Breakers: opened by one failure; a probe is due almost at once (1 ms).
            guardrail(
                "af-breaker-open",
                agent.url,
                fail_open=True,
                breaker_failure_threshold=1,
                breaker_recovery_seconds=60,
                call_timeout_seconds=5.0,
            ),
            guardrail(
                "af-breaker-closed",
                agent.url,
                fail_open=False,
                breaker_failure_threshold=1,
                breaker_recovery_seconds=60,
                call_timeout_seconds=5.0,
            ),
            guardrail(
                "af-probe",
                agent.url,
                fail_open=True,
                breaker_failure_threshold=1,
                breaker_recovery_seconds=0.001,
                call_timeout_seconds=5.0,
            ),
        ],
    }
    with start_proxy(config) as running:
        yield running


def model_for(route: str) -> str:
    return "embed" if route == "embeddings" else "fake"


def post(
    proxy: Proxy, route: str, body: dict[str, Any], guard: str, *, stream: bool = False
) -> httpx.Response:
    full = {**body, "guardrails": [guard]}
    if stream:
        full["stream"] = True
    return proxy.post(PATHS[route], full)


def error_code(response: httpx.Response) -> str | None:
    """The guardrail's code, whatever the route's envelope (None where LiteLLM drops it)."""
    try:
        body = response.json()
    except ValueError:  # an SSE error frame
        for line in response.text.splitlines():
            if line.startswith("data: {"):
                body = json.loads(line[6:])
                break
        else:
            return None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        fields = error.get("provider_specific_fields") or {}
        return fields.get("code") or error.get("code")
    detail = body.get("detail") if isinstance(body, dict) else None
    return detail.get("code") if isinstance(detail, dict) else None


def upstream_text(llm: FakeLLM) -> str:
    return json.dumps([r["body"] for r in llm.requests()], ensure_ascii=False)


def assert_refused(response: httpx.Response, route: str, code: str, llm: FakeLLM) -> None:
    assert response.status_code == 400, (response.status_code, response.text[:500])
    if route != "completions":  # that route's error carries the message only (docs/routes.md)
        assert error_code(response) == code, response.text[:500]
    assert llm.requests() == []


def cases() -> list[tuple[str, bool, str]]:
    return [
        (route, stream, guard)
        for route in ROUTES
        for stream in ((False, True) if route in STREAM_ROUTES else (False,))
        for guard in FAIL_MODES
    ]


CASE_IDS = [f"{r}-{'stream' if s else 'plain'}-{g}" for r, s, g in cases()]


# ------------------------------------------------------------------ extra_body


@pytest.mark.parametrize(("route", "stream", "guard"), cases(), ids=CASE_IDS)
def test_a_prompt_smuggled_in_extra_body_is_refused(
    proxy: Proxy, llm: FakeLLM, route: str, stream: bool, guard: str
) -> None:
    body = body_for(route, model=model_for(route), user="hi", guard=None)
    smuggled = body_for(route, model=model_for(route), user=SQLI, guard=None)
    field = PROMPT_FIELD[route]
    body["extra_body"] = {field: smuggled[field]}
    response = post(proxy, route, body, guard, stream=stream)
    assert_refused(response, route, "field_not_allowed", llm)
    assert SQLI not in upstream_text(llm)


def test_masking_cannot_be_defeated_through_extra_body(proxy: Proxy, llm: FakeLLM) -> None:
    body = body_for("chat", model="fake", user="hi", guard=None)
    body["extra_body"] = {"messages": [{"role": "user", "content": f"my SSN is {SSN}"}]}
    response = post(proxy, "chat", body, "af-open")
    assert_refused(response, "chat", "field_not_allowed", llm)


def test_other_extra_body_parameters_are_checked(proxy: Proxy, llm: FakeLLM) -> None:
    body = body_for("chat", model="fake", user="hi", guard=None)
    body["extra_body"] = {"provider_notes": SQLI}
    response = post(proxy, "chat", body, "af-open")
    assert_refused(response, "chat", "policy_denied", llm)


# ------------------------------------------------------------------ malformed input


def malformed(route: str) -> dict[str, Any]:
    """A request whose content part's `type` is a list: it used to crash the extractor."""
    bad_part = {"type": ["text"], "text": SQLI}
    model = model_for(route)
    if route == "chat":
        return {"model": model, "messages": [{"role": "user", "content": [bad_part]}]}
    if route == "responses":
        return {"model": model, "input": [{"role": "user", "content": [bad_part]}]}
    if route == "messages":
        return {
            "model": model,
            "max_tokens": 64,
            "messages": [{"role": "user", "content": [bad_part]}],
        }
    if route == "completions":
        return {"model": model, "prompt": [bad_part]}
    return {"model": model, "input": [bad_part]}


@pytest.mark.parametrize(("route", "stream", "guard"), cases(), ids=CASE_IDS)
def test_a_malformed_part_is_a_client_error_never_a_fail_open_pass(
    proxy: Proxy, agent: DevAgent, llm: FakeLLM, route: str, stream: bool, guard: str
) -> None:
    response = post(proxy, route, malformed(route), guard, stream=stream)
    assert_refused(response, route, "malformed_request", llm)
    assert agent.requests(path=PRE_CHECK) == []  # refused before AxonFlow is asked
    assert "internal error" not in proxy.output()


# ------------------------------------------------------------------ text outside prompt fields


def with_extra(route: str, prompt: str, **extra: Any) -> dict[str, Any]:
    return {**body_for(route, model=model_for(route), user=prompt, guard=None), **extra}


TOOL = {
    "type": "function",
    "function": {"name": "run_report", "description": SQLI, "parameters": {"type": "object"}},
}
SCHEMA = {"type": "object", "properties": {"a": {"type": "string", "description": SQLI}}}
OUTSIDE_CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "chat-tool-description": ("chat", {"tools": [TOOL]}),
    "chat-function-definition": ("chat", {"functions": [{"name": "f", "description": SQLI}]}),
    "chat-response-format-schema": (
        "chat",
        {
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "s", "schema": SCHEMA},
            }
        },
    ),
    "chat-provider-parameter": ("chat", {"x_provider_context": {"notes": [SQLI]}}),
    "responses-text-format": (
        "responses",
        {"text": {"format": {"type": "json_schema", "name": "s", "schema": SCHEMA}}},
    ),
    "responses-tool": (
        "responses",
        {"tools": [{"type": "function", "name": "f", "description": SQLI, "parameters": {}}]},
    ),
    "messages-anthropic-tool": (
        "messages",
        {"tools": [{"name": "t", "description": SQLI, "input_schema": {"type": "object"}}]},
    ),
    "completions-parameter": ("completions", {"x_instructions": SQLI}),
    "embeddings-parameter": ("embeddings", {"x_context": SQLI}),
}


#: Every case plain, and streamed where its route streams (embeddings do not).
OUTSIDE_RUNS = [
    pytest.param(case, stream, id=f"{case}-{'stream' if stream else 'plain'}")
    for case in sorted(OUTSIDE_CASES)
    for stream in (False, True)
    if not stream or OUTSIDE_CASES[case][0] in STREAM_ROUTES
]


@pytest.mark.parametrize(("case", "stream"), OUTSIDE_RUNS)
def test_text_outside_the_prompt_fields_is_checked(
    proxy: Proxy, llm: FakeLLM, case: str, stream: bool
) -> None:
    route, extra = OUTSIDE_CASES[case]
    response = post(proxy, route, with_extra(route, HARMLESS, **extra), "af-open", stream=stream)
    assert_refused(response, route, "policy_denied", llm)


def test_unknown_keys_on_messages_and_parts_are_checked(proxy: Proxy, llm: FakeLLM) -> None:
    body = {
        "model": "fake",
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": HARMLESS, "x_note": SQLI}],
            }
        ],
    }
    assert_refused(post(proxy, "chat", body, "af-closed"), "chat", "policy_denied", llm)


def test_pii_in_a_tool_definition_is_never_sent_unmasked(proxy: Proxy, llm: FakeLLM) -> None:
    tool = {"type": "function", "function": {"name": "f", "description": f"call {SSN}"}}
    response = post(proxy, "chat", with_extra("chat", HARMLESS, tools=[tool]), "af-open")
    assert_refused(response, "chat", "redaction_failed", llm)
    assert SSN not in upstream_text(llm)


# ------------------------------------------------------------------ encoded content


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def file_part(route: str, media_type: str, text: str) -> dict[str, Any]:
    model = model_for(route)
    if route == "chat":
        part = {"type": "file", "file": {"file_data": f"data:{media_type};base64,{b64(text)}"}}
        return {
            "model": model,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "see file"}, part]}],
        }
    if route == "responses":
        part = {
            "type": "input_file",
            "filename": "notes.txt",
            "file_data": f"data:{media_type};base64,{b64(text)}",
        }
        return {
            "model": model,
            "input": [
                {"role": "user", "content": [{"type": "input_text", "text": "see file"}, part]}
            ],
        }
    block = {
        "type": "document",
        "source": {"type": "base64", "media_type": media_type, "data": b64(text)},
    }
    return {
        "model": model,
        "max_tokens": 64,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "see file"}, block]}],
    }


@pytest.mark.parametrize("route", ["chat", "responses", "messages"])
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_a_base64_text_file_is_decoded_and_checked(
    proxy: Proxy, llm: FakeLLM, route: str, stream: bool
) -> None:
    response = post(proxy, route, file_part(route, "text/plain", SQLI), "af-open", stream=stream)
    assert_refused(response, route, "policy_denied", llm)


@pytest.mark.parametrize("route", ["chat", "responses", "messages"])
def test_a_binary_file_is_refused_as_unverifiable_by_default(
    proxy: Proxy, llm: FakeLLM, route: str
) -> None:
    response = post(proxy, route, file_part(route, "application/pdf", "%PDF-1.7"), "af-open")
    assert_refused(response, route, "unverifiable_content", llm)


def test_token_ids_are_refused_as_unverifiable(proxy: Proxy, llm: FakeLLM) -> None:
    body = {"model": "fake", "prompt": [[9906, 1917]]}
    for guard in FAIL_MODES:
        response = post(proxy, "completions", body, guard)
        assert_refused(response, "completions", "unverifiable_content", llm)


def test_placeholders_are_allowed_when_the_operator_chooses_them(
    proxy: Proxy, agent: DevAgent, llm: FakeLLM
) -> None:
    response = post(proxy, "chat", file_part("chat", "application/pdf", "%PDF"), "af-placeholder")
    assert response.status_code == 200, response.text
    (check,) = agent.requests(path=PRE_CHECK)
    assert "[file]" in check["body"]["query"]


# ------------------------------------------------------------------ routes without the hook


def count_tokens(proxy: Proxy, prompt: str, guard: str) -> httpx.Response:
    body = {
        "model": "fake",
        "messages": [{"role": "user", "content": prompt}],
        "guardrails": [guard],
    }
    return proxy.post("/v1/messages/count_tokens", body)


@pytest.mark.parametrize("guard", FAIL_MODES)
def test_count_tokens_is_checked_like_a_message_request(
    proxy: Proxy, agent: DevAgent, llm: FakeLLM, guard: str
) -> None:
    refused = count_tokens(proxy, SQLI, guard)
    assert refused.status_code == 400, refused.text
    assert "policy_denied" in refused.text
    assert llm.requests() == []
    allowed = count_tokens(proxy, HARMLESS, guard)
    assert allowed.status_code == 200, allowed.text
    queries = [r["body"]["query"] for r in agent.requests(path=PRE_CHECK)]
    assert len(queries) == 2
    assert SQLI in queries[0]


def test_token_counter_with_the_provider_call_is_checked(proxy: Proxy, llm: FakeLLM) -> None:
    body = {
        "model": "fake",
        "messages": [{"role": "user", "content": SQLI}],
        "guardrails": ["af-open"],
    }
    response = proxy.post("/utils/token_counter?call_endpoint=true", body)
    assert response.status_code == 400, response.text
    assert llm.requests() == []


def test_assistants_thread_message_is_checked(proxy: Proxy, llm: FakeLLM) -> None:
    body = {
        "role": "user",
        "content": SQLI,
        "custom_llm_provider": "openai",
        "guardrails": ["af-closed"],
    }
    response = proxy.post("/v1/threads/thread_abc/messages", body)
    assert response.status_code == 400, response.text
    assert "policy_denied" in response.text


# ------------------------------------------------------------------ breakers per function


def test_a_failing_masking_route_does_not_open_the_pre_check_breaker(
    proxy: Proxy, agent: DevAgent, llm: FakeLLM
) -> None:
    for guard in ("af-breaker-open", "af-breaker-closed"):
        agent.set_fault(CHECK_INPUT, status=500)
        masked = proxy.chat(f"my SSN is {SSN}", model="fake", guardrails=[guard])
        # Masking could not be done: never sent unmasked, whatever fail_open says.
        assert masked.status_code == 503, masked.text
        again = proxy.chat(f"my SSN is {SSN}", model="fake", guardrails=[guard])
        assert again.status_code == 503, again.text  # its breaker is open now
        assert SSN not in upstream_text(llm)
        # Requests that need only the pre-check are governed as usual.
        blocked = proxy.chat(SQLI, model="fake", guardrails=[guard])
        assert blocked.status_code == 400, blocked.text
        assert details_of(blocked)["code"] == "policy_denied"
        allowed = proxy.chat(HARMLESS, model="fake", guardrails=[guard])
        assert allowed.status_code == 200, allowed.text
        agent.reset()
        llm.reset()


def test_no_request_of_a_burst_passes_ungoverned_while_the_breaker_half_opens(
    proxy: Proxy, agent: DevAgent, llm: FakeLLM
) -> None:
    # Open af-probe's breaker with one failed pre-check (fail_open: that request passes).
    agent.set_fault(PRE_CHECK, status=503, times=1)
    opened = proxy.chat(HARMLESS, model="fake", guardrails=["af-probe"])
    assert opened.status_code == 200, opened.text
    llm.reset()
    # The probe (the burst's first pre-check) answers slowly; everyone else must wait for it.
    agent.set_fault(PRE_CHECK, delay_s=1.0, times=1)

    def blocked_prompt(_: int) -> httpx.Response:
        return proxy.chat(SQLI, model="fake", guardrails=["af-probe"])

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(blocked_prompt, range(8)))

    assert [r.status_code for r in responses] == [400] * 8, [r.text[:200] for r in responses]
    assert llm.requests() == []
    # (The shipper's later, retroactive pre-check of the fail-open pass is not the burst's.)
    on_request_path = [
        r for r in agent.requests(path=PRE_CHECK) if not r["body"]["context"].get("retroactive")
    ]
    assert len(on_request_path) == 1 + 8


# ------------------------------------------------------------------ user tokens in debug logs


def test_user_tokens_stay_out_of_litellms_debug_log(agent: DevAgent) -> None:
    config = {
        "model_list": [
            {
                "model_name": "mock",
                "litellm_params": {"model": "openai/m", "api_key": "sk-x", "mock_response": "ok"},
            }
        ],
        "guardrails": [
            guardrail("axonflow", agent.url, default_on=True, allow_client_user_token=True)
        ],
        "general_settings": {"custom_auth": "tests.support.custom_auth.user_api_key_auth"},
    }
    with start_proxy(config, env={"LITELLM_LOG": "DEBUG"}) as debug_proxy:
        first = debug_proxy.chat(
            HARMLESS, api_key="sk-en-team-token", headers={"x-axonflow-user-token": "tok-hdr-77"}
        )
        second = debug_proxy.chat(HARMLESS, api_key="sk-en-key-token")
        assert (first.status_code, second.status_code) == (200, 200)
        tokens = [r["body"]["user_token"] for r in agent.requests(path=PRE_CHECK)]
        assert tokens == ["tok-team-8c2f", "tok-key-5b1e"]  # they did reach AxonFlow
        output = debug_proxy.output()
    assert "Request Headers" in output  # the debug lines are there
    for secret in ("tok-hdr-77", "tok-key-5b1e", "tok-team-8c2f"):
        assert secret not in output, secret
