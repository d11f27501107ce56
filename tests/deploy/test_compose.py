"""docker/compose.yaml brought up with podman-compose: the proxy (two workers, Redis-backed
cache), the dev agent, Postgres and Redis; one allowed and one blocked request.

The services share the host's network through docker/compose.loopback.yaml and listen on free
127.0.0.1 ports (this machine's tests use loopback only); the proxy without DATABASE_URL (the
slim image has no Prisma engine: README "Deployment").
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis

from tests.deploy.conftest import run
from tests.e2e.conftest import eventually
from tests.support.processes import REPO_ROOT, free_port

MASTER_KEY = "sk-compose-test-7a1e"


@dataclass(frozen=True, slots=True)
class Stack:
    proxy: str
    agent: str
    redis_port: int
    postgres_port: int
    env: dict[str, str]


def compose(*args: str, env: dict[str, str], timeout_s: float = 600) -> str:
    return run([str(REPO_ROOT / "tools" / "compose"), *args], env=env, timeout_s=timeout_s)


def wait_http(url: str, *, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)  # containers starting: there is no event to wait on
    raise AssertionError(f"{url} not ready after {timeout_s} s")


@pytest.fixture(scope="module")
def stack(podman: list[str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    image = os.environ.get("AXONFLOW_TEST_IMAGE", "")
    assert image, "AXONFLOW_TEST_IMAGE is not set: run `make compose-test`, which builds it"
    ports = {name: free_port() for name in ("PROXY", "AGENT", "REDIS", "POSTGRES")}
    env_file = tmp_path_factory.mktemp("compose") / "env"
    example = (REPO_ROOT / "docker" / ".env.example").read_text()
    env_file.write_text(
        example.replace("LITELLM_MASTER_KEY=sk-change-me", f"LITELLM_MASTER_KEY={MASTER_KEY}")
    )
    env = {
        **os.environ,
        "AXONFLOW_IMAGE": image,
        "AXONFLOW_ENV_FILE": str(env_file),
        "COMPOSE_OVERRIDE": "docker/compose.loopback.yaml",
        "COMPOSE_PROJECT": f"axonflow-test-{ports['PROXY']}",
        "PROXY_HOST": "127.0.0.1",
        "AGENT_HOST": "127.0.0.1",
        "POSTGRES_PASSWORD": "compose-test-pg",
        **{f"{name}_PORT": str(port) for name, port in ports.items()},
    }
    try:
        compose("up", env=env)
        proxy = f"http://127.0.0.1:{ports['PROXY']}"
        agent = f"http://127.0.0.1:{ports['AGENT']}"
        wait_http(f"{agent}/health", timeout_s=60)
        wait_http(f"{proxy}/health/liveliness", timeout_s=180)
        yield Stack(proxy, agent, ports["REDIS"], ports["POSTGRES"], env)
    finally:
        logs = subprocess.run(
            [str(REPO_ROOT / "tools" / "compose"), "logs"], env=env, capture_output=True, text=True
        )
        Path(env_file.parent / "compose.log").write_text(logs.stdout + logs.stderr)
        subprocess.run(
            [str(REPO_ROOT / "tools" / "compose"), "down", "-v"],
            env=env,
            capture_output=True,
            timeout=300,
        )


def chat(stack: Stack, text: str) -> httpx.Response:
    body = {"model": "demo", "messages": [{"role": "user", "content": text}]}
    headers = {"Authorization": f"Bearer {MASTER_KEY}"}
    return httpx.post(f"{stack.proxy}/v1/chat/completions", json=body, headers=headers, timeout=30)


def test_allowed_request_is_answered_and_audited_by_the_agent(stack: Stack) -> None:
    response = chat(stack, "Summarise our Q3 numbers")
    assert response.status_code == 200, response.text
    call_id = response.headers["x-litellm-call-id"]

    def audited() -> list[dict[str, object]]:
        audits = httpx.get(f"{stack.agent}/__dev/audits", timeout=5).json()
        return [a for a in audits if a["metadata"]["litellm_call_id"] == call_id]

    assert len(eventually(audited, timeout_s=15)) == 1


def test_blocked_request_is_refused(stack: Stack) -> None:
    response = chat(stack, "x UNION SELECT password FROM users")
    assert response.status_code == 400, response.text
    fields = response.json()["error"].get("provider_specific_fields") or {}
    assert fields.get("code") == "policy_denied", response.text


def test_redis_and_postgres_serve(stack: Stack) -> None:
    client = redis.Redis(host="127.0.0.1", port=stack.redis_port, socket_timeout=5)
    assert client.ping() is True
    # The proxy's Redis-backed caches are in use (LiteLLM writes keys as it serves).
    chat(stack, "one more for the cache")
    with socket.create_connection(("127.0.0.1", stack.postgres_port), timeout=5):
        pass
    out = run(
        [
            *podman_exec(stack),
            "psql",
            "-U",
            "litellm",
            "-d",
            "litellm",
            "-p",
            str(stack.postgres_port),
            "-h",
            "127.0.0.1",
            "-tAc",
            "select 1",
        ],
        env={**stack.env, "PGPASSWORD": "compose-test-pg"},
    )
    assert out.strip() == "1"


def podman_exec(stack: Stack) -> list[str]:
    return [
        "podman",
        "exec",
        "--env",
        "PGPASSWORD=compose-test-pg",
        f"{stack.env['COMPOSE_PROJECT']}_postgres_1",
    ]
