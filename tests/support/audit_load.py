"""Load for the audit outbox tests: many calls of every kind, each with its LiteLLM call id.

`run_load(proxy_url, count)` sends `count` calls, cycling through chat completions and
`/v1/messages`, streaming and not, from a few threads (a bounded loop: it stops by itself),
and returns each call's status and `x-litellm-call-id`. A call cut short (the proxy was
killed) comes back with status 0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

from tests.support.proxy import MASTER_KEY

__all__ = ["KINDS", "CallResult", "run_load"]

KINDS = ("chat", "chat_stream", "messages", "messages_stream")
CALL_ID_HEADER = "x-litellm-call-id"


@dataclass(frozen=True)
class CallResult:
    kind: str
    status: int
    call_id: str | None
    prompt: str


def _request(
    kind: str, prompt: str, model: str, guardrails: Sequence[str] | None
) -> tuple[str, dict[str, object]]:
    stream = kind.endswith("_stream")
    if kind.startswith("chat"):
        body: dict[str, object] = {
            "model": model,
            "messages": [{"role": "user", "content": prompt}],
        }
        path = "/v1/chat/completions"
    else:
        body = {
            "model": model,
            "max_tokens": 64,
            "messages": [{"role": "user", "content": prompt}],
        }
        path = "/v1/messages"
    if stream:
        body["stream"] = True
    if guardrails is not None:
        body["guardrails"] = list(guardrails)
    return path, body


def one_call(
    client: httpx.Client,
    kind: str,
    prompt: str,
    *,
    model: str = "mock",
    guardrails: Sequence[str] | None = None,
) -> CallResult:
    path, body = _request(kind, prompt, model, guardrails)
    headers = {"Authorization": f"Bearer {MASTER_KEY}"}
    try:
        if kind.endswith("_stream"):
            with client.stream("POST", path, json=body, headers=headers) as response:
                for _ in response.iter_bytes():  # read to the end (a cut stream raises)
                    pass
                return CallResult(
                    kind, response.status_code, response.headers.get(CALL_ID_HEADER), prompt
                )
        response = client.post(path, json=body, headers=headers)
        return CallResult(kind, response.status_code, response.headers.get(CALL_ID_HEADER), prompt)
    except httpx.HTTPError:
        return CallResult(kind, 0, None, prompt)


def run_load(
    proxy_url: str,
    count: int,
    *,
    concurrency: int = 8,
    prompt: Callable[[int], str] = lambda i: f"Summarise report number {i} in one line.",
    kinds: Sequence[str] = KINDS,
    guardrails: Sequence[str] | None = None,
    on_result: Callable[[CallResult], None] | None = None,
) -> list[CallResult]:
    """`count` calls over `concurrency` threads; every call gets its own prompt."""
    results: list[CallResult] = []

    def worker(indexes: range) -> None:
        with httpx.Client(base_url=proxy_url, timeout=60.0, trust_env=False) as client:
            for i in indexes:
                result = one_call(client, kinds[i % len(kinds)], prompt(i), guardrails=guardrails)
                results.append(result)
                if on_result is not None:
                    on_result(result)

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        futures = [pool.submit(worker, range(w, count, concurrency)) for w in range(concurrency)]
    for future in futures:
        future.result()  # a bug in the load itself fails the test
    return results
