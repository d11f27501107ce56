"""Installed the way users install it: the built wheel into a stock LiteLLM proxy environment.

A fresh virtual environment gets `litellm[proxy]` at a supported release and nothing else;
then the wheel goes in (bringing only its own dependencies). The `litellm` CLI of that
environment starts with the repository's example config, copied away from the source tree so
nothing can be imported from the checkout, and the wheel's own dev agent plays AxonFlow.
"""

from __future__ import annotations

import re
import tarfile
import zipfile
from collections.abc import Iterator
from email.parser import Parser
from pathlib import Path

import httpx
import pytest

from tests.deploy.conftest import UV, Dist, run
from tests.e2e.conftest import eventually
from tests.support.dev_agent import DevAgent, start_dev_agent
from tests.support.processes import REPO_ROOT, ManagedProcess, free_port

#: A supported release other than the locked one: the wheel must not depend on the lock.
STOCK_RELEASE = "1.94.1"
MASTER_KEY = "sk-wheel-test"
SQLI = "x UNION SELECT password FROM users"


def wheel_metadata(wheel: Path) -> tuple[list[str], dict[str, list[str]]]:
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        (meta_name,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        message = Parser().parsestr(zf.read(meta_name).decode())
    fields: dict[str, list[str]] = {}
    for key, value in message.items():
        fields.setdefault(key, []).append(value)
    return names, fields


def test_wheel_carries_the_policy_file_types_and_complete_metadata(dist: Dist) -> None:
    names, meta = wheel_metadata(dist.wheel)
    assert "axonflow_guardrail/py.typed" in names
    assert "axonflow_guardrail/dev_agent/default_policies.yaml" in names
    assert "axonflow_guardrail/_litellm_compat.py" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), names
    assert not [n for n in names if n.startswith("tests/") or "__pycache__" in n]
    assert meta["Name"] == ["axonflow-guardrail"]
    assert meta["Summary"][0].startswith("AxonFlow governance")
    assert meta["License-Expression"] == ["MIT"]
    assert meta["License-File"] == ["LICENSE"]
    assert meta["Requires-Python"] == [">=3.11"]
    urls = dict(u.split(", ", 1) for u in meta["Project-URL"])
    assert {"Homepage", "Documentation"} <= set(urls)
    classifiers = meta["Classifier"]
    assert "Typing :: Typed" in classifiers
    assert "Programming Language :: Python :: 3.11" in classifiers
    litellm_req = next(r for r in meta["Requires-Dist"] if r.startswith("litellm"))
    for compromised in ("1.82.7", "1.82.8", "1.107.0"):
        assert f"!={compromised}" in litellm_req, litellm_req
    assert meta["Description-Content-Type"] == ["text/markdown"]


def test_sdist_builds_the_same_package(dist: Dist, tmp_path: Path) -> None:
    with tarfile.open(dist.sdist) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    for required in (
        "LICENSE",
        "README.md",
        "pyproject.toml",
        "axonflow_guardrail/py.typed",
        "axonflow_guardrail/dev_agent/default_policies.yaml",
        "litellm_config.example.yaml",
    ):
        assert required in names, required
    assert not [n for n in names if n.startswith(("tests/", "bench/results"))]
    # A wheel built from the sdist alone has the same files.
    run([str(UV), "build", "--wheel", "--out-dir", str(tmp_path), str(dist.sdist)])
    (rebuilt,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(rebuilt) as a, zipfile.ZipFile(dist.wheel) as b:
        assert sorted(a.namelist()) == sorted(b.namelist())


@pytest.fixture(scope="module")
def stock_env(dist: Dist, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with only `litellm[proxy]` at STOCK_RELEASE, then the wheel installed into it."""
    env = tmp_path_factory.mktemp("stock-proxy") / "venv"
    python = env / "bin" / "python"
    run([str(UV), "venv", "--quiet", "--python", "python3", str(env)])
    run([str(UV), "pip", "install", "--python", str(python), f"litellm[proxy]=={STOCK_RELEASE}"])
    before = run([str(UV), "pip", "freeze", "--python", str(python)])
    run([str(UV), "pip", "install", "--python", str(python), str(dist.wheel)])
    after = run([str(UV), "pip", "freeze", "--python", str(python)])
    # The wheel adds itself and its own dependencies; it never moves LiteLLM.
    assert f"litellm=={STOCK_RELEASE}" in before
    assert f"litellm=={STOCK_RELEASE}" in after
    return env


def test_version_command_names_the_package_and_its_litellm(stock_env: Path) -> None:
    out = run([str(stock_env / "bin" / "axonflow-guardrail"), "--version"])
    assert re.fullmatch(
        rf"axonflow-guardrail \d+\.\d+\.\d+\S* \(litellm {re.escape(STOCK_RELEASE)}, "
        r"axonflow \d+\.\d+\.\d+\S*\)\n",
        out,
    ), out


@pytest.fixture(scope="module")
def wheel_agent(stock_env: Path) -> Iterator[DevAgent]:
    """The dev agent as the wheel installed it (not the checkout's)."""
    command = [str(stock_env / "bin" / "axonflow-guardrail"), "dev-agent"]
    with start_dev_agent(command=command) as agent:
        yield agent


def test_stock_litellm_cli_runs_the_example_config_blocks_and_audits(
    stock_env: Path, wheel_agent: DevAgent, tmp_path: Path
) -> None:
    config = tmp_path / "litellm_config.yaml"
    config.write_text((REPO_ROOT / "litellm_config.example.yaml").read_text())
    # The package is imported from the venv's site-packages, never from the checkout.
    where = run(
        [
            str(stock_env / "bin" / "python"),
            "-c",
            "import axonflow_guardrail as m; print(m.__file__)",
        ],
        cwd=tmp_path,
    )
    assert str(stock_env) in where, where
    port = free_port()
    argv = [
        str(stock_env / "bin" / "litellm"),
        "--config",
        str(config),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    env = {
        "AXONFLOW_ENDPOINT": wheel_agent.url,
        "AXONFLOW_CLIENT_SECRET": "",
        "LITELLM_MASTER_KEY": MASTER_KEY,
        "PYTHONPATH": "",
        "LITELLM_LOG": "INFO",  # the guardrail's startup line names the release
    }
    with ManagedProcess("stock-litellm", argv, env=env, cwd=tmp_path) as proxy:
        proxy.wait_http_ok(f"http://127.0.0.1:{port}/health/liveliness", timeout_s=120)
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        headers = {"Authorization": f"Bearer {MASTER_KEY}"}

        def chat(text: str) -> httpx.Response:
            body = {"model": "demo", "messages": [{"role": "user", "content": text}]}
            return httpx.post(url, json=body, headers=headers, timeout=30)

        allowed = chat("Summarise our Q3 numbers")
        assert allowed.status_code == 200, allowed.text
        blocked = chat(SQLI)
        assert blocked.status_code == 400, blocked.text
        fields = blocked.json()["error"].get("provider_specific_fields") or {}
        assert fields.get("code") == "policy_denied", blocked.text
        assert "sys_sqli_union_select" in fields.get("policies", []), blocked.text
        call_id = allowed.headers["x-litellm-call-id"]
        audits = eventually(
            lambda: [
                a for a in wheel_agent.audits() if a["metadata"]["litellm_call_id"] == call_id
            ],
            timeout_s=15,
        )
        assert len(audits) == 1
        assert audits[0]["authenticated_client_id"] == "litellm-demo"
        log = proxy.output()
    assert f"running on litellm {STOCK_RELEASE}" in log
