"""Keep end-user tokens out of LiteLLM's own log lines.

Why: at debug level LiteLLM logs the request's headers and its whole request data (key and
team metadata included) before any guardrail runs (`litellm_pre_call_utils`: "Request
Headers: ...", "[PROXY] returned data from litellm_pre_call_utils: ..."). The guardrail scrubs
the copies LiteLLM keeps for its callbacks (`_identity.scrub_user_tokens`), but those lines are
written before its hook. So the guardrail puts a filter on LiteLLM's loggers at startup that
masks the value of every ``x-axonflow-user-token`` / ``axonflow_user_token`` entry in a record,
in Python-repr and JSON spelling alike.

Cost: a logger filter runs only for records that are emitted (at debug level here), and
formats a record only when its text can hold one of the two names.
"""

from __future__ import annotations

import logging
import re
from typing import Final

__all__ = ["LITELLM_LOGGERS", "UserTokenLogFilter", "install_log_scrub"]

REDACTED: Final = "[redacted by axonflow guardrail]"
#: LiteLLM's loggers (`litellm._logging`): the SDK, the proxy and the router.
LITELLM_LOGGERS: Final = ("LiteLLM", "LiteLLM Proxy", "LiteLLM Router")
_NAMES: Final = ("x-axonflow-user-token", "axonflow_user_token")
_VALUE: Final = re.compile(
    r"""(?P<key>['"]?(?:x-axonflow-user-token|axonflow_user_token)['"]?\s*[:=]\s*)"""
    r"""(?P<q>['"])(?P<value>(?:\\.|(?!(?P=q)).)*)(?P=q)""",
    re.IGNORECASE,
)


def scrub(text: str) -> str:
    """`text` with the value of every user-token entry masked."""
    return _VALUE.sub(lambda m: f"{m['key']}{m['q']}{REDACTED}{m['q']}", text)


class UserTokenLogFilter(logging.Filter):
    """Masks user tokens in a record's message; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.args and not _mentions(str(record.msg)):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a record LiteLLM cannot format either; leave it to the handler
            return True
        if _mentions(message):
            record.msg, record.args = scrub(message), None
        return True


def _mentions(text: str) -> bool:
    lowered = text.lower()
    return any(name in lowered for name in _NAMES)


_FILTER: Final = UserTokenLogFilter()


def install_log_scrub() -> None:
    """Attach the filter to LiteLLM's loggers, once per process."""
    for name in LITELLM_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
