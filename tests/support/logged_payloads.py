"""A LiteLLM callback that dumps what every logging integration would receive, as text.

Load it with `litellm_settings.callbacks: tests.support.logged_payloads.dumper` and set
`LOGGED_PAYLOADS` to a file: one JSON line per success or failure event with the call id and
the serialised standard logging object, the request metadata and the proxy's request record
(`proxy_server_request`: URL, headers, body), which is what spend logs and callbacks such as
Langfuse or S3 store. Tests search that text for secrets that must never be logged.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from litellm.integrations.custom_logger import CustomLogger


def _text(value: Any) -> str:
    try:
        return json.dumps(value, default=repr)
    except (TypeError, ValueError):
        return repr(value)


class PayloadDumper(CustomLogger):
    def _dump(self, kind: str, kwargs: Any) -> None:
        path = os.environ.get("LOGGED_PAYLOADS")
        if not path:
            return
        params = kwargs.get("litellm_params") or {}
        record = {
            "kind": kind,
            "litellm_call_id": kwargs.get("litellm_call_id"),
            "standard_logging_object": _text(kwargs.get("standard_logging_object")),
            "metadata": _text(params.get("metadata")),
            "proxy_server_request": _text(params.get("proxy_server_request")),
        }
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")

    async def async_log_success_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self._dump("success", kwargs)

    async def async_log_failure_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self._dump("failure", kwargs)


dumper = PayloadDumper()


def read_logged_payloads(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
