"""Routes that send text to a provider without LiteLLM's pre-call hook, governed anyway.

Why: LiteLLM runs guardrails from its request pipeline, and some routes never enter it. In
1.106.2 these send client text to a provider with no pre-call hook: token counting
(``/v1/messages/count_tokens``, ``/utils/token_counter?call_endpoint=true``,
``/v1/responses/input_tokens``, Google ``:countTokens``), RAG (``/v1/rag/query``,
``/v1/rag/ingest``), ``/queue/chat/completions``, the Assistants API (create an assistant, add a
thread message, start a run: reachable with ``custom_llm_provider`` in the body even without
``assistant_settings``) and the raw pass-throughs ``/azure/...``, ``/vllm/...``,
``/nvidia_nim/...`` and Bedrock's count-tokens pass-through.

How: every one of those routes authenticates through LiteLLM's ``user_api_key_auth``
dependency. The guardrail installs a FastAPI dependency override that calls the original
first, then, for a POST to one of these paths, hands the request's body and the authenticated
key to each registered guardrail that should run (LiteLLM's own `should_run_guardrail`, so
`default_on`, opt-outs and per-request opt-ins behave as elsewhere). A refusal is raised from
the dependency, before the endpoint runs, so nothing reaches the provider. Every other route
pays one path test: FastAPI's analysis of the route's dependencies, which it redoes on every
request once an override exists, is done once per route (`_override_analysis`).

What it cannot do: these routes give no chance to rewrite the request or to see the answer,
so a request that must be masked or approved is refused there, and no audit row is written.
Websocket frames (realtime, the Responses websocket, websocket pass-throughs) never pass
through an HTTP dependency: the guardrail cannot govern them, and says so at startup.

`fastapi.Request` and LiteLLM's ``user_api_key_auth`` and ``read_request_body`` are imported
lazily: the module is inert outside a running proxy.
"""

from __future__ import annotations

import functools
import re
import secrets
import sys
import weakref
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, Protocol

from fastapi import HTTPException

from axonflow_guardrail._errors import ErrorCode, governance_error
from axonflow_guardrail._log import log
from axonflow_guardrail._running_proxy import running_proxy_config
from axonflow_guardrail._settings import GuardrailSettings
from axonflow_guardrail.axonflow._client import PreCheckDecision, Verdict
from axonflow_guardrail.gates._admission import not_checkable, read_request
from axonflow_guardrail.gates._override_analysis import analyse_once
from axonflow_guardrail.gates._pre_check import FailOpenPass, PreCheckGate
from axonflow_guardrail.request._extracted import RequestNotCheckable
from axonflow_guardrail.request._governed import GovernedRequest
from axonflow_guardrail.request._identity import CallerIdentity, resolve_identity

if TYPE_CHECKING:
    from starlette.requests import Request

__all__ = [
    "UNHOOKED_ROUTES",
    "UnhookedRouteGate",
    "install_route_guard",
    "log_ungoverned_features",
    "should_govern",
    "unhooked_route",
]

#: POST paths that reach a provider without the pre-call hook (LiteLLM 1.106.2).
UNHOOKED_ROUTES: Final[tuple[tuple[str, re.Pattern[str]], ...]] = tuple(
    (name, re.compile(pattern))
    for name, pattern in (
        ("anthropic_count_tokens", r"(/claude_code_gateway)?/v1/messages/count_tokens"),
        ("token_counter", r"/utils/token_counter"),
        ("responses_input_tokens", r"(/v1|/openai/v1)?/responses/input_tokens"),
        ("google_count_tokens", r"(/v1beta|/v1)?/models/[^/]+:countTokens"),
        ("rag", r"(/v1)?/rag/(query|ingest)"),
        ("queue_chat_completions", r"/queue/chat/completions"),
        ("assistants", r"(/v1)?/assistants"),
        ("thread_messages_and_runs", r"(/v1)?/threads/[^/]+/(messages|runs)"),
        ("azure_pass_through", r"/azure/.+"),
        ("vllm_pass_through", r"/vllm/.+"),
        ("nvidia_nim_pass_through", r"/nvidia_nim/.+"),
        ("bedrock_count_tokens", r"/bedrock/.*count[-_]tokens.*"),
    )
)
#: All of them in one pattern: every authenticated request pays one match, not twelve.
_ANY_UNHOOKED: Final = re.compile(
    "|".join(f"(?P<{name}>{pattern.pattern})" for name, pattern in UNHOOKED_ROUTES)
)
_MARK: Final = "_axonflow_route_guard"


