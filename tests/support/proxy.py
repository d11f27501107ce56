"""Run the real `litellm` proxy CLI as a subprocess with a test config.

Startup costs several seconds, so tests share a proxy per module and choose among several
guardrail instances (each with its own settings and breaker) per request with the body's
`"guardrails": ["<name>"]`, which open-source LiteLLM honours for guardrails that are not
`default_on`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
import openai
import yaml

from tests.support.processes import BIN_DIR, REPO_ROOT, ManagedProcess, free_port

MASTER_KEY = "sk-test-master-key"
MOCK_ANSWER = "Hello from the mock model."

#: `make workers` runs the end-to-end core against `litellm --num_workers N` (N > 1) with a
#: Redis-backed proxy cache at AXONFLOW_TEST_REDIS_URL (`redis://127.0.0.1:PORT`).
PROXY_WORKERS = int(os.environ.get("AXONFLOW_TEST_PROXY_WORKERS", "1"))


def multi_worker_settings(redis_url: str) -> dict[str, Any]:
    """`litellm_settings` for several workers sharing one Redis, as operators configure it.

    `enable_redis_auth_cache` puts Redis behind the cache LiteLLM hands to pre-call hooks
    (the guardrail records spent approvals there); `mode: default_off` keeps response caching
    opt-in per request, so every request still reaches the model.
    """
    host, _, port = redis_url.removeprefix("redis://").partition(":")
    return {
        "cache": True,
        "cache_params": {"type": "redis", "host": host, "port": int(port), "mode": "default_off"},
        "enable_redis_auth_cache": True,
    }


def _with_workers(config: Mapping[str, Any], workers: int) -> tuple[dict[str, Any], list[str]]:
    full = dict(config)
    if workers <= 1:
        return full, []
    redis_url = os.environ.get("AXONFLOW_TEST_REDIS_URL", "")
    if not redis_url:
        raise RuntimeError("several proxy workers need AXONFLOW_TEST_REDIS_URL (make workers)")
    settings = dict(full.get("litellm_settings") or {})
    settings.update(multi_worker_settings(redis_url))
    full["litellm_settings"] = settings
    return full, ["--num_workers", str(workers)]


def mock_model(name: str, *, answer: str = MOCK_ANSWER, **extra: Any) -> dict[str, Any]:
    """A model entry that answers with `answer` and makes no network call."""
    params: dict[str, Any] = {
        "model": f"openai/{name}",
        "api_key": "sk-not-used",
        "mock_response": answer,
        **extra,
    }
    return {"model_name": name, "litellm_params": params}


def guardrail(
    name: str,
    agent_url: str,
    *,
    mode: Sequence[str] = ("pre_call", "post_call"),
    default_on: bool = False,
    **settings: Any,
) -> dict[str, Any]:
    """A guardrail entry for `AxonFlowGuardrail` with fast test defaults."""
    params: dict[str, Any] = {
        "guardrail": "axonflow_guardrail.AxonFlowGuardrail",
        "mode": list(mode),
        "default_on": default_on,
        "endpoint": agent_url,
        "client_id": "litellm-test",
        "client_secret": "test-secret",
        "call_timeout_seconds": 1.0,
        **settings,
    }
    return {"guardrail_name": name, "litellm_params": params}


class Proxy:
    def __init__(self, process: ManagedProcess, port: int, config_path: Path) -> None:
        self.process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.config_path = config_path

    def openai(self, *, api_key: str = MASTER_KEY, **kwargs: Any) -> openai.OpenAI:
        """An OpenAI client for the proxy with the SDK's own retries off."""
        kwargs.setdefault("max_retries", 0)
        kwargs.setdefault("timeout", 30)
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=api_key, **kwargs)

    def post(
        self,
        path: str,
        body: Mapping[str, Any],
        *,
        api_key: str = MASTER_KEY,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
    ) -> httpx.Response:
        all_headers = {"Authorization": f"Bearer {api_key}", **(headers or {})}
        return httpx.post(
            f"{self.url}{path}", json=dict(body), headers=all_headers, timeout=timeout
        )

    def chat(
        self,
        content: str,
        *,
        model: str = "mock",
        guardrails: Sequence[str] | None = None,
        **extra: Any,
    ) -> httpx.Response:
        body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": content}]}
        if guardrails is not None:
            body["guardrails"] = list(guardrails)
        headers = extra.pop("headers", None)
        api_key = extra.pop("api_key", MASTER_KEY)
        body.update(extra)
        return self.post("/v1/chat/completions", body, headers=headers, api_key=api_key)

    def output(self, *, since: int = 0) -> str:
        return self.process.output(since=since)

    def output_size(self) -> int:
        return self.process.output_size()


