"""The five set-ups the benchmark compares, and the proxy config each one runs.

Every set-up is the real `litellm` proxy CLI with the same mock model (`mock_response`: no
network, no provider) and the same master key; they differ only in governance:

  a  no guardrail (the baseline every ratio is taken against)
  b  `AxonFlowGuardrail` in `[pre_call, post_call]` against its own dev agent
  c  the peer: `axonflow_litellm.AxonFlowLogger` as a LiteLLM callback, its own dev agent
  d  set-up (b) with AxonFlow down: nothing listens, `fail_open: true`, breaker held open
  e  set-up (b) with the dev agent's audit route delayed by 500 ms
  f  set-up (b) with `audit_outbox: memory`: the in-memory audit queue of earlier releases
  g  set-up (b) with `audit_shipper: external`: the worker only writes the SQLite outbox, an
     `axonflow-guardrail ship-audits` process (on the other core) delivers

(b), (d) and (e) use the default durable outbox: SQLite, shipped in-process.

Each set-up that talks to an agent has its own, so (e)'s delay and (c)'s traffic never touch
(b)'s numbers, and each agent's `/__dev/stats` describes one set-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "ALL_SETUPS",
    "AUDIT_DELAY_S",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "MASTER_KEY",
    "MODEL",
    "PROMPT",
    "Setup",
    "proxy_config",
    "request_body",
]

MASTER_KEY = "sk-bench-master-key"
MODEL = "mock"
MOCK_ANSWER = "The quarterly report shows revenue up 4 % and costs flat."
#: A clean prompt: the common case is an allowed request.
PROMPT = "Summarise the quarterly report for the sales team in three bullet points."
CLIENT_ID = "bench"
CLIENT_SECRET = "bench-secret"  # a local, throwaway credential for the dev agent
AUDIT_DELAY_S = 0.5
#: (d): open after this many failures, and stay open for the whole run.
DEAD_BREAKER_THRESHOLD = 3
DEAD_BREAKER_RECOVERY_S = 86_400.0

Governance = Literal["none", "guardrail", "peer"]
AgentKind = Literal["none", "own", "dead"]


@dataclass(frozen=True, slots=True)
class Setup:
    key: str
    title: str
    governance: Governance
    agent: AgentKind
    audit_delay_s: float = 0.0
    outbox: str = "sqlite"
    shipper: str = "in_process"

    @property
    def label(self) -> str:
        return f"({self.key}) {self.title}"


ALL_SETUPS: tuple[Setup, ...] = (
    Setup("a", "no guardrail", "none", "none"),
    Setup("b", "AxonFlowGuardrail", "guardrail", "own"),
    Setup("c", "peer: AxonFlowLogger callback", "peer", "own"),
    Setup("d", "(b), AxonFlow down, breaker open", "guardrail", "dead"),
    Setup("e", "(b), audit route +500 ms", "guardrail", "own", audit_delay_s=AUDIT_DELAY_S),
    Setup("f", "(b), in-memory audit queue", "guardrail", "own", outbox="memory"),
    Setup("g", "(b), external shipper", "guardrail", "own", shipper="external"),
)


def request_body() -> bytes:
    """The chat completion every request sends (pre-encoded once)."""
    import json

    body = {"model": MODEL, "messages": [{"role": "user", "content": PROMPT}]}
    return json.dumps(body, separators=(",", ":")).encode()


def proxy_config(
    setup: Setup, *, agent_url: str | None, outbox_path: str | None = None
) -> dict[str, Any]:
    """The `litellm --config` YAML (as a dict) for `setup`."""
    config: dict[str, Any] = {
        "model_list": [
            {
                "model_name": MODEL,
                "litellm_params": {
                    "model": f"openai/{MODEL}",
                    "api_key": "sk-not-used",
                    "mock_response": MOCK_ANSWER,
                },
            }
        ],
        "general_settings": {"master_key": MASTER_KEY},
    }
    if setup.governance == "guardrail":
        if agent_url is None:
            raise ValueError(f"set-up {setup.key} needs an agent URL")
        params: dict[str, Any] = {
            "guardrail": "axonflow_guardrail.AxonFlowGuardrail",
            "mode": ["pre_call", "post_call"],
            "default_on": True,
            "endpoint": agent_url,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "fail_open": True,
            "call_timeout_seconds": 5,
            "audit_outbox": setup.outbox,
            "audit_shipper": setup.shipper,
        }
        if outbox_path is not None:
            params["audit_outbox_path"] = outbox_path
        if setup.agent == "dead":
            params["breaker_failure_threshold"] = DEAD_BREAKER_THRESHOLD
            params["breaker_recovery_seconds"] = DEAD_BREAKER_RECOVERY_S
        config["guardrails"] = [{"guardrail_name": "axonflow", "litellm_params": params}]
    elif setup.governance == "peer":
        # The endpoint reaches the callback through BENCH_PEER_ENDPOINT (see peer_callback).
        config["litellm_settings"] = {"callbacks": "bench.peer_callback.axonflow_peer"}
    return config