class RouteGovernor(Protocol):
    """What the override needs of a guardrail (`AxonFlowGuardrail.govern_unhooked_route`)."""

    def governs_unhooked_route(self, body: Mapping[str, Any], auth: Any) -> bool: ...

    async def govern_unhooked_route(
        self, *, route: str, path: str, body: Mapping[str, Any], auth: Any
    ) -> None: ...


_governors: weakref.WeakSet[Any] = weakref.WeakSet()


def unhooked_route(method: str, path: str, query: Mapping[str, str]) -> str | None:
    """The name of the unhooked route a request is on, or None (most requests)."""
    if method != "POST":
        return None
    match = _ANY_UNHOOKED.fullmatch(path)
    name = match.lastgroup if match is not None else None
    if name == "token_counter" and query.get("call_endpoint", "").lower() != "true":
        return None  # counted locally: nothing reaches a provider
    return name


class UnhookedRouteGate:
    """The pre-check on a route LiteLLM runs no hook on: check, and refuse by raising.

    Nothing can be rewritten or held there, so a request that must be masked or approved is
    refused; the route gives no answer to audit. Failures are classified as on every route.
    """

    def __init__(self, *, settings: GuardrailSettings, pre_checks: PreCheckGate) -> None:
        self._settings = settings
        self._pre_checks = pre_checks

    async def govern(self, *, route: str, path: str, body: Mapping[str, Any], auth: Any) -> None:
        call_id = f"{route}:{secrets.token_hex(8)}"
        identity: CallerIdentity | None = None
        try:
            data = dict(body)
            identity = resolve_identity(user_api_key_dict=auth, data=data, settings=self._settings)
            if identity.enforcement_mode == "off":
                return
            request = read_request(
                data=data,
                call_type=route,
                call_id=call_id,
                route=path,
                identity=identity,
                settings=self._settings,
            )
            if self._pre_checks.admit(request) is not None:
                return  # the breaker is open and fail_open let it through
            checked = await self._pre_checks.check(request)
            if isinstance(checked, FailOpenPass) or not request.enforcing:
                return
            self._refuse_what_this_route_cannot_carry(request, checked.decision, path)
        except HTTPException:
            raise
        except RequestNotCheckable as exc:
            raise not_checkable(exc, call_id) from None
        except Exception as exc:
            outcome = self._pre_checks.on_internal_error(exc, identity=identity, call_id=call_id)
            if isinstance(outcome, HTTPException):
                raise outcome from None

    def _refuse_what_this_route_cannot_carry(
        self, request: GovernedRequest, decision: PreCheckDecision, path: str
    ) -> None:
        if decision.verdict is Verdict.NEEDS_APPROVAL:
            raise governance_error(
                ErrorCode.APPROVAL_REQUIRED,
                f"This request requires human approval, which the {path} route cannot wait "
                "for; it was not sent.",
                policies=list(decision.policies),
                decision_id=decision.decision_id,
            )
        if decision.verdict is Verdict.REDACT and self._settings.redact_input:
            raise governance_error(
                ErrorCode.REDACTION_FAILED,
                f"The request contains data that governance requires to be masked, and the "
                f"{path} route cannot carry masked text; it was not sent.",
                policies=list(decision.policies),
                decision_id=decision.decision_id,
            )


def should_govern(
    guardrail: Any, *, modes: frozenset[str], body: Mapping[str, Any], auth: Any
) -> bool:
    """Would LiteLLM run `guardrail` here, if the route ran guardrails at all?

    Asks LiteLLM's own `should_run_guardrail` with the key's and team's metadata (opt-outs) and
    the body's `guardrails` list (opt-ins), as on any other route.
    """
    data: dict[str, Any] = {
        "metadata": {
            "user_api_key_metadata": getattr(auth, "metadata", None) or {},
            "user_api_key_team_metadata": getattr(auth, "team_metadata", None) or {},
        }
    }
    if isinstance(body.get("guardrails"), list):
        data["guardrails"] = body["guardrails"]
    from litellm.types.guardrails import GuardrailEventHooks

    hook = GuardrailEventHooks.pre_call if "pre_call" in modes else GuardrailEventHooks.during_call
    return bool(guardrail.should_run_guardrail(data=data, event_type=hook))


