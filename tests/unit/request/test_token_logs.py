"""User tokens are masked in LiteLLM's own log lines, however LiteLLM formats them."""

from __future__ import annotations

import io
import json
import logging

import pytest

from axonflow_guardrail.request._token_logs import REDACTED, install_log_scrub, scrub

TOKEN = "tok-9f8e7d"


@pytest.mark.parametrize(
    "line",
    [
        f"Request Headers: {{'host': 'x', 'x-axonflow-user-token': '{TOKEN}', 'a': 'b'}}",
        f"data: {{'metadata': {{'user_api_key_metadata': {{'axonflow_user_token': '{TOKEN}'}}}}}}",
        json.dumps({"headers": {"X-AxonFlow-User-Token": TOKEN}}),
        f"{{'axonflow_user_token': \"it's {TOKEN}\"}}",
    ],
)
def test_token_values_are_masked_in_repr_and_json(line: str) -> None:
    masked = scrub(line)
    assert TOKEN not in masked
    assert REDACTED in masked


def test_other_text_is_unchanged() -> None:
    line = "Request Headers: {'host': 'x', 'authorization-hint': 'none'}"
    assert scrub(line) == line


def test_the_filter_masks_records_of_litellms_loggers() -> None:
    install_log_scrub()
    install_log_scrub()  # idempotent
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("LiteLLM Proxy")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        logger.debug("Request Headers: %s", {"x-axonflow-user-token": TOKEN})
        logger.debug("plain %s", "line")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    output = stream.getvalue()
    assert TOKEN not in output
    assert REDACTED in output
    assert "plain line" in output
    assert sum(1 for f in logger.filters if type(f).__name__ == "UserTokenLogFilter") == 1
