"""Load the dev agent's pre-check at a fixed rate and report its server-side service time.

The dev agent sits on the benchmark path, so its own cost must be small and known. This script
sends an open-loop stream of pre-checks (a request every 1/rps seconds, whether or not earlier
ones have answered), then reads `/__dev/stats`, whose service time runs from handler entry to
response ready and excludes the network and the client.

    .venv/bin/python -m bench.dev_agent_load --rps 1000 --requests 20000

By default it starts its own agent (the real CLI) pinned to one CPU core, and pins itself to
another when there is one; `--url` measures an agent that is already running instead.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import httpx

PRE_CHECK = "/api/policy/pre-check"
CLIENT_ID = "bench"
CLIENT_SECRET = "bench-secret"  # a local, throwaway credential
#: A realistic mix: mostly clean prompts, some PII (redact) and some injections (block).
PROMPTS = (
    ["Summarise the quarterly report for the sales team in three bullet points."] * 8
    + ["My SSN is 123-45-6789, can you check my tax return?"]
    + ["SELECT name FROM users WHERE id = 1 UNION SELECT password FROM admins"]
)


@dataclass
class LoadResult:
    sent: int = 0
    ok: int = 0
    errors: int = 0
    late: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    elapsed_s: float = 0.0


def _percentile(values: Sequence[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, -(-int(pct * len(ordered)) // 100))
    return ordered[min(rank, len(ordered)) - 1]


async def _load(url: str, *, rps: float, count: int, concurrency: int) -> LoadResult:
    auth = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    headers = {"Authorization": auth, "X-Client-ID": CLIENT_ID, "Content-Type": "application/json"}
    bodies = [
        json.dumps(
            {
                "user_token": "bench-user",
                "client_id": CLIENT_ID,
                "query": prompt,
                "data_sources": [],
                "context": {},
            }
        ).encode()
        for prompt in PROMPTS
    ]
    result = LoadResult()
    slots = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    async with aiohttp.ClientSession(
        base_url=url, connector=connector, headers=headers, trust_env=False
    ) as session:

        async def one(body: bytes) -> None:
            start = time.perf_counter()
            try:
                async with session.post(PRE_CHECK, data=body) as response:
                    await response.read()
                    if response.status == 200:
                        result.ok += 1
                    else:
                        result.errors += 1
            except aiohttp.ClientError:
                result.errors += 1
            finally:
                result.latencies_ms.append((time.perf_counter() - start) * 1000)
                slots.release()

        tasks: list[asyncio.Task[None]] = []
        interval = 1.0 / rps
        began = time.perf_counter()
        for index in range(count):
            due = began + index * interval
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -0.005:
                result.late += 1
            await slots.acquire()
            result.sent += 1
            tasks.append(asyncio.create_task(one(bodies[index % len(bodies)])))
        await asyncio.gather(*tasks)
        result.elapsed_s = time.perf_counter() - began
    return result


def _pin(pid: int, cpu: int) -> bool:
    if not hasattr(os, "sched_setaffinity") or cpu >= (os.cpu_count() or 1):
        return False
    os.sched_setaffinity(pid, {cpu})
    return True


def _measure(url: str, args: argparse.Namespace) -> dict[str, Any]:
    control = httpx.Client(base_url=url, trust_env=False, timeout=30)
    control.post("/__dev/reset").raise_for_status()
    if args.warmup:
        asyncio.run(_load(url, rps=args.rps, count=args.warmup, concurrency=args.concurrency))
        control.post("/__dev/reset").raise_for_status()
    load = asyncio.run(_load(url, rps=args.rps, count=args.requests, concurrency=args.concurrency))
    stats = control.get("/__dev/stats").json()["routes"].get(f"POST {PRE_CHECK}", {})
    control.close()
    lat = load.latencies_ms
    return {
        "target_rps": args.rps,
        "requests": load.sent,
        "ok": load.ok,
        "errors": load.errors,
        "late_sends": load.late,
        "achieved_rps": round(load.sent / load.elapsed_s, 1) if load.elapsed_s else None,
        "server_service_time_us": {
            key: stats.get(key) for key in ("count", "p50_us", "p95_us", "p99_us", "max_us")
        },
        "client_latency_ms": {
            "p50": round(_percentile(lat, 50), 3),
            "p95": round(_percentile(lat, 95), 3),
            "p99": round(_percentile(lat, 99), 3),
            "mean": round(statistics.fmean(lat), 3) if lat else None,
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", help="an agent already running (default: start one)")
    parser.add_argument("--rps", type=float, default=1000.0)
    parser.add_argument("--requests", type=int, default=20_000, help="bounded request count")
    parser.add_argument("--warmup", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--agent-cpu", type=int, default=0, help="core to pin the agent to")
    parser.add_argument("--load-cpu", type=int, default=1, help="core to pin this script to")
    parser.add_argument(
        "--agent-log-level",
        default="info",
        help="the agent's --log-level (info logs a line per decision, as in normal use)",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON only")
    args = parser.parse_args(argv)
    if args.requests < 1 or args.rps <= 0:
        parser.error("--requests and --rps must be positive")

    if args.url:
        summary = _measure(args.url.rstrip("/"), args)
    else:
        # Imported here so that --url works from any checkout layout.
        from tests.support.dev_agent import DevAgent

        with DevAgent(
            clients=[(CLIENT_ID, CLIENT_SECRET)],
            extra_args=["--log-level", args.agent_log_level],
        ) as agent:
            agent.launch()
            assert agent.process is not None
            pinned = _pin(agent.process.proc.pid, args.agent_cpu)
            agent.wait_ready()
            _pin(0, args.load_cpu)
            summary = _measure(agent.url, args)
            summary["agent_pinned_to_cpu"] = args.agent_cpu if pinned else None
            summary["agent_startup_s"] = round(agent.startup_s or 0.0, 2)

    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    server = summary["server_service_time_us"]
    client = summary["client_latency_ms"]
    print(
        f"pre-check at {summary['target_rps']:g} rps (achieved {summary['achieved_rps']}), "
        f"{summary['requests']} requests, {summary['errors']} errors, "
        f"{summary['late_sends']} late sends"
    )
    print(
        f"  server service time: p50 {server['p50_us']} us, p95 {server['p95_us']} us, "
        f"p99 {server['p99_us']} us, max {server['max_us']} us"
    )
    print(
        f"  client round trip:   p50 {client['p50']} ms, p95 {client['p95']} ms, "
        f"p99 {client['p99']} ms"
    )
    return 0 if summary["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
