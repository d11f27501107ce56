"""The human-in-the-loop approval queue, with the platform's rules.

Statuses go pending -> approved | rejected | expired | overridden and never back. A pending row
past its `expires_at` reads as `expired` (on the agent's clock, so tests jump there with
`POST /__dev/clock`). Creation needs the fields the platform's handler needs (more than the
SDK's model marks required), caps the pending rows (429), and honours `Idempotency-Key`.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from ._clock import AgentClock, rfc3339
from ._http import ApiError, JsonObject, opt_int, opt_object, opt_str, req_str

Status = Literal["pending", "approved", "rejected", "expired", "overridden"]
STATUSES: tuple[str, ...] = ("pending", "approved", "rejected", "expired", "overridden")
SEVERITIES: tuple[str, ...] = ("low", "medium", "high", "critical")

DEFAULT_EXPIRY_S = 24 * 3600
MAX_EXPIRY_S = 168 * 3600
DEFAULT_LIST_LIMIT = 50
MAX_LIST_LIMIT = 1000
ORG_ID = "local-dev-org"


@dataclass(slots=True)
class HitlRow:
    """One approval request; `to_json` is the platform's row (`HITLApprovalRequest`)."""

    request_id: str
    client_id: str
    tenant_id: str
    original_query: str
    request_type: str
    triggered_policy_id: str
    triggered_policy_name: str
    trigger_reason: str
    severity: str
    expires_at: float
    created_at: float
    updated_at: float
    status: Status = "pending"
    user_id: str | None = None
    request_context: JsonObject | None = None
    notify_url: str | None = None
    eu_ai_act_article: str | None = None
    compliance_framework: str | None = None
    risk_classification: str | None = None
    reviewer_id: str | None = None
    reviewer_email: str | None = None
    review_comment: str | None = None
    reviewed_at: float | None = None
    history: list[JsonObject] = field(default_factory=list)

    def to_json(self) -> JsonObject:
        return {
            "request_id": self.request_id,
            "org_id": ORG_ID,
            "tenant_id": self.tenant_id,
            "client_id": self.client_id,
            "user_id": self.user_id,
            "original_query": self.original_query,
            "request_type": self.request_type,
            "request_context": self.request_context,
            "triggered_policy_id": self.triggered_policy_id,
            "triggered_policy_name": self.triggered_policy_name,
            "trigger_reason": self.trigger_reason,
            "severity": self.severity,
            "eu_ai_act_article": self.eu_ai_act_article,
            "compliance_framework": self.compliance_framework,
            "risk_classification": self.risk_classification,
            "notify_url": self.notify_url,
            "status": self.status,
            "expires_at": rfc3339(self.expires_at),
            "created_at": rfc3339(self.created_at),
            "updated_at": rfc3339(self.updated_at),
            "reviewer_id": self.reviewer_id,
            "reviewer_email": self.reviewer_email,
            "review_comment": self.review_comment,
            "reviewed_at": rfc3339(self.reviewed_at) if self.reviewed_at is not None else None,
        }


