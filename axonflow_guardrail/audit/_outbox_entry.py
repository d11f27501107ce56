"""An audit record as the outbox keeps it: its own stable id, the call's id, and bytes.

Every record gets a random id when it is first kept (`record_id`); the shipper sends it in the
audit's metadata (`axonflow_record_id`) with the LiteLLM call id (`litellm_call_id`), so a
duplicate row (AxonFlow has no idempotency key) is traceable to the one record it repeats.

On disk: compact JSON (orjson). The caller's user token is sealed (`_sealing`) or left out
when it is the guardrail's default; the request text is left out when the operator keeps
prompts off disk (`audit_outbox_keep_prompts: false`): the in-memory entry still has it, so
the worker that wrote the record can still re-check it while it runs.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from axonflow.types import AuditToolCallRequest

from axonflow_guardrail.audit._records import AuditRecord, LLMCallAudit, Replay, ToolCallAudit
from axonflow_guardrail.audit._sealing import TokenSeal

__all__ = ["EntryCodec", "OutboxEntry", "UnreadableEntry"]

_FORMAT = 1


class UnreadableEntry(Exception):
    """Bytes in the outbox that are not a record this version can read."""


@dataclass(slots=True, kw_only=True)
class OutboxEntry:
    record: AuditRecord
    record_id: str = field(default_factory=lambda: secrets.token_hex(16))
    created_at: float = field(default_factory=time.time)
    attempts: int = 0
    #: Why the user token could not be opened (the record cannot be re-checked), if so.
    token_problem: str | None = None

    @property
    def call_id(self) -> str:
        return self.record.call_id


class EntryCodec:
    """Entries to bytes and back, with the token sealed and the prompt kept or not."""

    def __init__(self, *, seal: TokenSeal, keep_prompts: bool) -> None:
        self._seal = seal
        self._keep_prompts = keep_prompts

    def encode(self, entry: OutboxEntry) -> bytes:
        record = entry.record
        doc: dict[str, Any] = {
            "v": _FORMAT,
            "id": entry.record_id,
            "call": record.call_id,
            "at": entry.created_at,
            "n": entry.attempts,
        }
        if isinstance(record, LLMCallAudit):
            doc["llm"] = {
                "context_id": record.context_id,
                "provider": record.provider,
                "model": record.model,
                "usage": record.usage,
                "latency_ms": record.latency_ms,
                "summary": record.response_summary,
                "metadata": record.metadata,
            }
            if record.replay is not None:
                doc["replay"] = self._replay_doc(record.replay)
        else:
            doc["tool"] = record.request.model_dump(mode="json")
        if record.traceparent:
            doc["trace"] = record.traceparent
        return orjson.dumps(doc, option=orjson.OPT_NON_STR_KEYS)

    def _replay_doc(self, replay: Replay) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "source": replay.user_token_source,
            "identity": replay.identity,
            "model": replay.model,
            "route": replay.route,
            "call_type": replay.call_type,
            "decision_id": replay.decision_id,
            "checked_at": replay.checked_at,
            "expires_at": replay.expires_at,
            "failed_open": replay.failed_open,
            "enforcement": replay.enforcement,
        }
        if self._keep_prompts:
            doc["query"] = replay.query
        if replay.user_token_source != "default":
            doc["token"] = self._seal.seal(replay.user_token)
        return doc

    def decode(self, payload: bytes, *, default_user_token: str) -> OutboxEntry:
        try:
            doc = orjson.loads(payload)
            if doc.get("v") != _FORMAT:
                raise UnreadableEntry(f"unknown record format {doc.get('v')!r}")
            entry = OutboxEntry(
                record=self._record_of(doc, default_user_token),
                record_id=str(doc["id"]),
                created_at=float(doc["at"]),
                attempts=int(doc.get("n", 0)),
            )
        except UnreadableEntry:
            raise
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise UnreadableEntry(f"damaged record ({type(exc).__name__})") from None
        replay = doc.get("replay")
        if (
            isinstance(replay, dict)
            and "token" in replay
            and self._seal.open(replay["token"]) is None
        ):
            entry.token_problem = (
                "the caller's user token cannot be opened (was client_secret changed?)"
            )
        return entry

    def _record_of(self, doc: dict[str, Any], default_user_token: str) -> AuditRecord:
        call_id = str(doc["call"])
        trace = doc.get("trace")
        traceparent = trace if isinstance(trace, str) else None
        tool = doc.get("tool")
        if tool is not None:
            return ToolCallAudit(
                call_id=call_id, request=AuditToolCallRequest(**tool), traceparent=traceparent
            )
        llm = doc["llm"]
        usage = llm["usage"]
        return LLMCallAudit(
            call_id=call_id,
            context_id=str(llm["context_id"]),
            provider=str(llm["provider"]),
            model=str(llm["model"]),
            usage=(int(usage[0]), int(usage[1]), int(usage[2])),
            latency_ms=int(llm["latency_ms"]),
            response_summary=str(llm["summary"]),
            metadata=dict(llm["metadata"]),
            replay=self._replay_of(doc.get("replay"), default_user_token),
            traceparent=traceparent,
        )

    def _replay_of(self, doc: Any, default_user_token: str) -> Replay | None:
        if not isinstance(doc, dict):
            return None
        token = default_user_token
        if "token" in doc:
            token = self._seal.open(str(doc["token"])) or ""
        return Replay(
            query=str(doc.get("query") or ""),
            user_token=token,
            user_token_source=str(doc["source"]),
            identity=dict(doc.get("identity") or {}),
            model=str(doc["model"]),
            route=doc.get("route"),
            call_type=str(doc["call_type"]),
            decision_id=doc.get("decision_id"),
            checked_at=float(doc["checked_at"]),
            expires_at=doc.get("expires_at"),
            failed_open=doc.get("failed_open"),
            enforcement=str(doc.get("enforcement") or "enforce"),
        )
