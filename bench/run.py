"""`make bench`: the governance overhead of the LiteLLM proxy, five set-ups side by side.

    .venv/bin/python -m bench.run            # full run (~12 min on 2 cores), as `make bench`
    .venv/bin/python -m bench.run --quick    # ~4 min: 2 rounds, concurrency 1 and 64
    .venv/bin/python -m bench.run --smoke --out /tmp/x   # (a) and (b), ~200 requests: CI

What it does, in one go: starts one real `litellm` proxy per set-up (see `bench.setups`) and
one dev agent per set-up that needs one, keeps them all up, then runs interleaved rounds:
every round measures every set-up at every concurrency, in a rotating order, with a
closed-loop keep-alive load generator in its own process (`bench.loadgen`). Then the memory
phase: 20,000 governed requests through set-up (b) while the proxy worker's RSS is sampled.
It prints a table, writes `latest.json`, `latest.md` and `latest.png` under `--out`
(default `bench/results/`), and stops every process it started, also on Ctrl-C or errors.

Timings never fail the run (this is a benchmark, not a test); a set-up that errors does.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from subprocess import PIPE
from typing import Any

import yaml

from bench.otel_sdk import otel_sdk_dir
from bench.procs import (
    BIN_DIR,
    REPO_ROOT,
    ManagedProcess,
    ProcessGroup,
    cpu_plan,
    cpu_seconds,
    free_port,
    install_signal_handlers,
    pin_all_threads,
    rss_kb,
    thread_count,
)
from bench.report import draw_chart, render_markdown, render_table, write_json
from bench.setups import (
    ALL_SETUPS,
    AUDIT_DELAY_S,
    CLIENT_ID,
    CLIENT_SECRET,
    MASTER_KEY,
    Setup,
    proxy_config,
    request_body,
)
from bench.stats import Slice, evaluate_budget, explain_gap, percentile, summarise

__all__ = ["Mode", "main"]

DEFAULT_OUT = REPO_ROOT / "bench" / "results"
#: Proxies started at once (each cold start takes ~10 s of CPU; two cores).
_START_BATCH = 4


@dataclass(frozen=True, slots=True)
class Mode:
    """How much to measure. `full` is what `make bench` runs and what is committed."""

    name: str
    setups: str
    concurrency: tuple[int, ...]
    rounds: int
    duration_s: float
    #: Cap per slice (the smoke run stops at this many measured requests).
    max_requests: int
    warmup_s: float
    memory_requests: int
    memory_warmup: int
    #: Set-ups whose worker RSS is followed in the memory phase ((b) is the budget line).
    memory_setups: str = "ab"


#: Every set-up, in the order a round starts from (ablations last: they answer (b)'s gap).
ALL_KEYS = "".join(s.key for s in ALL_SETUPS)

MODES = {
    # ~20 minutes on 2 cores: start-up ~2 min, rounds ~12 min, memory ~6 min. Concurrency 8
    # judges no budget line (1 is one request's latency, 64 the saturated worker) and is
    # left to `--concurrency 1,8,64`; the memory phase's size is in requests, so on a slow
    # machine it takes longer.
    "full": Mode("full", ALL_KEYS, (1, 64), 5, 4.0, 1_000_000, 3.0, 10_000, 2_000),
    "quick": Mode("quick", ALL_KEYS, (1, 64), 2, 2.5, 1_000_000, 2.0, 4_000, 2_000),
    "smoke": Mode("smoke", "ab", (8,), 1, 10.0, 200, 0.5, 0, 0),
}


def _parse_args(argv: Sequence[str] | None) -> tuple[argparse.Namespace, Mode]:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description="Benchmark the proxy with and without governance (see bench/README.md).",
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="2 rounds, 2 levels (~4 min)")
    group.add_argument("--smoke", action="store_true", help="(a) and (b), ~200 requests")
    parser.add_argument("--setups", help=f"subset of {ALL_KEYS!r} (default: all; smoke: ab)")
    parser.add_argument("--concurrency", help="comma-separated levels, e.g. 1,8,64")
    parser.add_argument("--rounds", type=int, help="interleaved rounds")
    parser.add_argument("--duration", type=float, help="seconds per slice")
    parser.add_argument(
        "--memory-requests", type=int, help="governed requests in the memory phase (0: skip)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results directory")
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to cores")
    parser.add_argument("--no-chart", action="store_true", help="skip the PNG")
    parser.add_argument(
        "--as-shipped",
        action="store_true",
        help="measure the proxies exactly as shipped: only the guardrail's proxies cache "
        "LiteLLM's failing OTel import, which flatters (b)-(e) (see "
        "bench/equal_otel/sitecustomize.py; the default gives every proxy the cache)",
    )
    parser.add_argument(
        "--otel-sdk",
        action="store_true",
        help="install opentelemetry-sdk into every proxy (bench/otel_sdk.py): what an operator "
        "with the SDK sees",
    )
    args = parser.parse_args(argv)
    args.equal_otel = not args.as_shipped
    mode = MODES["quick" if args.quick else "smoke" if args.smoke else "full"]
    if args.setups:
        unknown = set(args.setups) - {s.key for s in ALL_SETUPS}
        if unknown or "a" not in args.setups:
            parser.error(f"--setups: letters from {ALL_KEYS!r}, and 'a' (the baseline) is required")
        mode = replace(mode, setups=args.setups)
    if args.concurrency:
        mode = replace(mode, concurrency=tuple(int(c) for c in args.concurrency.split(",")))
    if args.rounds:
        mode = replace(mode, rounds=args.rounds)
    if args.duration:
        mode = replace(mode, duration_s=args.duration)
    if args.memory_requests is not None:
        mode = replace(mode, memory_requests=args.memory_requests)
    return args, mode


# ---------------------------------------------------------------------- environment


def _child_env(
    extra: dict[str, str] | None = None,
    *,
    equal_otel: bool = False,
    otel_sdk: Path | None = None,
) -> dict[str, str]:
    """The environment of every process we start.

    Offline cost map, no telemetry, no proxies for loopback, the repo on PYTHONPATH (for
    `bench.peer_callback`). Bytecode caching is left ON even if the caller turned it off:
    LiteLLM 1.106 re-attempts a failing import (`litellm.integrations.otel.logger`, which
    needs `opentelemetry-sdk`) on every request, and without `.pyc` files each attempt
    recompiles the module (~4 ms), which would swamp everything we measure. Production
    installs (pip, Docker images) ship bytecode.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(
        {
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "AXONFLOW_TELEMETRY": "off",
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": os.pathsep.join(
                p
                for p in (
                    str(REPO_ROOT / "bench" / "equal_otel") if equal_otel else "",
                    str(otel_sdk) if otel_sdk else "",
                    str(REPO_ROOT),
                    os.environ.get("PYTHONPATH", ""),
                )
                if p
            ),
            "LITELLM_MASTER_KEY": MASTER_KEY,
        }
    )
    env.update(extra or {})
    return env


