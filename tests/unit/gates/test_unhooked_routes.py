"""Which requests the route guard governs, and what it reports as ungovernable."""

from __future__ import annotations

import sys
import types

import pytest

from axonflow_guardrail.gates._unhooked_routes import (
    install_route_guard,
    ungoverned_features,
    unhooked_route,
)


@pytest.mark.parametrize(
    ("path", "query", "expected"),
    [
        ("/v1/messages/count_tokens", {}, "anthropic_count_tokens"),
        ("/claude_code_gateway/v1/messages/count_tokens", {}, "anthropic_count_tokens"),
        ("/utils/token_counter", {"call_endpoint": "true"}, "token_counter"),
        ("/utils/token_counter", {}, None),  # counted locally: nothing leaves the proxy
        ("/v1/responses/input_tokens", {}, "responses_input_tokens"),
        ("/v1beta/models/gemini-pro:countTokens", {}, "google_count_tokens"),
        ("/v1/rag/query", {}, "rag"),
        ("/queue/chat/completions", {}, "queue_chat_completions"),
        ("/v1/assistants", {}, "assistants"),
        ("/v1/threads/thread_1/runs", {}, "thread_messages_and_runs"),
        ("/azure/openai/deployments/x/chat/completions", {}, "azure_pass_through"),
        ("/v1/chat/completions", {}, None),  # LiteLLM runs its hooks there
        ("/v1/messages", {}, None),
    ],
)
def test_unhooked_routes_are_recognised(
    path: str, query: dict[str, str], expected: str | None
) -> None:
    assert unhooked_route("POST", path, query) == expected
    assert unhooked_route("GET", path, query) is None


def test_ungoverned_features_name_what_the_config_enables() -> None:
    found = ungoverned_features(
        {
            "pass_through_endpoints": [
                {"path": "/bare", "target": "http://x"},
                {"path": "/guarded", "target": "http://x", "guardrails": {"axonflow": {}}},
            ],
            "enable_openai_websocket_passthrough": True,
        },
        [{"model_name": "rt", "litellm_params": {"model": "openai/gpt-4o-realtime-preview"}}],
    )
    text = "; ".join(found)
    assert "Responses API websocket" in text
    assert "realtime models" in text
    assert "/bare" in text
    assert "/guarded" not in text
    assert "websocket_passthrough" in text


def test_outside_a_proxy_there_is_nothing_to_guard() -> None:
    class Governor:
        def governs_unhooked_route(self, body: object, auth: object) -> bool:
            return True

        async def govern_unhooked_route(self, **kwargs: object) -> None:
            return None

    assert install_route_guard(Governor()) is False


def test_in_a_proxy_the_guard_overrides_auth_and_fastapi_analyses_it_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fastapi import FastAPI
    from fastapi.dependencies import utils
    from litellm.proxy.auth.user_api_key_auth import user_api_key_auth

    class Governor:
        def governs_unhooked_route(self, body: object, auth: object) -> bool:
            return True

        async def govern_unhooked_route(self, **kwargs: object) -> None:
            return None

    app = FastAPI()
    monkeypatch.setitem(sys.modules, "litellm.proxy.proxy_server", types.SimpleNamespace(app=app))
    monkeypatch.setattr(utils, "get_dependant", utils.get_dependant)  # restored after the test
    fastapi_get_dependant = utils.get_dependant
    governor = Governor()
    assert install_route_guard(governor) is True
    guard = app.dependency_overrides[user_api_key_auth]
    assert guard is not user_api_key_auth
    assert utils.get_dependant is not fastapi_get_dependant
    assert utils.get_dependant.__wrapped__ is fastapi_get_dependant  # type: ignore[attr-defined]
    assert install_route_guard(governor) is True  # a second guardrail: nothing stacks
    assert app.dependency_overrides[user_api_key_auth] is guard
