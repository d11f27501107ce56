"""The control API under `/__dev/`, for tests and demos; AxonFlow has no such routes.

It needs no auth, is never faulted, recorded or counted, and lets a test see what the agent
received (`requests`, `audits`), change what it does (`policies`, `faults`, `clock`) and start
over (`reset`). `stats` is what the benchmark reads.
"""

from __future__ import annotations

import math

from aiohttp import web

from ._clock import rfc3339
from ._faults import parse_fault
from ._http import INVALID_JSON, ApiError, JsonObject, json_response, parse_json
from ._log import LOGGER
from ._policies import PolicyFileError, parse_policies
from ._state import AgentState

PREFIX = "/__dev"
_MAX_ADVANCE_S = 10 * 365 * 24 * 3600.0


class ControlRoutes:
    def __init__(self, state: AgentState) -> None:
        self._state = state

    def register(self, app: web.Application) -> None:
        router = app.router
        router.add_get(PREFIX + "/requests", self.requests)
        router.add_get(PREFIX + "/audits", self.audits)
        router.add_get(PREFIX + "/audits/by-call", self.audits_by_call)
        router.add_get(PREFIX + "/policies", self.get_policies)
        router.add_put(PREFIX + "/policies", self.put_policies)
        router.add_get(PREFIX + "/faults", self.get_faults)
        router.add_put(PREFIX + "/faults", self.put_faults)
        router.add_delete(PREFIX + "/faults", self.delete_faults)
        router.add_get(PREFIX + "/clock", self.get_clock)
        router.add_post(PREFIX + "/clock", self.post_clock)
        router.add_post(PREFIX + "/reset", self.reset)
        router.add_get(PREFIX + "/stats", self.get_stats)
        router.add_delete(PREFIX + "/stats", self.delete_stats)

    async def requests(self, request: web.Request) -> web.Response:
        path = request.query.get("path") or None
        raw_limit = request.query.get("limit")
        limit: int | None = None
        if raw_limit:
            try:
                limit = int(raw_limit)
            except ValueError:
                raise ApiError(400, "limit must be an integer") from None
        return json_response(self._state.requests.entries(path=path, limit=limit))

    async def audits(self, request: web.Request) -> web.Response:
        return json_response(self._state.audits.records())

    async def audits_by_call(self, request: web.Request) -> web.Response:
        return json_response(self._state.audits.count_by_call())

    async def get_policies(self, request: web.Request) -> web.Response:
        state = self._state
        return json_response(
            {"source": state.policies.source, "policies": state.policies.to_json()}
        )

    async def put_policies(self, request: web.Request) -> web.Response:
        data = await _json(request)
        try:
            policies = parse_policies(data, source="PUT /__dev/policies")
        except PolicyFileError as exc:
            raise ApiError(400, str(exc)) from None
        self._state.policies = policies
        LOGGER.info("control policies replaced count=%d", len(policies))
        return json_response({"success": True, "count": len(policies)})

    async def get_faults(self, request: web.Request) -> web.Response:
        return json_response(self._state.faults.to_json())

    async def put_faults(self, request: web.Request) -> web.Response:
        data = await _json(request)
        items = data if isinstance(data, list) else [data]
        faults = [parse_fault(item) for item in items]
        for fault in faults:
            self._state.faults.set(fault)
            LOGGER.info("control fault set %s", fault.to_json())
        return json_response({"success": True, "faults": self._state.faults.to_json()})

    async def delete_faults(self, request: web.Request) -> web.Response:
        self._state.faults.clear()
        LOGGER.info("control faults cleared")
        return json_response({"success": True})

    async def get_clock(self, request: web.Request) -> web.Response:
        return json_response(self._clock_json())

    async def post_clock(self, request: web.Request) -> web.Response:
        data = await _json(request)
        advance = data.get("advance_s") if isinstance(data, dict) else None
        if (
            isinstance(advance, bool)
            or not isinstance(advance, int | float)
            or not math.isfinite(advance)
            or not 0 <= advance <= _MAX_ADVANCE_S
        ):
            raise ApiError(400, "advance_s must be a non-negative number of seconds")
        self._state.clock.advance(float(advance))
        LOGGER.info("control clock advanced by %gs offset=%gs", advance, self._state.clock.offset_s)
        return json_response({"success": True, **self._clock_json()})

    async def reset(self, request: web.Request) -> web.Response:
        self._state.reset()
        LOGGER.info("control reset")
        return json_response({"success": True})

    async def get_stats(self, request: web.Request) -> web.Response:
        return json_response(self._state.stats.snapshot())

    async def delete_stats(self, request: web.Request) -> web.Response:
        self._state.stats.clear()
        return json_response({"success": True})

    def _clock_json(self) -> JsonObject:
        clock = self._state.clock
        return {"offset_s": clock.offset_s, "now": rfc3339(clock.now())}


async def _json(request: web.Request) -> object:
    data = parse_json(await request.read())
    if data is INVALID_JSON or data is None:
        raise ApiError(400, "Invalid request body")
    return data
