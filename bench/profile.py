"""Where a governed request's CPU goes: py-spy on the proxy worker, under load.

    .venv/bin/python -m bench.profile                    # set-ups a, b and d at concurrency 8
    .venv/bin/python -m bench.profile --setups ab --seconds 20

Starts the same proxies as `bench.run` (same configs, pinning and load generator), then, for
each set-up in turn, samples the worker with `py-spy record --gil` (only the thread holding
the GIL, so idle threads do not count) while the load generator keeps it saturated. Each
sample is attributed to the innermost frame of a category (the guardrail's pre-call hook,
its audit sink, its LiteLLM logging call, the SDK's HTTP stack, ...) and divided by the
requests served meanwhile, which gives milliseconds of worker CPU per request per category.
The table goes to stdout and to `<out>/profile.md`; raw py-spy stacks stay in `<out>/tmp/`.

py-spy is not a project dependency: install it anywhere (`pip install py-spy`, or
`uv tool install py-spy`); it is looked up on PATH and next to the venv's Python. It needs
ptrace rights (root, or CAP_SYS_PTRACE).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.procs import BIN_DIR, install_signal_handlers
from bench.run import DEFAULT_OUT, MODES, Bench

__all__ = ["CATEGORIES", "attribute", "main"]

#: (category, substring of a frame's "function (file:line)"; py-spy names functions without
#: their class): a stack belongs to the first category any of its frames matches. LiteLLM's
#: auth comes first: the guardrail's route guard wraps it (`gates/_unhooked_routes.py`), but
#: its cost is LiteLLM's. Then the guardrail's own categories (LiteLLM code the guardrail
#: calls is the guardrail's cost), and the most specific LiteLLM parts before LiteLLM as a
#: whole.
CATEGORIES: tuple[tuple[str, str], ...] = (
    # FastAPI re-analysed every dependency per request once the route guard's override was in
    # place (~1 ms per request, found 2026-12-01 inside "LiteLLM: proxy request handling");
    # `gates/_override_analysis.py` keeps the analyses, so this line should stay near zero.
    ("guardrail: FastAPI's analysis of dependencies (route guard)", "get_dependant (fastapi/"),
    ("LiteLLM: auth (also under the guardrail's route guard)", "user_api_key_auth ("),
    ("guardrail: audit (outbox write, shipper, SDK call)", "axonflow_guardrail/audit/_shipper"),
    ("guardrail: audit (outbox write, shipper, SDK call)", "axonflow_guardrail/audit/_durable"),
    ("guardrail: audit (outbox write, shipper, SDK call)", "axonflow_guardrail/audit/_sqlite"),
    ("guardrail: audit (outbox write, shipper, SDK call)", "axonflow_guardrail/audit/_redis"),
    ("guardrail: audit (outbox write, shipper, SDK call)", "axonflow_guardrail/audit/_sink"),
    ("guardrail: audit (outbox write, shipper, SDK call)", "axonflow_guardrail/audit/_records"),
    ("guardrail: LiteLLM guardrail logging (record)", "axonflow_guardrail/audit/_litellm_record"),
    ("guardrail: LiteLLM guardrail logging (record)", "axonflow_guardrail/audit/_deferred"),
    ("guardrail: failure path (fail-open)", "on_failure (axonflow_guardrail/gates/_pre_check"),
    ("guardrail: pre-check (SDK + HTTP)", "pre_check (axonflow_guardrail/axonflow/_client.py"),
    ("guardrail: post-call hooks", "async_post_call_success_hook (axonflow_guardrail"),
    ("guardrail: post-call hooks", "async_post_call_streaming_iterator_hook (axonflow_guardrail"),
    ("guardrail: post-call hooks", "async_post_call_failure_hook (axonflow_guardrail"),
    ("guardrail: identity and token scrubbing", "axonflow_guardrail/request/_identity.py"),
    ("guardrail: text extraction (reading the request)", "axonflow_guardrail/gates/_admission"),
    ("guardrail: other pre-call work", "axonflow_guardrail/"),
    ("peer: AxonFlowLogger", "axonflow_litellm/"),
    ("LiteLLM: guardrail plumbing", "litellm/integrations/custom_guardrail.py"),
    ("LiteLLM: shadow-eval snapshot of guardrails", "shadow_eval_logger.py"),
    ("LiteLLM: body snapshot (every request)", "refresh_proxy_server_request_body_snapshot"),
    ("LiteLLM: logging callbacks", "litellm_logging.py"),
    ("LiteLLM: router + mock completion", "litellm/router.py"),
    ("LiteLLM: proxy request handling", "litellm/"),
    ("HTTP server (uvicorn, starlette, fastapi)", "/uvicorn/"),
    ("HTTP server (uvicorn, starlette, fastapi)", "/starlette/"),
    ("HTTP server (uvicorn, starlette, fastapi)", "/fastapi/"),
)
OTHER = "other (asyncio, stdlib, GC)"
#: What the time inside a category was spent on (reported as sub-lines).
DETAILS: tuple[tuple[str, str], ...] = (
    ("  of which HTTP client (aiohttp)", "aiohttp/client"),
    ("  of which the guardrail's HTTP/1.1 connections", "axonflow_guardrail/axonflow/_http11"),
    ("  of which a failing import, retried per call", "_find_and_load"),
    ("  of which logging (handlers, formatting)", "logging/__init__.py"),
    ("  of which pydantic", "pydantic/"),
)


def _find_py_spy() -> str | None:
    for candidate in (shutil.which("py-spy"), str(BIN_DIR / "py-spy")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def attribute(raw: Path) -> tuple[int, Counter[str], Counter[str]]:
    """(total samples, samples per category, samples per "category|detail")."""
    total = 0
    per_category: Counter[str] = Counter()
    per_detail: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        total += count
        category = next((name for name, needle in CATEGORIES if needle in stack), OTHER)
        per_category[category] += count
        for name, needle in DETAILS:
            if needle in stack:
                per_detail[f"{category}|{name}"] += count
    return total, per_category, per_detail


def _profile_one(
    bench: Bench, key: str, *, py_spy: str, seconds: float, rate: int, concurrency: int
) -> dict[str, Any]:
    proxy = bench.proxies[key]
    raw = bench.log_dir / f"profile-{key}.txt"
    result: dict[str, Any] = {}

    def load() -> None:
        result.update(
            bench.loadgen.run(
                proxy.port,
                concurrency=concurrency,
                duration_s=seconds + 2.0,
                max_requests=10**9,
                warmup_requests=2 * concurrency,
            )
        )

    thread = threading.Thread(target=load)
    thread.start()
    subprocess.run(
        [
            py_spy,
            "record",
            "--gil",
            "-r",
            str(rate),
            "-d",
            str(int(seconds)),
            "-f",
            "raw",
            "-o",
            str(raw),
            "-p",
            str(proxy.worker),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    thread.join()
    requests = float(result["throughput_rps"]) * seconds
    total, per_category, per_detail = attribute(raw)
    ms = 1000.0 / rate / max(requests, 1.0)
    return {
        "setup": key,
        "requests_per_s": result["throughput_rps"],
        "ms_per_request": total * ms,
        "categories": {k: v * ms for k, v in per_category.most_common()},
        "details": {k: v * ms for k, v in per_detail.most_common()},
    }


def _render(profiles: Sequence[dict[str, Any]], concurrency: int, rate: int) -> str:
    keys = [p["setup"] for p in profiles]
    names: list[str] = []
    for p in profiles:
        for name in p["categories"]:
            if name not in names:
                names.append(name)
    lines = [
        f"Proxy worker time per request (ms) holding the GIL, py-spy --gil at {rate} Hz, "
        f"concurrency {concurrency}. py-spy pauses the worker to sample, which inflates every "
        "column alike (~1.3x here): compare columns and rows, not these totals with "
        "`CPU ms/req` in latest.md.",
        "",
        "| category | " + " | ".join(f"({k})" for k in keys) + " |",
        "|---|" + "---:|" * len(keys),
    ]
    for name in names:
        cells = [f"{p['categories'].get(name, 0.0):.2f}" for p in profiles]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
        details = sorted(
            {d.split("|", 1)[1] for p in profiles for d in p["details"] if d.startswith(name)}
        )
        for detail in details:
            cells = [f"{p['details'].get(f'{name}|{detail}', 0.0):.2f}" for p in profiles]
            lines.append(f"| {detail} | " + " | ".join(cells) + " |")
    totals = " | ".join(f"**{p['ms_per_request']:.2f}**" for p in profiles)
    lines.append(f"| **total** | {totals} |")
    rates = " | ".join(f"{p['requests_per_s']:.0f}" for p in profiles)
    lines.append(f"| requests/s while sampled | {rates} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--setups", default="abd", help="set-ups to profile (default abd)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--rate", type=int, default=250, help="samples per second")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--no-pin", action="store_true")
    parser.add_argument(
        "--as-shipped", action="store_true", help="as in bench.run: only (b)-(e) get the OTel fix"
    )
    args = parser.parse_args(argv)
    py_spy = _find_py_spy()
    if py_spy is None:
        print("py-spy not found: `pip install py-spy` (or `uv tool install py-spy`)")
        return 2
    setups = "".join(sorted(set(args.setups) | {"a"}))
    mode = replace(
        MODES["quick"], setups=setups, concurrency=(args.concurrency,), memory_requests=0
    )
    bench_args = argparse.Namespace(
        out=args.out, no_pin=args.no_pin, no_chart=True, equal_otel=not args.as_shipped
    )
    install_signal_handlers()
    bench = Bench(mode, bench_args, ["--profile"])
    profiles = []
    try:
        bench.start()
        bench.warm_up()
        for setup in bench.setups:
            bench.log(f"profiling ({setup.key}) for {args.seconds:.0f}s")
            profiles.append(
                _profile_one(
                    bench,
                    setup.key,
                    py_spy=py_spy,
                    seconds=args.seconds,
                    rate=args.rate,
                    concurrency=args.concurrency,
                )
            )
    except KeyboardInterrupt:
        return 130
    finally:
        bench.group.close()
    text = _render(profiles, args.concurrency, args.rate)
    print(text)
    (args.out / "profile.md").write_text(
        "# Profile: where the proxy worker's time goes, per request\n\n"
        f"Produced by `python -m bench.profile {' '.join(argv or sys.argv[1:])}` on "
        f"{bench.machine['cpu_model']}, {bench.machine['cpus']} cores.\n\n" + text
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
