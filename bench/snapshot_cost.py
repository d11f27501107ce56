"""What LiteLLM's shadow-eval snapshot costs a request, in-process, with and without the
guardrail's `pre_call` record in the request's metadata.

    .venv/bin/python -m bench.snapshot_cost            # 2,000 calls per timing
    .venv/bin/python -m bench.snapshot_cost --calls 500

After the pre-call hooks, LiteLLM 1.106 calls `GuardrailRequestSnapshot.capture(body, metadata)`
(`refresh_proxy_server_request_body_snapshot`); it deep-copies the body and validates it with
pydantic whenever a guardrail entry of a pre-call mode is in the metadata. The request here is
shaped like a proxy's at that point (its metadata carries the key's `UserAPIKeyAuth`). Each
figure is the minimum of 7 timings: on a shared, loaded machine the minimum is the figure
least disturbed by other processes (a lower bound of the CPU it takes).
"""

from __future__ import annotations

import argparse
import os
import timeit
from collections.abc import Sequence
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from litellm.integrations.shadow_eval_logger import GuardrailRequestSnapshot
from litellm.proxy._types import UserAPIKeyAuth
from litellm.types.guardrails import GuardrailEventHooks
from litellm.types.utils import StandardLoggingGuardrailInformation

__all__ = ["main"]


def _request(mode: GuardrailEventHooks | None) -> tuple[dict[str, Any], dict[str, Any]]:
    auth = UserAPIKeyAuth(api_key="hashed", user_id="u1", team_id="t1", models=["demo"])
    metadata: dict[str, Any] = {
        "user_api_key": "hashed",
        "user_api_key_auth": auth,
        "user_api_key_user_id": "u1",
        "user_api_key_team_id": "t1",
        "headers": {"content-type": "application/json", "user-agent": "bench"},
        "endpoint": "http://127.0.0.1:4000/v1/chat/completions",
        "applied_guardrails": ["af"],
        "requester_ip_address": "127.0.0.1",
    }
    if mode is not None:
        metadata["standard_logging_guardrail_information"] = [
            StandardLoggingGuardrailInformation(
                guardrail_name="af",
                guardrail_provider="axonflow",
                guardrail_mode=mode,
                guardrail_response={"verdict": "allow", "policies": [], "decision_id": "d"},
                guardrail_status="success",
                start_time=1.0,
                end_time=1.001,
                duration=0.001,
            )
        ]
    body = {
        "model": "demo",
        "messages": [{"role": "user", "content": "Summarise our Q3 numbers"}],
        "guardrails": ["af"],
        "litellm_call_id": "c" * 36,
        "metadata": metadata,
    }
    return body, metadata


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.snapshot_cost", description=__doc__)
    parser.add_argument("--calls", type=int, default=2000, help="calls per timing")
    args = parser.parse_args(argv)
    cases = (
        ("no entry yet (allowed, recorded late)", None),
        ("a pre_call entry (recorded at once)", GuardrailEventHooks.pre_call),
        ("a post_call entry", GuardrailEventHooks.post_call),
    )
    for label, mode in cases:
        body, metadata = _request(mode)
        taken = GuardrailRequestSnapshot.capture(body, metadata) is not None
        best = min(
            timeit.repeat(
                lambda: GuardrailRequestSnapshot.capture(body, metadata),  # noqa: B023
                number=args.calls,
                repeat=7,
            )
        )
        print(
            f"{label:40s} snapshot taken: {'yes' if taken else 'no':3s}  "
            f"{best / args.calls * 1e6:7.1f} µs per request"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
