"""`bench.run --otel-sdk`: every proxy with `opentelemetry-sdk` installed, as operators should.

LiteLLM's auth path imports its OpenTelemetry integration on every request; without the SDK
that import fails and is retried (the README's "Install `opentelemetry-sdk`"). `make bench`
keeps the SDK out, as `litellm[proxy]` does, and gives every proxy the same cache of the
failure (`equal_otel/`). With `--otel-sdk`, the SDK at the installed `opentelemetry-api`'s
version is installed once into `.cache/bench-otel-sdk/<version>` (with the project's uv, from
the package index) and put on every proxy's `PYTHONPATH`: the figures an operator with the SDK
sees. The project's own environment is never changed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from bench.procs import REPO_ROOT

__all__ = ["otel_sdk_dir"]

_UV = REPO_ROOT / ".cache" / "uv-bootstrap" / "bin" / "uv"


def otel_sdk_dir() -> Path:
    """The directory holding `opentelemetry-sdk` for the proxies, installed on first use."""
    version = metadata.version("opentelemetry-api")
    target = REPO_ROOT / ".cache" / "bench-otel-sdk" / version
    if (target / "opentelemetry" / "sdk").is_dir():
        return target
    uv = str(_UV) if _UV.exists() else shutil.which("uv")
    if uv is None:
        raise RuntimeError("--otel-sdk needs uv (`make install` bootstraps it)")
    # The target shadows the environment on PYTHONPATH: what both hold (opentelemetry-api,
    # typing-extensions) is pinned to the environment's own versions.
    frozen = subprocess.run(
        [uv, "pip", "freeze", "--python", sys.executable],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    target.parent.mkdir(parents=True, exist_ok=True)
    constraints = target.parent / f"constraints-{version}.txt"
    constraints.write_text("".join(f"{line}\n" for line in frozen.splitlines() if "==" in line))
    subprocess.run(
        [
            uv,
            "pip",
            "install",
            "--quiet",
            "--python",
            sys.executable,
            "--target",
            str(target),
            "--constraint",
            str(constraints),
            f"opentelemetry-sdk=={version}",
        ],
        check=True,
    )
    return target