def install_route_guard(governor: RouteGovernor) -> bool:
    """Register `governor` and, once per process, the override in the running proxy's app.

    Returns False outside a proxy (no app to guard), True when the guard is in place.
    """
    proxy_server = sys.modules.get("litellm.proxy.proxy_server")
    app = getattr(proxy_server, "app", None)
    if app is None:
        return False
    from litellm.proxy.auth.user_api_key_auth import user_api_key_auth

    _governors.add(governor)
    current = app.dependency_overrides.get(user_api_key_auth, user_api_key_auth)
    if not getattr(current, _MARK, False):
        analyse_once()
        app.dependency_overrides[user_api_key_auth] = _guarded(current)
    return True


def _guarded(original: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """`original` (LiteLLM's auth dependency), then governance on the unhooked routes.

    `functools.wraps` keeps the original's signature, which FastAPI reads to resolve the
    dependency's own parameters (the request and the API-key headers).
    """

    @functools.wraps(original)
    async def guarded_auth(*args: Any, **kwargs: Any) -> Any:
        auth = await original(*args, **kwargs)
        request = kwargs.get("request", args[0] if args else None)
        route = _route_of(request)
        if route is not None and request is not None:
            await _govern(route, request, auth)
        return auth

    setattr(guarded_auth, _MARK, True)
    return guarded_auth


def _route_of(request: Any) -> str | None:
    scope = getattr(request, "scope", None)
    if not isinstance(scope, Mapping) or scope.get("type") != "http":
        return None
    return unhooked_route(
        str(scope.get("method", "")), str(scope.get("path", "")), request.query_params
    )


async def _govern(route: str, request: Request, auth: Any) -> None:
    from litellm.proxy.common_utils.http_parsing_utils import read_request_body

    body = await read_request_body(request)  # parsed once, cached for the endpoint
    for governor in list(_governors):
        if governor.governs_unhooked_route(body, auth):
            await governor.govern_unhooked_route(
                route=route, path=request.url.path, body=body, auth=auth
            )


def ungoverned_features(general_settings: Mapping[str, Any], model_list: Any) -> list[str]:
    """What the proxy's config enables that no guardrail can reach (logged at startup)."""
    found = ["the Responses API websocket (/v1/responses, websocket): only its first frame is seen"]
    models = model_list if isinstance(model_list, list) else []
    if any(_is_realtime(m) for m in models):
        found.append("realtime models (/v1/realtime): frames after the connection are not seen")
    endpoints = general_settings.get("pass_through_endpoints")
    bare = [
        str(e.get("path"))
        for e in (endpoints if isinstance(endpoints, list) else [])
        if isinstance(e, Mapping) and not e.get("guardrails")
    ]
    if bare:
        found.append(f"pass-through endpoints without `guardrails:` ({', '.join(bare)})")
    if general_settings.get("enable_openai_websocket_passthrough"):
        found.append("enable_openai_websocket_passthrough (websocket frames are not seen)")
    return found


def _is_realtime(model: Any) -> bool:
    if not isinstance(model, Mapping):
        return False
    info = model.get("model_info")
    params = model.get("litellm_params")
    mode = info.get("mode") if isinstance(info, Mapping) else None
    name = params.get("model") if isinstance(params, Mapping) else None
    return mode == "realtime" or (isinstance(name, str) and "realtime" in name)


def log_ungoverned_features(guardrail_name: str) -> None:
    """One WARNING naming what the running proxy enables that governance cannot reach."""
    config = running_proxy_config()
    settings = config.get("general_settings")
    features = ungoverned_features(
        settings if isinstance(settings, Mapping) else {}, config.get("model_list")
    )
    log.warning(
        "axonflow guardrail %r cannot govern: %s. Turn them off where governance is required "
        "(docs/routes.md).",
        guardrail_name,
        "; ".join(features),
    )