def _proxy_argv(config_path: Path, port: int) -> list[str]:
    return [
        str(BIN_DIR / "litellm"),
        "--config",
        str(config_path),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


def _litellm_numbers() -> tuple[int, ...]:
    text = version("litellm")
    return tuple(int("".join(c for c in part if c.isdigit()) or 0) for part in text.split(".")[:3])


#: Before this release LiteLLM looks a config's module paths up only next to the config file.
MODULE_PATH_IMPORT_SINCE = (1, 94, 0)


def module_paths(config: Mapping[str, Any]) -> list[str]:
    """Every `package.module.name` the config asks LiteLLM to load."""
    paths = [g["litellm_params"]["guardrail"] for g in config.get("guardrails") or []]
    callbacks = (config.get("litellm_settings") or {}).get("callbacks") or []
    paths += [callbacks] if isinstance(callbacks, str) else list(callbacks)
    custom_auth = (config.get("general_settings") or {}).get("custom_auth")
    paths += [custom_auth] if custom_auth else []
    return [p for p in paths if isinstance(p, str) and "." in p]


def write_loader_files(config: Mapping[str, Any], directory: Path) -> None:
    """What the README tells operators of LiteLLM < 1.94 to do: a one-line file next to the
    config for each module path, importing the installed name (see "Compatibility")."""
    for dotted in module_paths(config):
        module, _, name = dotted.rpartition(".")
        target = directory.joinpath(*module.split(".")).with_suffix(".py")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f"from {module} import {name}  # noqa: F401\n")


def write_config(config: Mapping[str, Any], directory: Path) -> Path:
    path = directory / "litellm_config.yaml"
    full = dict(config)
    full.setdefault("general_settings", {}).setdefault("master_key", MASTER_KEY)
    path.write_text(yaml.safe_dump(full, sort_keys=False))
    if _litellm_numbers() < MODULE_PATH_IMPORT_SINCE:
        write_loader_files(full, directory)
    return path


@contextmanager
def start_proxy(
    config: Mapping[str, Any],
    *,
    env: Mapping[str, str] | None = None,
    startup_timeout_s: float = 120.0,
    workers: int = PROXY_WORKERS,
) -> Iterator[Proxy]:
    """Start `litellm --config` on a free port and wait until it serves; always stopped."""
    with start_proxies([config], env=env, startup_timeout_s=startup_timeout_s, workers=workers) as (
        proxy,
    ):
        yield proxy


@contextmanager
def start_proxies(
    configs: Sequence[Mapping[str, Any]],
    *,
    env: Mapping[str, str] | None = None,
    startup_timeout_s: float = 120.0,
    workers: int = PROXY_WORKERS,
) -> Iterator[list[Proxy]]:
    """Start one proxy per config at once (e.g. instances sharing one database); all stopped."""
    if workers > 1:
        # uvicorn kills a worker that has not answered its health ping within 5 s; importing
        # LiteLLM on a loaded 2-core machine takes longer (README "Deployment").
        env = {"TIMEOUT_WORKER_HEALTHCHECK": "120", **(env or {})}
        # The CLI imports the proxy once, then each worker imports it again: on a loaded
        # 2-core machine that took 130-145 s for two workers.
        startup_timeout_s = max(startup_timeout_s, 300.0)
    with ExitStack() as stack:
        launched: list[tuple[ManagedProcess, int, Path]] = []
        for config in configs:
            full, worker_args = _with_workers(config, workers)
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="litellm-test-"))
            path = write_config(full, Path(tmp))
            port = free_port()
            process = ManagedProcess(
                "litellm-proxy",
                [*_proxy_argv(path, port), *worker_args],
                env={"LITELLM_MASTER_KEY": MASTER_KEY, "PYTHONPATH": str(REPO_ROOT), **(env or {})},
            )
            stack.enter_context(process)
            launched.append((process, port, path))
        for process, port, _ in launched:
            process.wait_http_ok(
                f"http://127.0.0.1:{port}/health/liveliness", timeout_s=startup_timeout_s
            )
        yield [Proxy(process, port, path) for process, port, path in launched]


def run_proxy_expecting_failure(
    config: Mapping[str, Any], *, timeout_s: float = 120.0
) -> tuple[int | None, str]:
    """Start a proxy that must refuse to start; return its exit code (None if it served)."""
    with tempfile.TemporaryDirectory(prefix="litellm-test-") as tmp:
        path = write_config(config, Path(tmp))
        port = free_port()
        with ManagedProcess(
            "litellm-proxy",
            _proxy_argv(path, port),
            env={"LITELLM_MASTER_KEY": MASTER_KEY, "PYTHONPATH": str(REPO_ROOT)},
        ) as process:
            try:
                process.wait_http_ok(
                    f"http://127.0.0.1:{port}/health/liveliness", timeout_s=timeout_s
                )
            except RuntimeError:  # exited before serving: what we expect
                return process.proc.returncode, process.output()
            return None, process.output()
