"""What one governed request's two AxonFlow calls cost the worker, in-process, and how much
of it is the HTTP exchange.

    .venv/bin/python -m bench.call_cost                # 500 pairs per timing
    .venv/bin/python -m bench.call_cost --pairs 200

A dev agent runs in its own process (its CPU is not counted); this process makes `pairs`
pre-check + audit pairs through the guardrail's real `AxonFlowClient` (the official SDK, the
lean HTTP client, `axonflow/_http_client.py`) and reports CPU time (`time.process_time`) per
pair, the minimum of 7 timings (on a shared, loaded machine the minimum is the figure least
disturbed by others):

- *as shipped*: what set-up (b) of `make bench` pays per request for its two calls;
- *HTTP answered from memory*: the same calls, the exchange answered from memory after one
  real exchange per route (`bench/ablation.py`, set-up (i)): the SDK and the guardrail's own
  call code, without aiohttp and the sockets;
- *raw HTTP/1.1 on asyncio streams*: the same two requests' bytes, sent on one keep-alive
  connection with nothing but `asyncio.open_connection` and a `Content-Length` read: the
  floor any HTTP client could reach for the exchange.

So `as shipped - from memory` is the exchange's cost, and `raw` how low an exchange can go.
Measured on the 2-core guest (2026-12-01, minimum of 7 x 300 pairs): with the exchange on
aiohttp's client 1,449 µs per pair, answered from memory 423 µs, raw 167 µs; with the
exchange on the guardrail's own keep-alive HTTP/1.1 connections (`axonflow/_http11.py`)
829-846 µs, from memory 296-383 µs, raw 164-186 µs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable, Sequence

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("AXONFLOW_TELEMETRY", "off")

import httpx

from axonflow_guardrail.axonflow import _http_client
from axonflow_guardrail.axonflow._breakers import Breakers
from axonflow_guardrail.axonflow._client import AxonFlowClient
from bench.ablation import exchange_from_memory
from bench.procs import BIN_DIR, free_port
from bench.setups import CLIENT_ID, CLIENT_SECRET, PROMPT

__all__ = ["main"]

_REPEAT = 7


async def _pair(client: AxonFlowClient) -> None:
    decision = await client.pre_check(user_token="anonymous", query=PROMPT, context={})
    await client.audit_llm_call(
        context_id=decision.context_id,
        response_summary="The quarterly report shows revenue up 4 %.",
        provider="openai",
        model="mock",
        usage=(12, 14, 26),
        latency_ms=3,
        metadata={"litellm_call_id": "c" * 36},
        timeout=5.0,
    )


async def _cpu_per_call(call: Callable[[], Awaitable[None]], *, calls: int) -> float:
    best = float("inf")
    for _ in range(_REPEAT):
        started = time.process_time()
        for _ in range(calls):
            await call()
        best = min(best, (time.process_time() - started) / calls)
    return best


def _client(url: str) -> AxonFlowClient:
    return AxonFlowClient(
        endpoint=url,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        tenant_id=None,
        call_timeout_seconds=5.0,
        breakers=Breakers.create(failure_threshold=5, recovery_seconds=30),
        declares_redaction=False,
    )


class _RawExchange:
    """The pair's two requests, as the lean client sent them, on one keep-alive connection."""

    def __init__(self, port: int, requests: list[bytes]) -> None:
        self._port = port
        self._requests = requests
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def pair(self) -> None:
        if self._reader is None:
            self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self._port)
        assert self._writer is not None
        for request in self._requests:
            self._writer.write(request)
            head = await self._reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await self._reader.readexactly(length)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            await self._writer.wait_closed()


async def _captured_requests(client: AxonFlowClient, port: int) -> list[bytes]:
    """The bytes of one pair's two requests (method, path, the SDK's headers, the body)."""
    seen: list[bytes] = []
    real = _http_client.LeanHttpClient._exchange

    async def capture(
        self: _http_client.LeanHttpClient, request: httpx.Request, content: bytes | None
    ) -> httpx.Response:
        body = content or b""
        head = [f"{request.method} {request.url.raw_path.decode()} HTTP/1.1"]
        head.append(f"Host: 127.0.0.1:{port}")
        head += [
            f"{k.decode()}: {v.decode()}"
            for k, v in request.headers.raw
            if k.lower() not in (b"host", b"content-length")
        ]
        head.append(f"Content-Length: {len(body)}")
        seen.append(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        return await real(self, request, content)

    _http_client.LeanHttpClient._exchange = capture  # type: ignore[method-assign]
    try:
        await _pair(client)
    finally:
        _http_client.LeanHttpClient._exchange = real  # type: ignore[method-assign]
    return seen


async def _measure(url: str, port: int, pairs: int) -> list[tuple[str, float]]:
    rows: list[tuple[str, float]] = []
    client = _client(url)
    try:
        for _ in range(20):
            await _pair(client)  # warm: connections, lazy imports
        rows.append(
            (
                "as shipped (SDK, lean client)",
                await _cpu_per_call(lambda: _pair(client), calls=pairs),
            )
        )
        requests = await _captured_requests(client, port)
    finally:
        await client.close()

    real = _http_client.LeanHttpClient._exchange
    _http_client.LeanHttpClient._exchange = exchange_from_memory  # type: ignore[method-assign]
    remembered = _client(url)
    try:
        for _ in range(20):
            await _pair(remembered)
        rows.append(
            (
                "HTTP answered from memory (SDK and call code only)",
                await _cpu_per_call(lambda: _pair(remembered), calls=pairs),
            )
        )
    finally:
        _http_client.LeanHttpClient._exchange = real  # type: ignore[method-assign]
        await remembered.close()

    raw = _RawExchange(port, requests)
    try:
        for _ in range(20):
            await raw.pair()
        rows.append(
            (
                "raw HTTP/1.1 on asyncio streams (exchange only)",
                await _cpu_per_call(raw.pair, calls=pairs),
            )
        )
    finally:
        await raw.close()
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.call_cost", description=__doc__)
    parser.add_argument("--pairs", type=int, default=500, help="pairs per timing")
    args = parser.parse_args(argv)
    port = free_port()
    agent = subprocess.Popen(
        [
            str(BIN_DIR / "axonflow-guardrail"),
            "dev-agent",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--client",
            f"{CLIENT_ID}:{CLIENT_SECRET}",
            "--log-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2):  # loopback only
                    break
            except OSError:
                if time.monotonic() > deadline or agent.poll() is not None:
                    print("dev agent did not start", file=sys.stderr)
                    return 1
                time.sleep(0.2)
        rows = asyncio.run(_measure(url, port, args.pairs))
    finally:
        agent.terminate()
        agent.wait(timeout=30)
    for label, seconds in rows:
        print(f"{label:55s} {seconds * 1e6:8.1f} µs CPU per pre-check + audit pair")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
