"""Logging: the emulator banner first, then one line per decision.

Log lines carry client ids, policy ids, verdicts and latencies, never an Authorization header,
a secret or a user token; prompts and responses appear only at debug level.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable

from aiohttp import web

from ._http import CLIENT_KEY, START_KEY

LOGGER = logging.getLogger("axonflow_guardrail.dev_agent")

#: The first line the agent logs, so nobody mistakes it for AxonFlow.
BANNER = (
    "axonflow-guardrail dev-agent: this is a LOCAL EMULATOR of the AxonFlow agent for "
    "development and tests. It is NOT AxonFlow and NOT for production use."
)


class _UtcFormatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        return f"{stamp}.{int(record.msecs):03d}Z"


def setup_logging(level: str) -> None:
    """Send the agent's log (only) to stderr at `level`; other libraries stay quiet."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_UtcFormatter("%(asctime)s %(levelname)s dev-agent %(message)s"))
    LOGGER.handlers[:] = [handler]
    LOGGER.setLevel(level.upper())
    LOGGER.propagate = False


def latency_us(request: web.Request) -> int:
    start = request.get(START_KEY)
    return (time.perf_counter_ns() - start) // 1000 if isinstance(start, int) else -1


def log_decision(
    request: web.Request,
    *,
    verdict: str,
    policies: Iterable[str] = (),
    **fields: object,
) -> None:
    """`decision route=... client=... verdict=... policies=... latency_us=...`."""
    if not LOGGER.isEnabledFor(logging.INFO):
        return
    extra = "".join(f" {key}={value}" for key, value in fields.items())
    LOGGER.info(
        "decision route=%s %s client=%s verdict=%s policies=%s latency_us=%d%s",
        request.method,
        request.path,
        request.get(CLIENT_KEY, "-"),
        verdict,
        ",".join(policies) or "-",
        latency_us(request),
        extra,
    )


def log_debug_text(label: str, text: str) -> None:
    """Prompts and responses, at debug level only (truncated)."""
    if LOGGER.isEnabledFor(logging.DEBUG):
        LOGGER.debug("%s=%r", label, text[:500])
