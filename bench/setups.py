"""The set-ups the benchmark compares, and the proxy config each one runs.

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

What an operator with `opentelemetry-sdk` installed sees (issue 17): every proxy of these two
has the SDK on its path (`bench/otel_sdk.py`), so LiteLLM's OTel import succeeds:

  o  (a) with `opentelemetry-sdk`
  p  (b) with `opentelemetry-sdk`

Ablations, measured at the highest concurrency only (the CPU budget's level): where (b)'s
added CPU goes, by taking parts away (`bench/ablation.py`):

  h  a registered guardrail whose hooks return at once: LiteLLM's dispatch of any guardrail
  i  (b) whose SDK calls are answered from memory after one real exchange per route: (b)
     without the HTTP exchange (aiohttp, sockets) of its pre-check and audit

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

Governance = Literal["none", "guardrail", "peer", "noop"]
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
    #: The proxy has `opentelemetry-sdk` on its path.
    otel_sdk: bool = False
    #: Measured only at the run's highest concurrency (an ablation of the CPU budget line).
    high_only: bool = False
    #: The guardrail class the config names, when not the real one (`bench/ablation.py`).
    guardrail_class: str = "axonflow_guardrail.AxonFlowGuardrail"

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
    Setup("o", "(a) with opentelemetry-sdk", "none", "none", otel_sdk=True),
    Setup("p", "(b) with opentelemetry-sdk", "guardrail", "own", otel_sdk=True),
    Setup("h", "ablation: a guardrail doing nothing", "noop", "none", high_only=True),
    Setup(
        "i",
        "ablation: (b) without HTTP",
        "guardrail",
        "own",
        high_only=True,
        guardrail_class="bench.ablation.AnsweredFromMemory",
    ),
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
            "guardrail": setup.guardrail_class,
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
    elif setup.governance == "noop":
        noop = {"guardrail": "bench.ablation.DoesNothing", "mode": ["pre_call", "post_call"]}
        config["guardrails"] = [
            {"guardrail_name": "noop", "litellm_params": {**noop, "default_on": True}}
        ]
    elif setup.governance == "peer":
        # The endpoint reaches the callback through BENCH_PEER_ENDPOINT (see peer_callback).
        config["litellm_settings"] = {"callbacks": "bench.peer_callback.axonflow_peer"}
    return config
