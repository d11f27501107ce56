"""A LiteLLM callback that records what reached the model, for end-to-end assertions.

The proxy loads it with `litellm_settings.callbacks: tests.support.model_calls.recorder` and
appends one JSON line per event to the file named by `MODEL_CALL_LOG`. A call that reached the
model is logged as `success` (with the messages/input as sent); a request refused by a
guardrail only as `failure`. (`pre_api_call` also fires for refused requests: LiteLLM's
failure logging calls it, so it does not prove the model was called.)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from litellm.integrations.custom_logger import CustomLogger


class ModelCallRecorder(CustomLogger):
    def _write(self, kind: str, payload: dict[str, Any]) -> None:
        path = os.environ.get("MODEL_CALL_LOG")
        if not path:
            return
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"kind": kind, **payload}, default=str) + "\n")

    def log_pre_api_call(self, model: Any, messages: Any, kwargs: Any) -> None:
        self._write("pre_api_call", {"model": model, "messages": messages})

    async def async_log_failure_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self._write(
            "failure",
            {
                "model": kwargs.get("model"),
                "litellm_call_id": kwargs.get("litellm_call_id"),
                "guardrail_information": (kwargs.get("standard_logging_object") or {}).get(
                    "guardrail_information"
                ),
            },
        )

    async def async_log_success_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self._write(
            "success",
            {
                "model": kwargs.get("model"),
                "messages": kwargs.get("messages"),
                "input": kwargs.get("input"),
                "litellm_call_id": kwargs.get("litellm_call_id"),
                "guardrail_information": (kwargs.get("standard_logging_object") or {}).get(
                    "guardrail_information"
                ),
            },
        )


recorder = ModelCallRecorder()


def read_model_calls(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
