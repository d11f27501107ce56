"""Run the dev agent (the real `axonflow-guardrail dev-agent` CLI) for tests, and drive it.

Typical use, from any test (unit, contract or end-to-end through the proxy)::

    from tests.support.dev_agent import start_dev_agent

    with start_dev_agent(clients=[("acme", "s3cret")]) as agent:
        # point the guardrail / the SDK at agent.url
        agent.set_fault("/api/policy/pre-check", status=503, times=1)
        ...
        assert agent.requests(path="/api/policy/pre-check")[-1]["body"]["query"] == "hi"
        agent.advance_clock(301)   # contexts (5 min) expire without sleeping
        agent.reset()              # between tests, instead of a new process

The agent runs as a subprocess on a free loopback port (`ManagedProcess`), so it is always
stopped, and its log is kept for failure reports (`agent.output()`). The control helpers talk to
the agent's `/__dev/` API with plain httpx (they are not AxonFlow calls) and raise
`DevAgentControlError` when the agent refuses a request. `stop()` and `start()` restart it on
the same port, for outage tests.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from tests.support.processes import BIN_DIR, ManagedProcess, free_port

if TYPE_CHECKING:
    from axonflow import AxonFlow

__all__ = ["DevAgent", "DevAgentControlError", "start_dev_agent"]

#: A client credential: `("id", "secret")` or `"id:secret"`.
Credential = tuple[str, str] | str


class DevAgentControlError(RuntimeError):
    """The agent answered a `/__dev/` request with an error (the message has its text)."""


def _cli_argv() -> list[str]:
    script = BIN_DIR / "axonflow-guardrail"
    if script.exists():
        return [str(script), "dev-agent"]
    return [str(BIN_DIR / "python"), "-m", "axonflow_guardrail.cli", "dev-agent"]


class DevAgent:
    """A dev agent process on a fixed loopback port, plus its control API."""

    def __init__(
        self,
        *,
        port: int | None = None,
        edition: str = "enterprise",
        clients: Iterable[Credential] = (),
        policies_file: str | Path | None = None,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        startup_timeout_s: float = 60.0,
        command: Sequence[str] | None = None,
    ) -> None:
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.url = f"http://{self.host}:{self.port}"
        self.edition = edition
        self.clients: list[tuple[str, str]] = [_credential(c) for c in clients]
        args = ["--host", self.host, "--port", str(self.port), "--edition", edition]
        for client_id, secret in self.clients:
            args += ["--client", f"{client_id}:{secret}"]
        if policies_file is not None:
            args += ["--policies", str(policies_file)]
        # `command`: another installation's `axonflow-guardrail dev-agent` (the wheel test's).
        self.argv = [*(command or _cli_argv()), *args, *extra_args]
        self.env = dict(env or {})
        self.startup_timeout_s = startup_timeout_s
        #: Seconds from launch to the first healthy `/health` of the last `start()`.
        self.startup_s: float | None = None
        self.process: ManagedProcess | None = None
        self._launched_at = 0.0
        self._outputs: list[str] = []
        self._http = httpx.Client(base_url=self.url, timeout=30.0, trust_env=False)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Launch the agent (again, on the same port) and wait until `/health` answers.

        The agent starts from a clean slate (the readiness probe is not in `requests()`).
        """
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        """Launch without waiting (start several agents, then `wait_ready()` each)."""
        if self.running:
            raise RuntimeError(f"dev agent on port {self.port} is already running")
        self._launched_at = time.monotonic()
        self.process = ManagedProcess(f"dev-agent-{self.port}", self.argv, env=self.env)

    def wait_ready(self) -> None:
        if self.process is None:
            raise RuntimeError("dev agent not launched")
        self.process.wait_http_ok(f"{self.url}/health", timeout_s=self.startup_timeout_s)
        self.startup_s = time.monotonic() - self._launched_at
        self.reset()  # forget the readiness probe

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL); its output stays readable."""
        if self.process is not None:
            self.process.stop()
            self._outputs.append(self.process.output())
            self.process = None

    def close(self) -> None:
        self.stop()
        self._http.close()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.proc.poll() is None

    def output(self) -> str:
        """Everything the agent logged, across restarts."""
        current = self.process.output() if self.process is not None else ""
        return "".join(self._outputs) + current

    def __enter__(self) -> DevAgent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ control API

    def requests(
        self, *, path: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Requests received on AxonFlow routes, oldest first (Authorization is `<redacted>`).

        Each entry: seq, time, method, path, query, headers, auth_client_id, body_size, body
        (the parsed JSON, or None; `body_text` holds a non-JSON body).
        """
        params: dict[str, str] = {}
        if path is not None:
            params["path"] = path
        if limit is not None:
            params["limit"] = str(limit)
        result: list[dict[str, Any]] = self._control("GET", "/__dev/requests", params=params)
        return result

    def audits(self, *, route: str | None = None) -> list[dict[str, Any]]:
        """Accepted audits: the body received plus audit_id, route (llm-call|tool-call),
        authenticated_client_id and received_at."""
        records: list[dict[str, Any]] = self._control("GET", "/__dev/audits")
        return [r for r in records if route is None or r["route"] == route]

    def policies(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._control("GET", "/__dev/policies")["policies"]
        return result

    def set_policies(self, policies: Sequence[Mapping[str, Any]]) -> None:
        """Replace the policy set (same schema as the YAML file); `reset()` restores the file."""
        self._control("PUT", "/__dev/policies", json={"version": 1, "policies": list(policies)})

    def set_fault(self, route: str, **fields: Any) -> None:
        """Inject a fault on `route` (a trailing `*` matches a prefix).

        Fields: status, delay_s, non_json, drop, malformed, times, body (see docs/dev-agent.md).
        """
        self._control("PUT", "/__dev/faults", json={"route": route, **fields})

    def faults(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._control("GET", "/__dev/faults")
        return result

    def clear_faults(self) -> None:
        self._control("DELETE", "/__dev/faults")

    def advance_clock(self, seconds: float) -> None:
        """Move the agent's clock forward (all expiries read it)."""
        self._control("POST", "/__dev/clock", json={"advance_s": seconds})

    def reset(self) -> None:
        """Clear requests, audits, contexts, the approval queue, faults, clock and stats, and
        restore the policies loaded at start-up."""
        self._control("POST", "/__dev/reset")

    def stats(self) -> dict[str, Any]:
        """`{"routes": {"POST /api/policy/pre-check": {"count", "faulted", "p50_us",
        "p95_us", "p99_us", "max_us", "samples"}, ...}}` (server-side service time)."""
        result: dict[str, Any] = self._control("GET", "/__dev/stats")
        return result

    def clear_stats(self) -> None:
        self._control("DELETE", "/__dev/stats")

    # ------------------------------------------------------------------ SDK

    def sdk_client(
        self,
        client_id: str | None = None,
        client_secret: str | None = None,
        *,
        anonymous: bool = False,
        timeout: float = 10.0,
        **kwargs: Any,
    ) -> AxonFlow:
        """An official SDK client on this agent, retries off (close it with `await .close()`).

        Without a client id it uses the first `clients` credential, if any; `anonymous=True`
        gives a client without credentials (the SDK then sends `community:`).
        """
        from axonflow import AxonFlow
        from axonflow.types import RetryConfig

        if client_id is None and self.clients and not anonymous:
            client_id, client_secret = self.clients[0]
        return AxonFlow(
            endpoint=self.url,
            client_id=client_id,
            client_secret=client_secret,
            timeout=timeout,
            retry_config=RetryConfig(enabled=False),
            **kwargs,
        )

    # ------------------------------------------------------------------ internals

    def _control(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        response = self._http.request(method, path, json=json, params=params)
        if response.status_code >= 400:
            raise DevAgentControlError(
                f"{method} {path} -> {response.status_code}: {response.text}"
            )
        return response.json()


@contextmanager
def start_dev_agent(
    *,
    edition: str = "enterprise",
    clients: Iterable[Credential] = (),
    policies_file: str | Path | None = None,
    extra_args: Sequence[str] = (),
    port: int | None = None,
    env: Mapping[str, str] | None = None,
    startup_timeout_s: float = 60.0,
    command: Sequence[str] | None = None,
) -> Iterator[DevAgent]:
    """Start a dev agent on a free loopback port; it is stopped when the block exits.

    `clients` are the accepted credentials (none: any client id passes, community-style);
    `extra_args` go to the CLI as they are (e.g. `["--hitl-pending-cap", "2"]`).
    """
    agent = DevAgent(
        port=port,
        edition=edition,
        clients=clients,
        policies_file=policies_file,
        extra_args=extra_args,
        env=env,
        startup_timeout_s=startup_timeout_s,
        command=command,
    )
    try:
        agent.start()
        yield agent
    finally:
        agent.close()


def _credential(value: Credential) -> tuple[str, str]:
    if isinstance(value, tuple):
        return value
    client_id, sep, secret = value.partition(":")
    if not sep:
        raise ValueError("a client credential is ('id', 'secret') or 'id:secret'")
    return client_id, secret
