"""The HITL queue routes: thin HTTP wrappers over `HitlQueue`, gated by edition.

Community edition answers 404 on these routes (the platform does not mount them) except
create, which answers 403 as the platform's tier gate does, and `GET /api/v1/hitl/status`,
which says `{"enabled": false}`.
"""

from __future__ import annotations

from aiohttp import web

from ._hitl_queue import DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT, SEVERITIES, STATUSES
from ._http import (
    CLIENT_KEY,
    ApiError,
    body_object,
    json_response,
    opt_str,
    req_str,
    require_uuid,
)
from ._log import log_decision
from ._state import AgentState

QUEUE = "/api/v1/hitl/queue"
ROW = QUEUE + "/{request_id}"


def not_found(request: web.Request) -> ApiError:
    """The answer for a route that does not exist (same text as an unknown route)."""
    return ApiError(404, f"route not found: {request.method} {request.path}")


class HitlRoutes:
    def __init__(self, state: AgentState) -> None:
        self._state = state

    def register(self, app: web.Application) -> None:
        app.router.add_get("/api/v1/hitl/status", self.status)
        app.router.add_post(QUEUE, self.create)
        app.router.add_get(QUEUE, self.list_queue)
        app.router.add_get(ROW, self.get)
        app.router.add_post(ROW + "/approve", self.approve)
        app.router.add_post(ROW + "/reject", self.reject)
        app.router.add_post(ROW + "/override", self.override)
        app.router.add_get(ROW + "/history", self.history)
        app.router.add_get("/api/v1/hitl/stats", self.stats)
        app.router.add_post("/api/v1/hitl/expire", self.expire)

    def _gate(self, request: web.Request) -> None:
        if not self._state.enterprise:
            raise not_found(request)

    def _request_id(self, request: web.Request) -> str:
        self._gate(request)
        return require_uuid(request.match_info["request_id"])

    async def status(self, request: web.Request) -> web.Response:
        state = self._state
        if not state.enterprise:
            return json_response({"enabled": False, "edition": state.config.edition})
        return json_response(
            {
                "enabled": True,
                "edition": state.config.edition,
                "pending_cap": state.hitl.pending_cap,
                "pending": state.hitl.pending_count(),
            }
        )

    async def create(self, request: web.Request) -> web.Response:
        if not self._state.enterprise:
            message = "HITL approval queue is not available on the community tier"
            raise ApiError(403, message, extra={"message": message})
        body = body_object(request)
        key = request.headers.get("Idempotency-Key")
        row, replayed = self._state.hitl.create(
            body, auth_client_id=request[CLIENT_KEY], idempotency_key=key or None
        )
        log_decision(
            request,
            verdict="replayed" if replayed else "pending",
            policies=[row.triggered_policy_id],
            request_id=row.request_id,
        )
        headers = {"Idempotent-Replayed": "true"} if replayed else None
        return json_response({"success": True, "data": row.to_json()}, status=201, headers=headers)

    async def list_queue(self, request: web.Request) -> web.Response:
        self._gate(request)
        query = request.query
        status = query.get("status") or None
        if status is not None and status not in STATUSES:
            raise ApiError(400, f"status must be one of {', '.join(STATUSES)}")
        severity = query.get("severity") or None
        if severity is not None and severity not in SEVERITIES:
            raise ApiError(400, f"severity must be one of {', '.join(SEVERITIES)}")
        limit = _query_int(query.get("limit"), "limit", default=DEFAULT_LIST_LIMIT, minimum=1)
        limit = min(limit, MAX_LIST_LIMIT)
        offset = _query_int(query.get("offset"), "offset", default=0, minimum=0)
        rows, total = self._state.hitl.page(
            status=status, severity=severity, limit=limit, offset=offset
        )
        return json_response(
            {
                "success": True,
                "data": [row.to_json() for row in rows],
                "meta": {"total": total, "limit": limit, "offset": offset},
            }
        )

    async def get(self, request: web.Request) -> web.Response:
        row = self._state.hitl.get(self._request_id(request))
        return json_response({"success": True, "data": row.to_json()})

    async def approve(self, request: web.Request) -> web.Response:
        return await self._review(request, "approved")

    async def reject(self, request: web.Request) -> web.Response:
        return await self._review(request, "rejected")

    async def _review(self, request: web.Request, decision: str) -> web.Response:
        request_id = self._request_id(request)
        body = body_object(request)
        reviewer_id = req_str(body, "reviewer_id")
        reviewer_email = opt_str(body, "reviewer_email")
        comment = opt_str(body, "comment")
        opt_str(body, "reviewer_role")
        row = self._state.hitl.review(
            request_id,
            decision="approved" if decision == "approved" else "rejected",
            reviewer_id=reviewer_id,
            reviewer_email=reviewer_email,
            comment=comment,
        )
        log_decision(request, verdict=row.status, request_id=row.request_id)
        return json_response(
            {"success": True, "data": {"request_id": row.request_id, "status": row.status}}
        )

    async def override(self, request: web.Request) -> web.Response:
        request_id = self._request_id(request)
        body = body_object(request)
        row = self._state.hitl.override(
            request_id,
            justification=req_str(body, "justification"),
            authorized_by_id=req_str(body, "authorized_by_id"),
            authorized_by_email=opt_str(body, "authorized_by_email"),
        )
        log_decision(request, verdict=row.status, request_id=row.request_id)
        return json_response(
            {"success": True, "data": {"request_id": row.request_id, "status": row.status}}
        )

    async def history(self, request: web.Request) -> web.Response:
        events = self._state.hitl.history(self._request_id(request))
        return json_response({"success": True, "data": events})

    async def stats(self, request: web.Request) -> web.Response:
        self._gate(request)
        return json_response({"success": True, "data": self._state.hitl.stats()})

    async def expire(self, request: web.Request) -> web.Response:
        self._gate(request)
        count = self._state.hitl.expire_due()
        log_decision(request, verdict="expired", expired_count=count)
        return json_response({"success": True, "expired_count": count})


def _query_int(raw: str | None, name: str, *, default: int, minimum: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer") from None
    if value < minimum:
        raise ApiError(400, f"{name} must be at least {minimum}")
    return value
