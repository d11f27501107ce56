"""Start and stop real subprocesses on free loopback ports.

Every process a test starts goes through `ManagedProcess`, so every one of them is stopped
(terminate, then kill) even when the test fails, and its output is kept for the failure report.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN_DIR = Path(sys.executable).parent

#: The environment every test subprocess gets: offline cost map, no telemetry, no proxies.
TEST_ENV: dict[str, str] = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "AXONFLOW_TELEMETRY": "off",
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
    "PYTHONUNBUFFERED": "1",
}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ManagedProcess:
    """A subprocess whose output goes to a temp file and which is always stopped."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in stop()
            mode="w+b", prefix=f"{name}-", suffix=".log", delete=False
        )
        full_env = {**os.environ, **TEST_ENV, **(env or {})}
        self.proc = subprocess.Popen(
            self.argv,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=str(cwd or REPO_ROOT),
            start_new_session=True,
        )

    @property
    def log_path(self) -> str:
        return self._log.name

    def output(self, *, since: int = 0) -> str:
        """What the process printed, from byte offset `since` (see `output_size`)."""
        with open(self._log.name, "rb") as fh:
            fh.seek(since)
            return fh.read().decode("utf-8", "replace")

    def output_size(self) -> int:
        """How many bytes the process has printed so far (an offset for `output(since=...)`)."""
        return os.path.getsize(self._log.name)

    def wait_http_ok(self, url: str, *, timeout_s: float = 60.0) -> None:
        """Wait until `url` answers 200, or fail with the process output."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode}:\n{self.output()[-6000:]}"
                )
            try:
                with urllib.request.urlopen(url, timeout=1) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            # Polling a child process that is starting up: there is no event to wait on.
            time.sleep(0.05)
        raise TimeoutError(f"{self.name} not ready after {timeout_s}s:\n{self.output()[-6000:]}")

    def wait_exit(self, *, timeout_s: float) -> int:
        return self.proc.wait(timeout=timeout_s)

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._log.close()

    def __enter__(self) -> ManagedProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