class HitlQueue:
    """All approval rows of the (single) local organisation."""

    __slots__ = (
        "_clock",
        "_consumed",
        "_gated",
        "_idempotency",
        "_pending",
        "_rows",
        "pending_cap",
    )

    def __init__(self, clock: AgentClock, *, pending_cap: int) -> None:
        self._clock = clock
        self.pending_cap = pending_cap
        self._rows: dict[str, HitlRow] = {}
        self._pending: set[str] = set()
        self._idempotency: dict[tuple[str, str], str] = {}
        # v11 mode: (client, query digest) -> the row its pre-check enqueued; and the approved
        # rows whose one admitted retry has been used.
        self._gated: dict[tuple[str, str], str] = {}
        self._consumed: set[str] = set()

    def clear(self) -> None:
        self._rows.clear()
        self._pending.clear()
        self._idempotency.clear()
        self._gated.clear()
        self._consumed.clear()

    # ----------------------------------------------------------------- create

    def create(
        self, body: JsonObject, *, auth_client_id: str, idempotency_key: str | None
    ) -> tuple[HitlRow, bool]:
        """A new pending row, or (same key, same client) the row created before.

        Returns the row and whether it is an idempotent replay.
        """
        if idempotency_key:
            existing = self._idempotency.get((auth_client_id, idempotency_key))
            if existing is not None:
                return self._refreshed(self._rows[existing]), True

        client_id = req_str(body, "client_id")
        original_query = req_str(body, "original_query")
        request_type = req_str(body, "request_type")
        policy_id = req_str(body, "triggered_policy_id")
        policy_name = req_str(body, "triggered_policy_name")
        trigger_reason = req_str(body, "trigger_reason")
        severity = opt_str(body, "severity") or "high"
        if severity not in SEVERITIES:
            raise ApiError(400, f"severity must be one of {', '.join(SEVERITIES)}")
        expires_in = opt_int(body, "expires_in_seconds", minimum=1) or DEFAULT_EXPIRY_S
        if expires_in > MAX_EXPIRY_S:
            raise ApiError(400, f"expires_in_seconds must be at most {MAX_EXPIRY_S} (168 h)")
        notify_url = opt_str(body, "notify_url")
        if notify_url is not None and not notify_url.startswith(("https://", "http://")):
            raise ApiError(400, "notify_url must be an https:// (or local http://) URL")
        request_context = opt_object(body, "request_context")
        user_id = opt_str(body, "user_id")

        eu_ai_act_article = opt_str(body, "eu_ai_act_article")
        compliance_framework = opt_str(body, "compliance_framework")
        risk_classification = opt_str(body, "risk_classification")
        row = self._new_row(
            client_id=client_id,
            tenant_id=auth_client_id,
            original_query=original_query,
            request_type=request_type,
            triggered_policy_id=policy_id,
            triggered_policy_name=policy_name,
            trigger_reason=trigger_reason,
            severity=severity,
            expires_in=expires_in,
            user_id=user_id,
            request_context=request_context,
            notify_url=notify_url,
            eu_ai_act_article=eu_ai_act_article,
            compliance_framework=compliance_framework,
            risk_classification=risk_classification,
        )
        if idempotency_key:
            self._idempotency[(auth_client_id, idempotency_key)] = row.request_id
        return row, False

    def gate_pre_check(
        self,
        *,
        client_id: str,
        query: str,
        policy_id: str,
        policy_name: str,
        trigger_reason: str,
        severity: str,
    ) -> tuple[HitlRow, bool]:
        """v11 behaviour: the pre-check itself enqueues the approval row.

        Returns the row and whether this pre-check is admitted: after the row is approved (or
        overridden), exactly one retry of the same request from the same client passes. A
        pending row is reused; a rejected, expired or used one leads to a new row.
        """
        key = (client_id, hashlib.sha256(query.encode("utf-8")).hexdigest())
        request_id = self._gated.get(key)
        if request_id is not None and request_id in self._rows:
            row = self._refreshed(self._rows[request_id])
            if row.status == "pending":
                return row, False
            if row.status in ("approved", "overridden") and request_id not in self._consumed:
                self._consumed.add(request_id)
                return row, True
        row = self._new_row(
            client_id=client_id,
            tenant_id=client_id,
            original_query=query,
            request_type="llm_chat",
            triggered_policy_id=policy_id,
            triggered_policy_name=policy_name,
            trigger_reason=trigger_reason,
            severity=severity,
            expires_in=DEFAULT_EXPIRY_S,
        )
        self._gated[key] = row.request_id
        return row, False

    # ----------------------------------------------------------------- reads

    def get(self, request_id: str) -> HitlRow:
        row = self._rows.get(request_id)
        if row is None:
            raise ApiError(404, "approval request not found")
        return self._refreshed(row)

    def page(
        self, *, status: str | None, severity: str | None, limit: int, offset: int
    ) -> tuple[list[HitlRow], int]:
        """Newest first, filtered; returns one page and the filtered total."""
        self.expire_due()
        rows = [
            row
            for row in reversed(self._rows.values())
            if (status is None or row.status == status)
            and (severity is None or row.severity == severity)
        ]
        return rows[offset : offset + limit], len(rows)

    def history(self, request_id: str) -> list[JsonObject]:
        return list(self.get(request_id).history)

    def pending_count(self) -> int:
        self.expire_due()
        return len(self._pending)

    def stats(self) -> JsonObject:
        self.expire_due()
        now = self._clock.now()
        pending = [self._rows[request_id] for request_id in self._pending]
        by_status: dict[str, int] = dict.fromkeys(STATUSES, 0)
        for row in self._rows.values():
            by_status[row.status] += 1
        oldest = min((row.created_at for row in pending), default=None)
        return {
            "total_pending": len(pending),
            "high_priority": sum(1 for row in pending if row.severity == "high"),
            "critical_priority": sum(1 for row in pending if row.severity == "critical"),
            "oldest_pending_hours": (
                round((now - oldest) / 3600, 4) if oldest is not None else None
            ),
            "by_status": by_status,
        }

    # ----------------------------------------------------------------- transitions

    def review(
        self,
        request_id: str,
        *,
        decision: Literal["approved", "rejected"],
        reviewer_id: str,
        reviewer_email: str | None,
        comment: str | None,
    ) -> HitlRow:
        row = self._pending_row(request_id)
        now = self._clock.now()
        self._finish(row, decision, now)
        row.reviewer_id = reviewer_id
        row.reviewer_email = reviewer_email
        row.review_comment = comment
        row.reviewed_at = now
        row.history.append(
            _event(
                decision,
                decision,
                now,
                actor_id=reviewer_id,
                actor_email=reviewer_email,
                comment=comment,
            )
        )
        return row

    def override(
        self,
        request_id: str,
        *,
        justification: str,
        authorized_by_id: str,
        authorized_by_email: str | None,
    ) -> HitlRow:
        row = self._pending_row(request_id)
        now = self._clock.now()
        self._finish(row, "overridden", now)
        row.reviewer_id = authorized_by_id
        row.reviewer_email = authorized_by_email
        row.review_comment = justification
        row.reviewed_at = now
        row.history.append(
            _event(
                "overridden",
                "overridden",
                now,
                actor_id=authorized_by_id,
                actor_email=authorized_by_email,
                comment=justification,
            )
        )
        return row

    def expire_due(self) -> int:
        """Mark every pending row past its expiry as expired; returns how many."""
        now = self._clock.now()
        due = [rid for rid in self._pending if self._rows[rid].expires_at <= now]
        for request_id in due:
            self._expire(self._rows[request_id])
        return len(due)

    # ----------------------------------------------------------------- internals

    def _new_row(self, *, expires_in: int, **fields: Any) -> HitlRow:
        if self.pending_count() >= self.pending_cap:
            raise ApiError(
                429,
                f"pending approval cap reached ({self.pending_cap} pending requests)",
                headers={"Retry-After": "60"},
            )
        now = self._clock.now()
        row = HitlRow(
            request_id=str(uuid.uuid4()),
            expires_at=now + expires_in,
            created_at=now,
            updated_at=now,
            **fields,
        )
        row.history.append(_event("created", "pending", now, actor_id=row.tenant_id))
        self._rows[row.request_id] = row
        self._pending.add(row.request_id)
        return row

    def _pending_row(self, request_id: str) -> HitlRow:
        row = self.get(request_id)
        if row.status == "expired":
            raise ApiError(409, "request has expired")
        if row.status != "pending":
            raise ApiError(409, f"request is not pending (status: {row.status})")
        return row

    def _refreshed(self, row: HitlRow) -> HitlRow:
        if row.status == "pending" and row.expires_at <= self._clock.now():
            self._expire(row)
        return row

    def _expire(self, row: HitlRow) -> None:
        self._finish(row, "expired", row.expires_at)
        row.history.append(_event("expired", "expired", row.expires_at, actor_id="system"))

    def _finish(self, row: HitlRow, status: Status, when: float) -> None:
        row.status = status
        row.updated_at = when
        self._pending.discard(row.request_id)


def _event(
    action: str,
    status: str,
    when: float,
    *,
    actor_id: str,
    actor_email: str | None = None,
    comment: str | None = None,
) -> JsonObject:
    event: dict[str, Any] = {
        "action": action,
        "status": status,
        "actor_id": actor_id,
        "timestamp": rfc3339(when),
    }
    if actor_email is not None:
        event["actor_email"] = actor_email
    if comment is not None:
        event["comment"] = comment
    return event
