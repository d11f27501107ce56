"""The container image from docker/Dockerfile, served by podman, with a config mounted.

`make container-test` builds the image (on a stand-in base when no registry answers) and names
it in AXONFLOW_TEST_IMAGE. The container shares the host's network namespace (`--network
host`), so the dev agent on 127.0.0.1 is reachable from it and the proxy listens on a free
loopback port: nothing leaves the loopback interface.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml

from tests.deploy.conftest import run
from tests.e2e.conftest import eventually
from tests.support.dev_agent import DevAgent, start_dev_agent
from tests.support.processes import REPO_ROOT, free_port

MASTER_KEY = "sk-container-master-4f1c"
CLIENT_SECRET = "container-client-secret-9d2e"
SQLI = "x UNION SELECT password FROM users"


@pytest.fixture(scope="module")
def image() -> str:
    name = os.environ.get("AXONFLOW_TEST_IMAGE", "")
    assert name, "AXONFLOW_TEST_IMAGE is not set: run `make container-test`, which builds it"
    return name


@pytest.fixture(scope="module")
def agent() -> Iterator[DevAgent]:
    with start_dev_agent(clients=[("litellm-container", CLIENT_SECRET)]) as running:
        yield running


class Container:
    def __init__(self, podman: list[str], name: str, port: int) -> None:
        self.podman = podman
        self.name = name
        self.url = f"http://127.0.0.1:{port}"

    def exec(self, *argv: str) -> str:
        return run([*self.podman, "exec", self.name, *argv])

    def logs(self) -> str:
        done = subprocess.run(
            [*self.podman, "logs", self.name], capture_output=True, text=True, check=False
        )
        return done.stdout + done.stderr

    def chat(self, text: str) -> httpx.Response:
        body = {"model": "demo", "messages": [{"role": "user", "content": text}]}
        headers = {"Authorization": f"Bearer {MASTER_KEY}"}
        return httpx.post(f"{self.url}/v1/chat/completions", json=body, headers=headers, timeout=30)


@pytest.fixture(scope="module")
def container(
    podman: list[str], image: str, agent: DevAgent, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Container]:
    config_dir = tmp_path_factory.mktemp("container-config")
    config = yaml.safe_load((REPO_ROOT / "litellm_config.example.yaml").read_text())
    config["guardrails"][0]["litellm_params"]["client_id"] = "litellm-container"
    (config_dir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    port = free_port()
    name = f"axonflow-test-{port}"
    argv = [
        *podman,
        "run",
        "--detach",
        "--name",
        name,
        "--network",
        "host",
        "--volume",
        f"{config_dir / 'config.yaml'}:/app/config.yaml:ro",
        "--env",
        f"AXONFLOW_ENDPOINT={agent.url}",
        "--env",
        f"AXONFLOW_CLIENT_SECRET={CLIENT_SECRET}",
        "--env",
        f"LITELLM_MASTER_KEY={MASTER_KEY}",
        "--env",
        "LITELLM_LOCAL_MODEL_COST_MAP=True",
        "--env",
        "AXONFLOW_TELEMETRY=off",
        "--env",
        "LITELLM_LOG=INFO",
        "--env",
        "HOST=127.0.0.1",
        "--env",
        f"PORT={port}",
        image,
    ]
    run(argv)
    running = Container(podman, name, port)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{running.url}/health/liveliness", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            state = run([*podman, "inspect", "--format", "{{.State.Status}}", name]).strip()
            assert state == "running", f"container {state}:\n{running.logs()[-4000:]}"
            assert time.monotonic() < deadline, f"not ready:\n{running.logs()[-4000:]}"
            time.sleep(0.2)  # a starting container: there is no event to wait on
        yield running
    finally:
        subprocess.run([*podman, "rm", "--force", "--time", "10", name], capture_output=True)


def test_allowed_request_is_answered_and_audited(container: Container, agent: DevAgent) -> None:
    response = container.chat("Summarise our Q3 numbers")
    assert response.status_code == 200, response.text
    call_id = response.headers["x-litellm-call-id"]
    audits = eventually(
        lambda: [a for a in agent.audits() if a["metadata"]["litellm_call_id"] == call_id]
    )
    assert len(audits) == 1
    assert audits[0]["authenticated_client_id"] == "litellm-container"
    # Kept in the image's data volume first, readable by the proxy's user only.
    outbox = "/var/lib/axonflow/axonflow-audit-outbox.db"
    assert container.exec("stat", "-c", "%a %u", outbox).split() == ["600", "10001"]


def test_sql_injection_is_refused_in_the_container(container: Container) -> None:
    response = container.chat(SQLI)
    assert response.status_code == 400, response.text
    fields = response.json()["error"].get("provider_specific_fields") or {}
    assert fields.get("code") == "policy_denied", response.text


def test_health_routes_and_the_image_healthcheck(container: Container, podman: list[str]) -> None:
    assert httpx.get(f"{container.url}/health/liveliness", timeout=5).status_code == 200
    assert httpx.get(f"{container.url}/health/readiness", timeout=5).status_code == 200
    # The image's own HEALTHCHECK (what an orchestrator runs) passes in the running container.
    done = subprocess.run(
        [*podman, "healthcheck", "run", container.name], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_proxy_does_not_run_as_root(
    container: Container, image: str, podman: list[str]
) -> None:
    assert container.exec("id", "-u").strip() == "10001"
    status = container.exec("cat", "/proc/1/status")
    uids = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]
    assert set(uids) == {"10001"}, status
    user = run([*podman, "image", "inspect", "--format", "{{.Config.User}}", image]).strip()
    assert user == "10001:10001"
    # The proxy cannot write to its own code.
    done = subprocess.run(
        [*podman, "exec", container.name, "touch", "/app/.venv/bin/litellm"],
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0


def test_the_image_holds_no_secret(image: str, podman: list[str], container: Container) -> None:
    inspect: list[dict[str, Any]] = json.loads(run([*podman, "image", "inspect", image]))
    env = inspect[0]["Config"].get("Env") or []
    for entry in env:
        key = entry.split("=", 1)[0].upper()
        assert not any(word in key for word in ("KEY", "SECRET", "TOKEN", "PASSWORD")), entry
    history = run([*podman, "history", "--no-trunc", "--format", "{{.CreatedBy}}", image])
    assert MASTER_KEY not in history
    assert CLIENT_SECRET not in history
    assert "BEGIN CERTIFICATE" not in history
    # Nothing secret-shaped in the file system: no build secret, credentials or key files.
    found = container.exec(
        "sh",
        "-c",
        "find / -xdev \\( -path /proc -o -path /sys \\) -prune -o \\( -name ca_bundle "
        "-o -name '.env' -o -name '.netrc' -o -name '.pypirc' -o -name 'pip.conf' "
        "-o -name 'id_rsa*' -o -name '*.key' -o -name 'uv.toml' \\) -print 2>/dev/null || true",
    )
    assert found.strip() == "", found
    # The baked-in config names its secrets by environment variable only.
    baked = run([*podman, "run", "--rm", "--entrypoint", "cat", image, "/app/config.yaml"])
    settings = yaml.safe_load(baked)
    assert settings["general_settings"]["master_key"] == "os.environ/LITELLM_MASTER_KEY"
    params = settings["guardrails"][0]["litellm_params"]
    assert params["client_secret"] == "os.environ/AXONFLOW_CLIENT_SECRET"
    # The running container got its secrets only from the environment given at run time.
    assert MASTER_KEY not in container.logs()
    assert CLIENT_SECRET not in container.logs()
