"""Set-up (c): the seed integration `axonflow_litellm.AxonFlowLogger`, as a proxy callback.

This is how that package governs a LiteLLM Proxy today: an instance registered under
`litellm_settings.callbacks` (LiteLLM imports `bench.peer_callback.axonflow_peer`; the proxy
runs with the repository root on `PYTHONPATH`). In that mode it pre-checks in
`log_pre_api_call` and audits in `log_success_event`, and cannot block (its own docstring:
"audit-only callback mode").

The settings mirror set-up (b)'s guardrail (same dev agent kind, same credentials, same
timeout and breaker defaults) so the comparison is like for like. The endpoint comes from
`BENCH_PEER_ENDPOINT`, set by `bench.run` for this proxy only.
"""

from __future__ import annotations

import os

from axonflow_litellm import AxonFlowLogger, AxonFlowLoggerConfig  # type: ignore[import-untyped]

__all__ = ["axonflow_peer"]

axonflow_peer = AxonFlowLogger(
    AxonFlowLoggerConfig(
        endpoint=os.environ.get("BENCH_PEER_ENDPOINT", "http://127.0.0.1:8080"),
        client_id=os.environ.get("BENCH_CLIENT_ID", "bench"),
        client_secret=os.environ.get("BENCH_CLIENT_SECRET", "bench-secret"),
        call_timeout_seconds=5.0,
    )
)
