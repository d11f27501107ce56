"""Where audit records wait before AxonFlow has them, as `axonflow-guardrail doctor` checks it.

A pluggable step: the doctor calls `audit_store_status(settings)` for each guardrail and shows
what it answers. Today records wait in the in-memory queue of `_sink`, so there is nothing
on disk to check. The durable outbox (SQLite or Redis) replaces this function's body with its
own checks (writable, depth, oldest record, dead letters) and keeps the signature.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from axonflow_guardrail._settings import GuardrailSettings

__all__ = ["StoreStatus", "audit_store_status"]


@dataclass(frozen=True, slots=True)
class StoreStatus:
    status: Literal["ok", "warn", "fail"]
    detail: str


def audit_store_status(settings: GuardrailSettings) -> StoreStatus:
    return StoreStatus(
        "ok",
        f"in-memory queue (audit_queue_size={settings.audit_queue_size}): nothing on disk "
        "to check; queued records are lost if the proxy is killed",
    )
