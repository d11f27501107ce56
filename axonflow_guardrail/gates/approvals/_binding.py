"""What binds an approval to the request the reviewer saw and the caller who asked.

The approval row's `request_context` carries `prompt_sha256` (of the exact pre-check query)
and `caller_binding_sha256` (of `CallerIdentity.binding()`: the LiteLLM key, else user and
team). They live server-side, so a client cannot alter them. `ROW_SOURCE` and
`BINDING_VERSION` mark rows this gateway created, so a row from another integration is never
redeemed here. Also: where a client presents an approval id, and the formats AxonFlow answers
in (UUIDs, RFC 3339 timestamps).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from axonflow_guardrail.axonflow._client import PreCheckDecision
from axonflow_guardrail.request._identity import CallerIdentity, request_headers

__all__ = [
    "APPROVAL_ID_HEADER",
    "APPROVAL_ID_METADATA_KEY",
    "BINDING_VERSION",
    "ROW_SOURCE",
    "approval_id_from",
    "caller_hash",
    "canonical_uuid",
    "prompt_hash",
    "request_context",
    "timestamp",
    "trigger_policy",
    "trigger_reason",
]

APPROVAL_ID_HEADER = "x-axonflow-approval-id"
APPROVAL_ID_METADATA_KEY = "axonflow_approval_id"

#: Marks rows created by this gate (with `binding_version`), so a row from another
#: integration can never be redeemed here.
ROW_SOURCE = "axonflow-litellm-guardrail"
BINDING_VERSION = 1
#: The marker policy the platform adds to a require_approval decision; never the trigger.
HITL_MARKER_POLICY = "hitl_enterprise"
DEFAULT_TRIGGER_POLICY = "require_approval"


def approval_id_from(data: Mapping[str, Any]) -> str | None:
    """The approval id a client re-sends with a held request (header, or metadata)."""
    value = request_headers(data).get(APPROVAL_ID_HEADER)
    if not value:
        for bucket_name in ("metadata", "litellm_metadata"):
            bucket = data.get(bucket_name)
            if isinstance(bucket, Mapping) and bucket.get(APPROVAL_ID_METADATA_KEY):
                value = bucket.get(APPROVAL_ID_METADATA_KEY)
                break
    return value.strip() if isinstance(value, str) and value.strip() else None


def trigger_policy(decision: PreCheckDecision) -> str:
    for policy in decision.policies:
        if policy and policy != HITL_MARKER_POLICY:
            return policy
    return DEFAULT_TRIGGER_POLICY


def trigger_reason(decision: PreCheckDecision, policy_id: str) -> str:
    reason = (decision.block_reason or "").strip()
    if reason and reason != "require_approval":
        return reason
    return f"Policy '{policy_id}' requires human approval before this LLM request is sent."


def prompt_hash(prompt: str) -> str:
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()


def caller_hash(identity: CallerIdentity) -> str:
    return hashlib.sha256(f"axonflow-approval-caller\x00{identity.binding()}".encode()).hexdigest()


def request_context(
    *,
    decision: PreCheckDecision,
    identity: CallerIdentity,
    prompt: str,
    model: str,
    call_id: str,
    call_type: str,
    tenant_id: str | None,
) -> dict[str, Any]:
    """What the reviewer sees next to the prompt, plus the server-side binding hashes."""
    context: dict[str, Any] = {
        "source": ROW_SOURCE,
        "binding_version": BINDING_VERSION,
        "model": model or None,
        "call_type": call_type,
        "litellm_call_id": call_id or None,
        "key_alias": identity.key_alias,
        "team_id": identity.team_id,
        "user_id": identity.user_id,
        "end_user_id": identity.end_user_id,
        "org_id": identity.org_id,
        "tenant_id": tenant_id,
        "triggered_policy_id": trigger_policy(decision),
        "policies": list(decision.policies),
        "decision_id": decision.decision_id,
        "context_id": decision.context_id,
        "prompt_sha256": prompt_hash(prompt),
        "caller_binding_sha256": caller_hash(identity),
    }
    return {k: v for k, v in context.items() if v is not None}


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def canonical_uuid(value: object) -> str | None:
    """The lower-case hyphenated form of a UUID string, or None for anything else."""
    if not isinstance(value, str) or _UUID.fullmatch(value) is None:
        return None
    return value.lower()


_FRACTION = re.compile(r"(\.\d{6})\d+")


def timestamp(value: str | None) -> float | None:
    """Seconds since the epoch of an RFC 3339 timestamp (nanoseconds tolerated), or None."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(_FRACTION.sub(r"\1", value.strip()))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.timestamp()