def _machine(pinning: str) -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    return {
        "cpu_model": model,
        "cpus": os.cpu_count(),
        "memory_gib": mem_kb / 1024 / 1024,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "litellm": version("litellm"),
        "axonflow": version("axonflow"),
        "axonflow_litellm": version("axonflow-litellm"),
        "axonflow_guardrail": version("axonflow-guardrail"),
        "pinning": pinning,
    }


# ---------------------------------------------------------------------- agents and proxies


class Agent:
    """A dev agent (the real CLI) and its `/__dev/` control API."""

    def __init__(self, group: ProcessGroup, name: str, log_dir: Path, cpus: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        argv = [
            str(BIN_DIR / "axonflow-guardrail"),
            "dev-agent",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--client",
            f"{CLIENT_ID}:{CLIENT_SECRET}",
            # One log line per decision would cost the agent more than the decision.
            "--log-level",
            "warning",
        ]
        self.process = group.add(
            ManagedProcess(name, argv, log_dir=log_dir, env=_child_env(), cpus=cpus)
        )

    def wait_ready(self) -> None:
        self.process.wait_http_ok(f"{self.url}/health", timeout_s=60)

    def control(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(  # loopback only
            f"{self.url}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"null")

    def clear_stats(self) -> None:
        self.control("DELETE", "/__dev/stats")

    def stats(self) -> dict[str, Any]:
        routes: dict[str, Any] = self.control("GET", "/__dev/stats")["routes"]
        return routes


class Proxy:
    """One `litellm --config` process for one set-up."""

    def __init__(
        self,
        group: ProcessGroup,
        setup: Setup,
        log_dir: Path,
        *,
        agent_url: str | None,
        equal_otel: bool = False,
        otel_sdk: Path | None = None,
    ) -> None:
        self.setup = setup
        self.port = free_port()
        # Each set-up its own outbox: a shared file would mix their agents' records.
        outbox = str(log_dir / f"outbox-{setup.key}.db")
        for old in log_dir.glob(f"outbox-{setup.key}.db*"):
            old.unlink()
        config = proxy_config(setup, agent_url=agent_url, outbox_path=outbox)
        self.config_path = log_dir / f"proxy-{setup.key}.yaml"
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        extra = {"BENCH_PEER_ENDPOINT": agent_url or ""} if setup.governance == "peer" else {}
        argv = [
            str(BIN_DIR / "litellm"),
            "--config",
            str(self.config_path),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]
        # Started unpinned (five start-ups at once go faster on every core), pinned when ready.
        self.process = group.add(
            ManagedProcess(
                f"proxy-{setup.key}",
                argv,
                log_dir=log_dir,
                env=_child_env(extra, equal_otel=equal_otel, otel_sdk=otel_sdk),
            )
        )
        self.worker = self.process.pid

    def wait_ready(self, cpus: Any) -> float:
        took = self.process.wait_http_ok(
            f"http://127.0.0.1:{self.port}/health/liveliness", timeout_s=240
        )
        self.worker = self.process.worker_pid()
        pin_all_threads(self.worker, cpus)
        return took


class LoadGenerator:
    """The `bench.loadgen --serve` process: one JSON spec in, one JSON result out."""

    def __init__(self, group: ProcessGroup, log_dir: Path, cpus: Any) -> None:
        self.process = group.add(
            ManagedProcess(
                "loadgen",
                [sys.executable, "-m", "bench.loadgen", "--serve"],
                log_dir=log_dir,
                env=_child_env(),
                stdin=PIPE,
                stdout=PIPE,
                cpus=cpus,
            )
        )
        self._body = request_body().decode()

    def run(
        self,
        port: int,
        *,
        concurrency: int,
        duration_s: float,
        max_requests: int,
        warmup_requests: int,
        min_completed: int = 1,
    ) -> dict[str, Any]:
        spec = {
            "host": "127.0.0.1",
            "port": port,
            "path": "/v1/chat/completions",
            "body": self._body,
            "headers": {
                "Authorization": f"Bearer {MASTER_KEY}",
                "Content-Type": "application/json",
            },
            "concurrency": concurrency,
            "warmup_requests": warmup_requests,
            "requests": max_requests,
            "duration_s": duration_s,
            "min_completed": min_completed,
        }
        proc = self.process.proc
        assert proc.stdin is not None
        assert proc.stdout is not None
        proc.stdin.write((json.dumps(spec) + "\n").encode())
        proc.stdin.flush()
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"load generator died:\n{self.process.output()}")
        reply = json.loads(line)
        if not reply.get("ok"):
            raise RuntimeError(f"load generator failed: {reply.get('error')}")
        result: dict[str, Any] = reply["result"]
        return result


# ---------------------------------------------------------------------- the run


class Bench:
    def __init__(self, mode: Mode, args: argparse.Namespace, argv: Sequence[str]) -> None:
        self.mode = mode
        self.args = args
        self.argv = list(argv)
        self.setups = [s for s in ALL_SETUPS if s.key in mode.setups]
        self.out: Path = args.out
        self.log_dir = self.out / "tmp" / "logs"
        self.group = ProcessGroup()
        self.proxy_cpus, self.aux_cpus = cpu_plan(pin=not args.no_pin)
        self.agents: dict[str, Agent] = {}
        self.proxies: dict[str, Proxy] = {}
        self.slices: list[Slice] = []
        self.latencies: dict[int, dict[str, list[int]]] = {}
        self.memory: dict[str, dict[str, Any]] = {}
        self.memory_traces: dict[str, list[tuple[int, float]]] = {}
        self.notes: list[str] = []
        self.started = time.time()

    def log(self, message: str) -> None:
        elapsed = time.time() - self.started
        print(f"[bench {elapsed:6.1f}s] {message}", flush=True)

    # .................................................................. lifecycle

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for old in self.log_dir.glob("*"):
            old.unlink()
        if self.aux_cpus:
            os.sched_setaffinity(0, set(self.aux_cpus))
        pinning = (
            f"proxy workers on CPU {self.proxy_cpus}, dev agents + load generator + "
            f"orchestrator on CPU {self.aux_cpus}"
            if self.proxy_cpus
            else "none"
        )
        self.machine = _machine(pinning)
        self.log(f"{self.machine['cpu_model']}, {self.machine['cpus']} cores; pinning: {pinning}")
        self.loadgen = LoadGenerator(self.group, self.log_dir, self.aux_cpus)
        for setup in self.setups:
            if setup.agent == "own":
                self.agents[setup.key] = Agent(
                    self.group, f"agent-{setup.key}", self.log_dir, self.aux_cpus
                )
        for agent in self.agents.values():
            agent.wait_ready()
        dead_url = f"http://127.0.0.1:{self.group.reserve_dead_port()}"
        # Started a few at a time: eleven cold starts at once on two cores outlast any
        # readiness timeout, and the first start of a fresh environment writes the bytecode
        # every later one reads (so it goes first, alone).
        batches = [self.setups[:1]] + [
            self.setups[i : i + _START_BATCH] for i in range(1, len(self.setups), _START_BATCH)
        ]
        self.log(f"starting {len(self.setups)} proxies: {', '.join(s.key for s in self.setups)}")
        for batch in batches:
            for setup in batch:
                agent_url = None
                if setup.agent == "own":
                    agent_url = self.agents[setup.key].url
                elif setup.agent == "dead":
                    agent_url = dead_url
                self.proxies[setup.key] = Proxy(
                    self.group,
                    setup,
                    self.log_dir,
                    agent_url=agent_url,
                    equal_otel=bool(getattr(self.args, "equal_otel", False)),
                    otel_sdk=(
                        otel_sdk_dir()
                        if setup.otel_sdk or getattr(self.args, "otel_sdk", False)
                        else None
                    ),
                )
            for setup in batch:
                proxy = self.proxies[setup.key]
                took = proxy.wait_ready(self.proxy_cpus)
                self.log(f"proxy ({setup.key}) ready after {took:.1f}s (worker pid {proxy.worker})")
        for setup in self.setups:
            if setup.shipper == "external":
                # The external shipper runs beside the proxy, on the other core: what it costs
                # is not the worker's.
                self.group.add(
                    ManagedProcess(
                        f"shipper-{setup.key}",
                        [
                            str(BIN_DIR / "axonflow-guardrail"),
                            "ship-audits",
                            "--config",
                            str(self.proxies[setup.key].config_path),
                            "--log-level",
                            "warning",
                        ],
                        log_dir=self.log_dir,
                        env=_child_env(),
                        cpus=self.aux_cpus,
                    )
                )
        for setup in self.setups:
            if setup.audit_delay_s:
                self.agents[setup.key].control(
                    "PUT",
                    "/__dev/faults",
                    {"route": "/api/audit/llm-call", "delay_s": setup.audit_delay_s},
                )

    def warm_up(self) -> None:
        """First requests pay lazy imports and connection set-up; (d) opens its breaker."""
        for setup in self.setups:
            proxy = self.proxies[setup.key]
            high = max(self.mode.concurrency)
            for conc in [high] if setup.high_only else sorted({1, high}):
                result = self.loadgen.run(
                    proxy.port,
                    concurrency=conc,
                    duration_s=self.mode.warmup_s,
                    max_requests=self.mode.max_requests,
                    warmup_requests=20,
                )
                self._check(setup, result, phase="warm-up", fatal=setup.governance != "peer")
            if setup.agent == "dead":
                opened = "circuit breaker open" in proxy.process.output(tail=200_000)
                self.notes.append(
                    "(d): the guardrail's breaker was "
                    + ("verified open" if opened else "NOT seen open")
                    + " after warm-up (proxy log: 'circuit breaker open'); recovery 24 h."
                )
                self.log(f"(d) breaker open after warm-up: {opened}")
        self.log("warm-up done")

    def _check(
        self, setup: Setup, result: dict[str, Any], *, phase: str, fatal: bool = True
    ) -> None:
        """Errors are measurements for the peer (it may collapse under load) and a broken
        run for everyone else: a benchmark of a set-up that fails proves nothing."""
        if not result["errors"] and result["completed"]:
            return
        message = (
            f"set-up ({setup.key}) during {phase}: {result['errors']} errors, "
            f"{result['completed']} completed; e.g. {result['error_samples'][:3]}; "
            f"proxy log {self.proxies[setup.key].process.log_path}"
        )
        if fatal:
            raise RuntimeError(message)
        self.log(f"WARNING {message}")

    # .................................................................. measurement

    def measure(self) -> None:
        mode = self.mode
        for rnd in range(mode.rounds):
            shift = rnd % len(self.setups)
            order = self.setups[shift:] + self.setups[:shift]
            high = max(mode.concurrency)
            for conc in mode.concurrency:
                for setup in order:
                    if conc == high or not setup.high_only:
                        self.slices.append(self._slice(rnd, setup, conc))
            self.log(f"round {rnd + 1}/{mode.rounds} done (order {''.join(s.key for s in order)})")

    def _slice(self, rnd: int, setup: Setup, conc: int) -> Slice:
        proxy = self.proxies[setup.key]
        agent = self.agents.get(setup.key)
        if agent is not None:
            agent.clear_stats()
        cpu_before = cpu_seconds(proxy.worker)
        result = self.loadgen.run(
            proxy.port,
            concurrency=conc,
            duration_s=self.mode.duration_s,
            max_requests=self.mode.max_requests,
            warmup_requests=max(2 * conc, 10),
            min_completed=conc,
        )
        cpu_used = cpu_seconds(proxy.worker) - cpu_before
        self._check(
            setup,
            result,
            phase=f"round {rnd + 1}, concurrency {conc}",
            fatal=setup.governance != "peer",
        )
        lat = sorted(result["latencies_us"])
        self.latencies.setdefault(conc, {}).setdefault(setup.key, []).extend(lat)
        sent = max(1, int(result["sent"]))
        ms = [v / 1000 for v in lat]
        nan = float("nan")
        s = Slice(
            round=rnd,
            setup=setup.key,
            concurrency=conc,
            completed=int(result["completed"]),
            errors=int(result["errors"]),
            sent=sent,
            elapsed_s=float(result["elapsed_s"]),
            throughput_rps=float(result["throughput_rps"]),
            p50_ms=percentile(ms, 50),
            p95_ms=percentile(ms, 95),
            p99_ms=percentile(ms, 99),
            mean_ms=sum(ms) / len(ms) if ms else nan,
            cpu_ms_per_request=1000 * cpu_used / sent,
            error_samples=list(result.get("error_samples") or []),
        )
        if agent is not None:
            routes = agent.stats()
            pre = routes.get("POST /api/policy/pre-check") or {}
            audit = routes.get("POST /api/audit/llm-call") or {}
            s.agent_pre_checks_per_request = (pre.get("count") or 0) / sent
            s.agent_audits_per_request = (audit.get("count") or 0) / sent
            if pre.get("p50_us") is not None:
                s.agent_pre_check_p50_ms = pre["p50_us"] / 1000
            if audit.get("p50_us") is not None:
                s.agent_audit_p50_ms = audit["p50_us"] / 1000
        return s

    def measure_memory(self) -> None:
        """RSS of each memory set-up's worker over `memory_requests` requests, after a warm-up.

        (b) is the budget line; (a), when measured, shows what LiteLLM itself does with the
        same traffic, so a growth can be told apart from the guardrail's.
        """
        mode = self.mode
        if not mode.memory_requests:
            return
        for key in mode.memory_setups:
            if key in self.proxies:
                self.memory[key] = self._memory_of(self.proxies[key])

    def _memory_of(self, proxy: Proxy) -> dict[str, Any]:
        mode = self.mode
        key = proxy.setup.key
        conc = max(mode.concurrency)
        chunk = max(conc, min(1_000, mode.memory_requests // 10))
        self.log(f"memory ({key}): {mode.memory_warmup:,} warm-up + {mode.memory_requests:,}")
        if mode.memory_warmup:
            result = self.loadgen.run(
                proxy.port,
                concurrency=conc,
                duration_s=3_600,
                max_requests=mode.memory_warmup,
                warmup_requests=0,
            )
            self._check(proxy.setup, result, phase="memory warm-up")
        start_kb = rss_kb(proxy.worker)
        peak_kb = start_kb
        trace = [(0, start_kb / 1024, thread_count(proxy.worker))]
        done = 0
        started = time.monotonic()
        while done < mode.memory_requests:
            # A chunk's own warm-up (one request per connection) is real traffic too.
            result = self.loadgen.run(
                proxy.port,
                concurrency=conc,
                duration_s=3_600,
                max_requests=min(chunk, mode.memory_requests - done),
                warmup_requests=0,
            )
            self._check(proxy.setup, result, phase="memory phase")
            done += int(result["sent"])
            kb = rss_kb(proxy.worker)
            peak_kb = max(peak_kb, kb)
            trace.append((done, kb / 1024, thread_count(proxy.worker)))
        end_kb = rss_kb(proxy.worker)
        self.memory_traces[key] = [(n, mb) for n, mb, _ in trace]
        half = next(mb for n, mb, _ in trace if n >= done / 2)
        self.log(
            f"memory ({key}): {start_kb / 1024:.1f} -> {end_kb / 1024:.1f} MB "
            f"over {done:,} requests"
        )
        return {
            "setup": key,
            "concurrency": conc,
            "warmup": mode.memory_warmup,
            "requests": done,
            "duration_s": time.monotonic() - started,
            "rss_start_mb": start_kb / 1024,
            "rss_end_mb": end_kb / 1024,
            "rss_peak_mb": peak_kb / 1024,
            "growth_mb": (end_kb - start_kb) / 1024,
            #: A leak grows steadily; a pool or arena that fills once does not.
            "growth_second_half_mb": end_kb / 1024 - half,
            "threads_start": trace[0][2],
            "threads_end": trace[-1][2],
            "trace": [{"requests": n, "rss_mb": round(mb, 2), "threads": t} for n, mb, t in trace],
        }

    # .................................................................. results

    def _peer_notes(self) -> None:
        if "c" not in self.proxies:
            return
        log_text = self.proxies["c"].process.output(tail=50_000_000)
        failing = log_text.count("failing open")
        summaries = summarise(self.slices)
        checks = [
            s.agent_pre_checks_per_request
            for per in summaries.values()
            for k, s in per.items()
            if k == "c" and s.agent_pre_checks_per_request is not None
        ]
        if checks:
            self.notes.append(
                "(c): the dev agent received "
                + ", ".join(f"{c:.2f}" for c in checks)
                + " pre-checks per request (by concurrency level); the peer's log has "
                f"{failing:,} 'failing open' lines (its calls timed out or failed and it let "
                "the request through ungoverned)."
            )

    def finish(self) -> dict[str, Any]:
        self._peer_notes()
        if "e" in self.proxies:
            self.notes.append(
                f"(e): audits/req is low by design: the agent holds each audit {AUDIT_DELAY_S} s "
                "and the guardrail sends them from a bounded background queue, never on the "
                "response path."
            )
        summaries = summarise(self.slices)
        budget = evaluate_budget(summaries, self.slices, self.memory.get("b"), self.memory.get("a"))
        gap = explain_gap(self.slices)
        mode = self.mode
        command = " ".join(["python -m bench.run", *self.argv])
        result: dict[str, Any] = {
            "schema": 1,
            "command": command + (" (make bench)" if not self.argv else ""),
            "finished_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "duration_s": time.time() - self.started,
            "machine": self.machine,
            "config": {
                "mode": mode.name,
                "setups": [s.key for s in self.setups],
                "concurrency": list(mode.concurrency),
                "rounds": mode.rounds,
                "duration_s": mode.duration_s,
                "max_requests_per_slice": mode.max_requests,
                "memory_requests": mode.memory_requests,
                "equal_otel": bool(getattr(self.args, "equal_otel", False)),
                "otel_sdk": bool(getattr(self.args, "otel_sdk", False)),
                "memory_setups": [k for k in mode.memory_setups if k in self.proxies],
            },
            "setups": {s.key: s.label for s in self.setups},
            "summary": {
                str(conc): {k: s.to_json() for k, s in per.items()}
                for conc, per in summaries.items()
            },
            "budget": [b.to_json() for b in budget],
            "ablation": gap,
            "memory": self.memory,
            "notes": self.notes,
            "slices": [s.to_json() for s in self.slices],
        }
        self.out.mkdir(parents=True, exist_ok=True)
        write_json(result, self.out / "latest.json")
        (self.out / "latest.md").write_text(render_markdown(result, self.setups))
        # The raw samples behind the chart, so `python -m bench.report` can redraw it.
        (self.out / "tmp").mkdir(parents=True, exist_ok=True)
        (self.out / "tmp" / "samples.json").write_text(
            json.dumps(
                {
                    "latencies_us": {str(c): per for c, per in self.latencies.items()},
                    "memory_traces": self.memory_traces,
                }
            )
        )
        if not self.args.no_chart:
            draw_chart(
                self.latencies,
                self.memory_traces,
                self.setups,
                self.out / "latest.png",
                title=f"{result['command']} - {self.machine['cpu_model']}, "
                f"{self.machine['cpus']} cores - {result['finished_at']}",
            )
        print()
        print(render_table(summaries, self.setups, budget, gap))
        for note in self.notes:
            print(f"  note: {note}")
        print(f"\nwritten: {self.out / 'latest.json'}, latest.md, latest.png")
        return result


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args, mode = _parse_args(argv)
    install_signal_handlers()
    bench = Bench(mode, args, argv)
    try:
        bench.start()
        bench.warm_up()
        bench.measure()
        bench.measure_memory()
        bench.finish()
    except KeyboardInterrupt:
        print("\nbench: interrupted, stopping every process", file=sys.stderr)
        return 130
    finally:
        bench.group.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
