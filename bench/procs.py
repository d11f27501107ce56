"""Start, pin, watch and always stop the benchmark's processes.

Why our own launcher rather than `tests.support`: the benchmark needs things the tests do not
(CPU pinning of every thread, the worker's RSS and CPU time from `/proc`, one long-lived
process per set-up) and `tests/` must not depend on `bench/`, nor `bench/` on test helpers
that change with the tests.

Everything started goes through `ProcessGroup`, whose `close()` stops every process
(SIGTERM to its process group, then SIGKILL); `run.py` calls it from a `finally` and turns
SIGTERM/SIGHUP into an exception, so Ctrl-C, errors and a killed `make` leave nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType

__all__ = [
    "REPO_ROOT",
    "ManagedProcess",
    "ProcessGroup",
    "cpu_plan",
    "cpu_seconds",
    "descendants",
    "free_port",
    "install_signal_handlers",
    "pin_all_threads",
    "rss_kb",
    "thread_count",
]

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN_DIR = Path(sys.executable).parent
_CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_plan(*, pin: bool) -> tuple[list[int] | None, list[int] | None]:
    """(CPUs for the proxy workers, CPUs for everything else), or (None, None) unpinned.

    With two cores the proxy worker gets one to itself and the dev agent, the load generator
    and the orchestrator share the other, so the guardrail's own CPU cost lands on the core
    we measure and the agent's service time does not steal from it.
    """
    cpus = sorted(os.sched_getaffinity(0))
    if not pin or len(cpus) < 2:
        return None, None
    return [cpus[-1]], cpus[:-1]


def pin_all_threads(pid: int, cpus: Sequence[int] | None) -> None:
    """Pin every thread of `pid` (threads started later inherit their creator's mask)."""
    if not cpus:
        return
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
            os.sched_setaffinity(int(task.name), set(cpus))


def descendants(pid: int) -> list[int]:
    """All live descendants of `pid`, parents before children."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may contain spaces and parentheses: split after the last ')'.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    queue = [pid]
    while queue:
        current = queue.pop(0)
        for child in sorted(children.get(current, [])):
            found.append(child)
            queue.append(child)
    return found


def rss_kb(pid: int) -> int:
    """Resident set size of `pid` in KiB (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def thread_count(pid: int) -> int:
    """Threads of `pid` (a new thread gets its own malloc arena: RSS steps up once)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of `pid`, all threads included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # After the command: state(0) ppid(1) ... utime(11) stime(12)
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


class ManagedProcess:
    """A subprocess in its own session, output to a log file, always stopped."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_dir: Path,
        env: Mapping[str, str],
        cwd: Path = REPO_ROOT,
        stdin: int | None = None,
        stdout: int | None = None,
        cpus: Sequence[int] | None = None,
    ) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        argv = list(argv)
        if cpus and shutil.which("taskset"):
            # Pinned from the first instruction, so start-up does not disturb a measurement.
            argv = ["taskset", "-c", ",".join(map(str, cpus)), *argv]
        self.proc = subprocess.Popen(
            argv,
            stdin=stdin,
            stdout=stdout if stdout is not None else self._log,
            stderr=self._log if stdout is not None else subprocess.STDOUT,
            env=dict(env),
            cwd=str(cwd),
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self, tail: int = 4000) -> str:
        self._log.flush()
        data = self.log_path.read_bytes()
        return data[-tail:].decode("utf-8", "replace")

    def wait_http_ok(self, url: str, *, timeout_s: float) -> float:
        """Wait until `url` answers 200; return the seconds it took. Fails with the log."""
        started = time.monotonic()
        deadline = started + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode}; log {self.log_path}:\n"
                    f"{self.output()}"
                )
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:  # loopback only
                    if resp.status == 200:
                        return time.monotonic() - started
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            # A child starting up offers nothing to wait on: poll.
            time.sleep(0.1)
        raise TimeoutError(
            f"{self.name} not ready after {timeout_s:.0f}s; log {self.log_path}:\n{self.output()}"
        )

    def worker_pid(self) -> int:
        """The process that serves requests: the deepest Python descendant, else this one.

        `litellm` with one worker serves in-process today; if a release starts forking (or
        `taskset` sits in between), the worker is the Python process at the bottom.
        """
        for pid in reversed(descendants(self.pid)):
            try:
                comm = Path(f"/proc/{pid}/comm").read_text().strip()
            except OSError:
                continue
            if comm.startswith(("python", "litellm")):
                return pid
        return self.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._log.close()


class ProcessGroup:
    """Every process of a run; `close()` stops them all, newest first."""

    def __init__(self) -> None:
        self._procs: list[ManagedProcess] = []
        self._sockets: list[socket.socket] = []

    def add(self, proc: ManagedProcess) -> ManagedProcess:
        self._procs.append(proc)
        return proc

    def reserve_dead_port(self) -> int:
        """A loopback port bound (so no one else takes it) but not listening: connecting
        is refused at once, which is what an AxonFlow that is down looks like."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self._sockets.append(sock)
        return int(sock.getsockname()[1])

    def close(self) -> None:
        for proc in reversed(self._procs):
            with contextlib.suppress(Exception):
                proc.stop()
        self._procs.clear()
        for sock in self._sockets:
            sock.close()
        self._sockets.clear()


class Terminated(KeyboardInterrupt):
    """SIGTERM/SIGHUP, raised like Ctrl-C so the same `finally` stops every process."""


def install_signal_handlers() -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        raise Terminated(f"signal {signum}")

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)
