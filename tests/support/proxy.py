"""Run the real `litellm` proxy CLI as a subprocess with a test config.

Startup costs several seconds, so tests share a proxy per module and choose among several
guardrail instances (each with its own settings and breaker) per request with the body's
`"guardrails": ["<name>"]`, which open-source LiteLLM honours for guardrails that are not
`default_on`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import openai
import yaml

from tests.support.processes import BIN_DIR, REPO_ROOT, ManagedProcess, free_port

MASTER_KEY = "sk-test-master-key"
MOCK_ANSWER = "Hello from the mock model."


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

    def output(self) -> str:
        return self.process.output()


def write_config(config: Mapping[str, Any], directory: Path) -> Path:
    path = directory / "litellm_config.yaml"
    full = dict(config)
    full.setdefault("general_settings", {}).setdefault("master_key", MASTER_KEY)
    path.write_text(yaml.safe_dump(full, sort_keys=False))
    return path


@contextmanager
def start_proxy(
    config: Mapping[str, Any],
    *,
    env: Mapping[str, str] | None = None,
    startup_timeout_s: float = 120.0,
    extra_args: Sequence[str] = (),
) -> Iterator[Proxy]:
    """Start `litellm --config` on a free port and wait until it serves; always stopped.

    `extra_args` go to the `litellm` CLI as they are (e.g. `["--num_workers", "2"]`)."""
    with tempfile.TemporaryDirectory(prefix="litellm-test-") as tmp:
        path = write_config(config, Path(tmp))
        port = free_port()
        process = ManagedProcess(
            "litellm-proxy",
            [
                str(BIN_DIR / "litellm"),
                "--config",
                str(path),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                *extra_args,
            ],
            env={"LITELLM_MASTER_KEY": MASTER_KEY, "PYTHONPATH": str(REPO_ROOT), **(env or {})},
        )
        with process:
            process.wait_http_ok(
                f"http://127.0.0.1:{port}/health/liveliness", timeout_s=startup_timeout_s
            )
            yield Proxy(process, port, path)


def run_proxy_expecting_failure(
    config: Mapping[str, Any], *, timeout_s: float = 120.0
) -> tuple[int | None, str]:
    """Start a proxy that must refuse to start; return its exit code (None if it served)."""
    with tempfile.TemporaryDirectory(prefix="litellm-test-") as tmp:
        path = write_config(config, Path(tmp))
        port = free_port()
        with ManagedProcess(
            "litellm-proxy",
            [
                str(BIN_DIR / "litellm"),
                "--config",
                str(path),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env={"LITELLM_MASTER_KEY": MASTER_KEY, "PYTHONPATH": str(REPO_ROOT)},
        ) as process:
            try:
                process.wait_http_ok(
                    f"http://127.0.0.1:{port}/health/liveliness", timeout_s=timeout_s
                )
            except RuntimeError:  # exited before serving: what we expect
                return process.proc.returncode, process.output()
            return None, process.output()
