"""One request under governance: what it says, who sends it, where it goes.

Built once per call by the admission stage (`gates._admission.read_request`) and handed to
every later stage, so the pre-check, approvals, masking and the call's memory all read the same
text, identity and route.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from axonflow_guardrail.request._extracted import ExtractedText
from axonflow_guardrail.request._identity import CallerIdentity

__all__ = ["GovernedRequest", "route_of"]


@dataclass(frozen=True, slots=True, kw_only=True)
class GovernedRequest:
    data: dict[str, Any]
    call_type: str
    call_id: str
    model: str
    route: str | None
    identity: CallerIdentity
    text: ExtractedText
    #: The pre-check query (the text's segments, joined).
    query: str
    #: It carries content that cannot be read and the policy says refuse: in audit mode the
    #: call goes on and is recorded as would-have-blocked.
    unverifiable_refused: bool = False
    #: The W3C traceparent its AxonFlow calls carry (`_trace`), or None.
    traceparent: str | None = None

    @property
    def enforcing(self) -> bool:
        return self.identity.enforcement_mode == "enforce"


def route_of(user_api_key_dict: Any, data: Mapping[str, Any]) -> str | None:
    """The proxy route the request came in on (`/v1/chat/completions`, ...)."""
    route = getattr(user_api_key_dict, "request_route", None)
    if isinstance(route, str) and route:
        return route
    psr = data.get("proxy_server_request")
    url = psr.get("url") if isinstance(psr, Mapping) else None
    if isinstance(url, str) and "://" in url:
        return "/" + url.split("://", 1)[1].split("/", 1)[-1].split("?", 1)[0]
    return None
