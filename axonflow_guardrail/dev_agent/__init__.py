"""A local emulator of the AxonFlow agent, for development, tests and the benchmark.

It answers the wire API the official `axonflow` SDK speaks (pre-check, audits, MCP checks, the
approval queue) with the platform's semantics and static regex policies, plus a `/__dev/`
control API for tests. It is NOT AxonFlow and gives no real governance: never use it in
production. Run it with `axonflow-guardrail dev-agent`; see `docs/dev-agent.md`.
"""

from __future__ import annotations

from ._config import AgentConfig
from ._policies import PolicyFileError, load_policies
from ._server import build_app, run

__all__ = ["AgentConfig", "PolicyFileError", "build_app", "load_policies", "run"]
