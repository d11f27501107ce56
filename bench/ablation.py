"""The ablation set-ups' guardrails: (b) with parts taken away, to show where its CPU goes.

Issue 17 asks, where a budget line is not reached, to show by ablation where each remaining
0.1 ms goes. Two set-ups, each measured beside (a) and (b) in the same rounds:

- (h) `DoesNothing`: a `CustomGuardrail` in `[pre_call, post_call]`, on by default, whose hooks
  return at once. (h) - (a) is what LiteLLM spends on any registered guardrail (its dispatch,
  `should_run_guardrail`, the hook calls), whoever wrote it.
- (i) `AnsweredFromMemory`: the real guardrail, with its real SDK client, whose HTTP exchange
  (`LeanHttpClient._exchange`: aiohttp, the sockets, the agent's answer) is made once per
  route and then answered from memory with the same status, headers and body. Everything else
  runs as in (b): the SDK builds and reads every call, the outbox is written and shipped.
  (b) - (i) is what the two HTTP exchanges cost the worker; (i) - (h) is the guardrail's own
  Python (reading the request, identity, call state, the SDK's request and answer objects,
  the outbox, LiteLLM's record of the decision) and the garbage it leaves.

Bench-only: never imported by the package or the tests' proxies.
"""

from __future__ import annotations

from typing import Any

import httpx
from litellm.integrations.custom_guardrail import CustomGuardrail

from axonflow_guardrail import AxonFlowGuardrail
from axonflow_guardrail.axonflow import _http_client

__all__ = ["AnsweredFromMemory", "DoesNothing", "exchange_from_memory"]


class DoesNothing(CustomGuardrail):
    """(h): registered, on by default, and returning at once from every hook."""

    async def async_pre_call_hook(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def async_post_call_success_hook(self, *args: Any, **kwargs: Any) -> Any:
        return kwargs.get("response")


_Answer = tuple[int, list[tuple[bytes, bytes]], bytes]
_answers: dict[str, _Answer] = {}
_real_exchange = _http_client.LeanHttpClient._exchange


async def exchange_from_memory(
    self: _http_client.LeanHttpClient, request: httpx.Request, content: bytes | None
) -> httpx.Response:
    """`LeanHttpClient._exchange`, answered from memory after one real 200 per route."""
    key = f"{request.method} {request.url.path}"
    saved = _answers.get(key)
    if saved is None:
        response = await _real_exchange(self, request, content)
        if response.status_code == 200:
            _answers[key] = (response.status_code, list(response.headers.raw), response.content)
        return response
    status, headers, body = saved
    return httpx.Response(status, headers=headers, content=body, request=request)


class AnsweredFromMemory(AxonFlowGuardrail):
    """(i): the real guardrail; its SDK's HTTP answered from memory after one real exchange."""

    def __init__(self, **kwargs: Any) -> None:
        _http_client.LeanHttpClient._exchange = exchange_from_memory  # type: ignore[method-assign]
        super().__init__(**kwargs)
