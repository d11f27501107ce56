"""A closed-loop HTTP/1.1 load generator that costs almost nothing per request.

Why not httpx or aiohttp: the load generator, the proxy worker and the dev agent share two
cores, so every microsecond the client spends is a microsecond taken from what we measure.
This client keeps `concurrency` keep-alive connections, sends one pre-encoded request at a
time on each and parses just enough of the answer (status line, Content-Length or chunked
framing) to know where it ends: about 30-50 µs of CPU per request under uvloop, against a
few milliseconds for the LiteLLM proxy itself.

It runs in its own process (`python -m bench.loadgen --serve`) so it can be pinned to a core
and never shares an event loop with the orchestrator. The orchestrator sends one JSON command
per line on stdin and reads one JSON result per line on stdout (see `serve`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["LoadResult", "LoadSpec", "build_request", "run_load"]

_CRLF2 = b"\r\n\r\n"


@dataclass(frozen=True, slots=True)
class LoadSpec:
    """One measurement slice against one target."""

    host: str
    port: int
    path: str
    body: bytes
    headers: Mapping[str, str]
    concurrency: int
    #: Requests sent before measuring (not recorded): warms connections and caches.
    warmup_requests: int
    #: Stop after this many measured requests (whichever of the two limits comes first).
    requests: int
    #: Stop after this many seconds of measurement.
    duration_s: float
    timeout_s: float = 60.0
    #: Stretch the window until at least this many requests have completed.
    min_completed: int = 1


@dataclass(slots=True)
class LoadResult:
    """What one slice measured: per-request latencies and the throughput of the window."""

    concurrency: int
    completed: int
    errors: int
    #: Every request sent in the slice, warm-up and the tail after the window included
    #: (what the server did work for: the denominator of per-request CPU and agent calls).
    sent: int
    elapsed_s: float
    throughput_rps: float
    latencies_us: list[int] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)


def build_request(
    host: str, port: int, path: str, body: bytes, headers: Mapping[str, str]
) -> bytes:
    """The full request bytes, built once per slice and reused for every request."""
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Connection: keep-alive",
        f"Content-Length: {len(body)}",
    ]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class _Connection:
    """One keep-alive connection; reopened transparently when the server closes it."""

    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        reused = self._writer is not None
        if self._writer is None or self._reader is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        reader, writer = self._reader, self._writer
        writer.write(raw)
        try:
            head = await reader.readuntil(_CRLF2)
        except (asyncio.IncompleteReadError, ConnectionResetError) as exc:
            partial = getattr(exc, "partial", b"")
            if not reused or partial:
                raise
            # The server closed an idle keep-alive connection just as we reused it: the
            # request never reached it, so send it again once on a fresh connection.
            self.close()
            return await self.request(raw)
        status = int(head[9:12])
        length = -1
        chunked = False
        close = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            lname = name.strip().lower()
            if lname == b"content-length":
                length = int(value)
            elif lname == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif lname == b"connection" and b"close" in value.lower():
                close = True
        if chunked:
            body = await self._read_chunked(reader)
        elif length >= 0:
            body = await reader.readexactly(length)
        else:  # no framing: the body runs to the end of the connection
            body = await reader.read()
            close = True
        if close:
            self.close()
        return status, body

    @staticmethod
    async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
        parts: list[bytes] = []
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")  # trailer end (no trailers expected)
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


async def run_load(spec: LoadSpec) -> LoadResult:
    """Warm up, then measure: `concurrency` workers send back to back until a limit is hit.

    Only requests that *complete* inside the measurement window count, so throughput is
    `completed / window` and the latencies are those of the same requests. Requests still in
    flight at the deadline are awaited (never abandoned mid-way, which the server would see
    as disconnects) but not counted, unless the set-up is so slow that the window has to
    stretch to reach `min_completed` answers.
    """
    raw = build_request(spec.host, spec.port, spec.path, spec.body, spec.headers)
    conns = [_Connection(spec.host, spec.port) for _ in range(spec.concurrency)]
    errors: list[str] = []
    sent = [0]

    async def one(conn: _Connection) -> int | None:
        sent[0] += 1
        started = time.perf_counter_ns()
        try:
            async with asyncio.timeout(spec.timeout_s):
                status, body = await conn.request(raw)
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
            conn.close()
            if len(errors) < 20:
                errors.append(f"{type(exc).__name__}: {exc}")
            return None
        if status != 200:
            if len(errors) < 20:
                errors.append(f"HTTP {status}: {body[:300]!r}")
            return None
        return (time.perf_counter_ns() - started) // 1000

    # Warm-up: every connection opened and used at least once.
    warm_budget = [max(spec.warmup_requests, spec.concurrency)]

    async def warm(conn: _Connection) -> None:
        while warm_budget[0] > 0:
            warm_budget[0] -= 1
            await one(conn)

    await asyncio.gather(*(warm(c) for c in conns))
    errors.clear()

    done: list[tuple[float, int | None]] = []  # (completion time, latency µs or None)
    issued = [0]
    start = time.perf_counter()
    deadline = start + spec.duration_s

    async def work(conn: _Connection) -> None:
        while issued[0] < spec.requests and time.perf_counter() < deadline:
            issued[0] += 1
            latency = await one(conn)
            done.append((time.perf_counter(), latency))

    await asyncio.gather(*(work(c) for c in conns))
    for conn in conns:
        conn.close()
    # The window is the slice's duration, stretched for a set-up so slow that fewer than
    # `min_completed` requests finished in it (then it ends at the min_completed-th answer).
    done.sort(key=lambda item: item[0])
    window_end = deadline
    if len(done) >= spec.min_completed and done[spec.min_completed - 1][0] > deadline:
        window_end = done[spec.min_completed - 1][0]
    elif len(done) < spec.min_completed and done:
        window_end = max(deadline, done[-1][0])
    if issued[0] >= spec.requests and done:
        window_end = min(window_end, done[-1][0])  # request cap reached before the deadline
    counted = [(when, lat) for when, lat in done if when <= window_end]
    latencies = [lat for _, lat in counted if lat is not None]
    # Throughput over [start, last counted answer], not [start, deadline]: at high
    # concurrency a saturated asyncio server finishes requests in waves (all in-flight
    # requests progress together), so a count cut at the deadline moves in steps of
    # `concurrency` (16 req/s steps for 64 connections over 4 s); ending the window at the
    # last answer measures whole waves exactly.
    elapsed = (counted[-1][0] if counted else window_end) - start
    return LoadResult(
        concurrency=spec.concurrency,
        completed=len(latencies),
        errors=len(counted) - len(latencies),
        sent=sent[0],
        elapsed_s=elapsed,
        throughput_rps=len(latencies) / elapsed if elapsed > 0 else 0.0,
        latencies_us=latencies,
        error_samples=list(errors),
    )


def _spec_from_json(data: Mapping[str, Any]) -> LoadSpec:
    return LoadSpec(
        host=str(data["host"]),
        port=int(data["port"]),
        path=str(data["path"]),
        body=str(data["body"]).encode(),
        headers=dict(data.get("headers") or {}),
        concurrency=int(data["concurrency"]),
        warmup_requests=int(data.get("warmup_requests", 0)),
        requests=int(data["requests"]),
        duration_s=float(data["duration_s"]),
        timeout_s=float(data.get("timeout_s", 60.0)),
        min_completed=int(data.get("min_completed", 1)),
    )


def serve() -> int:
    """Read one JSON spec per stdin line; answer one JSON `LoadResult` per stdout line.

    One long-lived process for the whole run: its start-up and imports are paid once, and the
    event loop is created once (uvloop when installed, as the proxy uses).
    """
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:  # pragma: no cover - uvloop ships with litellm[proxy]
        runner = asyncio.Runner()
    with runner:
        for line in sys.stdin:
            if not line.strip():
                continue
            try:
                result = runner.run(run_load(_spec_from_json(json.loads(line))))
                reply: dict[str, Any] = {"ok": True, "result": asdict(result)}
            except Exception as exc:  # report, keep serving
                reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            sys.stdout.write(json.dumps(reply, separators=(",", ":")) + "\n")
            sys.stdout.flush()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--serve", action="store_true", help="JSON lines on stdin/stdout")
    args = parser.parse_args(argv)
    if not args.serve:
        parser.error("only --serve is supported (the orchestrator drives this process)")
    return serve()


if __name__ == "__main__":
    sys.exit(main())
