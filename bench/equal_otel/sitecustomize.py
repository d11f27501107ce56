"""Every benchmarked proxy gets the guardrail's workaround for LiteLLM's OTel import.

LiteLLM 1.106 imports `litellm.integrations.otel.logger` on every request (auth) and on every
guardrail record; without `opentelemetry-sdk` that import fails each time (~0.2 ms). The
guardrail caches the failure in its own worker (`_stop_retrying_missing_otel`), which also
spares LiteLLM's auth path there, so set-ups (b)-(e) stop paying a cost that (a) still pays.
With this directory on `PYTHONPATH` (the default of `bench.run` and `bench.profile`; not with
`--as-shipped`), Python imports this module at start-up in every proxy and applies the same
cache, so ratios isolate the guardrail's own cost.
"""

import sys

if "litellm" in sys.argv[0]:
    try:
        import opentelemetry.sdk  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        sys.modules["litellm.integrations.otel.logger"] = None  # type: ignore[assignment]
