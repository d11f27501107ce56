"""One way to call each LiteLLM route the guardrail governs, with the official SDKs.

`send(proxy, route, ...)` builds the route's own request from a user prompt, an optional system
prompt and an optional earlier turn, calls it with the client a real caller would use (the
`openai` SDK for chat, completions, responses and embeddings, the `anthropic` SDK for
`/v1/messages`), and returns an `Outcome`: status, answer text, the guardrail's error details
and LiteLLM's call id. `stream_raw(...)` sends the same request with `stream: true` through raw
httpx and returns the bytes as received, for SSE assertions.

Where a route has no system prompt or turns, the nearest equivalent carries them:
`/v1/completions` and `/v1/embeddings` get a list of inputs (earlier ones first).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import anthropic
import httpx
import openai

from tests.support.proxy import MASTER_KEY, Proxy

ROUTES = ("chat", "completions", "responses", "messages", "embeddings")
STREAM_ROUTES = ("chat", "completions", "responses", "messages")
PATHS = {
    "chat": "/v1/chat/completions",
    "completions": "/v1/completions",
    "responses": "/v1/responses",
    "messages": "/v1/messages",
    "embeddings": "/v1/embeddings",
}
CALL_ID_HEADER = "x-litellm-call-id"
#: The body field that carries the prompt on each route.
PROMPT_FIELD = {
    "chat": "messages",
    "completions": "prompt",
    "responses": "input",
    "messages": "messages",
    "embeddings": "input",
}


@dataclass
class Outcome:
    status: int
    text: str = ""
    error: dict[str, Any] = field(default_factory=dict)
    call_id: str | None = None
    raw_error: Any = None


def anthropic_client(proxy: Proxy) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=proxy.url, api_key=MASTER_KEY, max_retries=0, timeout=30)


def body_for(
    route: str,
    *,
    model: str,
    user: str,
    system: str | None = None,
    earlier: str | None = None,
    guard: str | None = "af",
) -> dict[str, Any]:
    """The route's request body (what the SDKs send; used as is for raw streaming calls)."""
    body: dict[str, Any] = {"model": model}
    turns: list[dict[str, Any]] = []
    if earlier is not None:
        turns += [{"role": "user", "content": earlier}, {"role": "assistant", "content": "Noted."}]
    turns.append({"role": "user", "content": user})
    if route == "chat":
        system_turn = [{"role": "system", "content": system}] if system is not None else []
        body["messages"] = system_turn + turns
    elif route == "responses":
        body["input"] = turns
        if system is not None:
            body["instructions"] = system
    elif route == "messages":
        body["messages"] = turns
        body["max_tokens"] = 64
        if system is not None:
            body["system"] = system
    else:
        inputs = [t for t in (system, earlier) if t is not None] + [user]
        key = "prompt" if route == "completions" else "input"
        body[key] = inputs if len(inputs) > 1 else user
    if guard is not None:
        body["guardrails"] = [guard]
    return body


def send(
    proxy: Proxy,
    route: str,
    *,
    model: str,
    user: str,
    system: str | None = None,
    earlier: str | None = None,
    guard: str | None = "af",
) -> Outcome:
    """Call `route` through its SDK (not streaming)."""
    body = body_for(route, model=model, user=user, system=system, earlier=earlier, guard=guard)
    extra = {"guardrails": body.pop("guardrails")} if "guardrails" in body else None
    if route == "messages":
        return _send_anthropic(proxy, body, extra)
    client = proxy.openai()
    try:
        if route == "chat":
            raw = client.chat.completions.with_raw_response.create(**body, extra_body=extra)
            chat = raw.parse()
            text = chat.choices[0].message.content or ""
        elif route == "completions":
            raw = client.completions.with_raw_response.create(**body, extra_body=extra)
            text = raw.parse().choices[0].text
        elif route == "responses":
            raw = client.responses.with_raw_response.create(**body, extra_body=extra)
            text = raw.parse().output_text
        else:
            raw = client.embeddings.with_raw_response.create(**body, extra_body=extra)
            raw.parse()
            text = ""
    except openai.APIStatusError as exc:
        return _failure(exc.status_code, exc.body, exc.response, exc)
    return Outcome(status=raw.status_code, text=text, call_id=raw.headers.get(CALL_ID_HEADER))


def _send_anthropic(proxy: Proxy, body: dict[str, Any], extra: Any) -> Outcome:
    client = anthropic_client(proxy)
    try:
        raw = client.messages.with_raw_response.create(**body, extra_body=extra)
        message = raw.parse()
    except anthropic.APIStatusError as exc:
        return _failure(exc.status_code, exc.body, exc.response, exc)
    text = "".join(block.text for block in message.content if block.type == "text")
    return Outcome(status=raw.status_code, text=text, call_id=raw.headers.get(CALL_ID_HEADER))


def _failure(status: int, body: Any, response: Any, exc: Exception) -> Outcome:
    error: dict[str, Any] = {}
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping):
            error = {**inner, **(inner.get("provider_specific_fields") or {})}
            # the guardrail's own message, next to LiteLLM's
            error["message"] = inner.get("message")
    return Outcome(
        status=status,
        error=error,
        call_id=response.headers.get(CALL_ID_HEADER),
        raw_error=exc,
    )


@dataclass
class RawStream:
    status: int
    headers: httpx.Headers
    text: str

    @property
    def call_id(self) -> str | None:
        value = self.headers.get(CALL_ID_HEADER)
        return value if isinstance(value, str) else None

    def data_events(self) -> list[Any]:
        """Every `data:` payload, parsed (`"[DONE]"` kept as the string)."""
        events: list[Any] = []
        for line in self.text.splitlines():
            if not line.startswith("data:"):
                continue
            payload = line[5:].strip()
            events.append(payload if payload == "[DONE]" else json.loads(payload))
        return events

    def event_names(self) -> list[str]:
        return [line[6:].strip() for line in self.text.splitlines() if line.startswith("event:")]


def stream_raw(
    proxy: Proxy,
    route: str,
    *,
    model: str,
    user: str,
    system: str | None = None,
    earlier: str | None = None,
    guard: str | None = "af",
) -> RawStream:
    """The route's request with `stream: true`, read to the end with raw httpx."""
    body = body_for(route, model=model, user=user, system=system, earlier=earlier, guard=guard)
    body["stream"] = True
    headers = {"Authorization": f"Bearer {MASTER_KEY}"}
    with httpx.stream(
        "POST", f"{proxy.url}{PATHS[route]}", json=body, headers=headers, timeout=30
    ) as response:
        text = response.read().decode("utf-8")
    return RawStream(status=response.status_code, headers=response.headers, text=text)


def stream_text(route: str, stream: RawStream) -> str:
    """The answer text a client assembles from a successful stream."""
    pieces: list[str] = []
    for event in stream.data_events():
        if not isinstance(event, dict):
            continue
        if route == "chat":
            for choice in event.get("choices") or ():
                pieces.append((choice.get("delta") or {}).get("content") or "")
        elif route == "completions":
            for choice in event.get("choices") or ():
                pieces.append(choice.get("text") or "")
        elif route == "responses":
            if event.get("type") == "response.output_text.delta":
                pieces.append(event.get("delta") or "")
        elif event.get("type") == "content_block_delta":
            pieces.append((event.get("delta") or {}).get("text") or "")
    return "".join(pieces)
