"""Fixtures for the deployment tiers: the built wheel and sdist, fresh environments, podman.

These tests are not in `make test` (they install packages and build images); `make package`,
`make container-test`, `make compose-test` and `.ci/run` run them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.processes import REPO_ROOT, TEST_ENV

os.environ.update(TEST_ENV)

UV = REPO_ROOT / ".cache" / "uv-bootstrap" / "bin" / "uv"
CONTAINERS_CONF = REPO_ROOT / ".ci" / "containers.conf"


@dataclass(frozen=True, slots=True)
class Dist:
    wheel: Path
    sdist: Path


def run(argv: list[str], *, timeout_s: float = 600, **kwargs: object) -> str:
    """Run a command to completion; fail the test with its output when it fails."""
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
        **kwargs,  # type: ignore[call-overload]
    )
    if done.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, argv))} exited {done.returncode}:\n"
            f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        )
    return str(done.stdout)


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Dist:
    """`uv build`: the wheel and the sdist, as a release would publish them."""
    assert UV.exists(), "run `make install` first (it bootstraps uv)"
    out = tmp_path_factory.mktemp("dist")
    run([str(UV), "build", "--out-dir", str(out), str(REPO_ROOT)])
    (wheel,) = out.glob("axonflow_guardrail-*.whl")
    (sdist,) = out.glob("axonflow_guardrail-*.tar.gz")
    return Dist(wheel=wheel, sdist=sdist)


@pytest.fixture(scope="session")
def podman() -> list[str]:
    """The podman command with this machine's settings (runc, limits it accepts)."""
    exe = shutil.which("podman")
    assert exe, "podman is not installed: `make container-test` installs it"
    os.environ["CONTAINERS_CONF"] = str(CONTAINERS_CONF)
    return [exe]
