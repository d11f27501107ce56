"""JSON in and out with the platform's error shape, and typed access to request bodies.

Every error the agent answers is `{"success": false, "error": "<text>"}` with a status, as the
platform's handlers do. Handlers raise `ApiError` and the middleware turns it into that answer,
so no code path can answer a bare text error or a 500 for bad input.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web

JsonObject = dict[str, Any]

#: A request id must be a canonical UUID, as the platform's handlers require.
_UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)

#: Where the middleware leaves the parsed body for handlers (see `body_object`).
BODY_KEY: web.RequestKey[Any] = web.RequestKey("dev_agent.body")
#: Where the middleware leaves the authenticated client id.
CLIENT_KEY: web.RequestKey[str] = web.RequestKey("dev_agent.client_id", str)
#: Where the middleware leaves the handler's start time (`perf_counter_ns`).
START_KEY: web.RequestKey[int] = web.RequestKey("dev_agent.t0", int)


class _Invalid:
    """Marks a body that is not JSON (distinct from a JSON `null`)."""

    __slots__ = ()


INVALID_JSON: Any = _Invalid()


class ApiError(Exception):
    """An error answer: status, message and optional extra fields or headers."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})

    def to_response(self) -> web.Response:
        return error_response(self.status, self.message, extra=self.extra, headers=self.headers)


def json_response(
    payload: object, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=orjson.dumps(payload),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def error_response(
    status: int,
    message: str,
    *,
    extra: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    payload: JsonObject = {"success": False, "error": message}
    if extra:
        payload.update(extra)
    return json_response(payload, status=status, headers=headers)


def parse_json(raw: bytes) -> Any:
    """The parsed body, None for an empty one, or `INVALID_JSON`."""
    if not raw or raw.isspace():
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return INVALID_JSON


def body_object(request: web.Request, *, error: str = "Invalid request body") -> JsonObject:
    """The request's JSON object body, or a 400 with the platform's text."""
    body = request.get(BODY_KEY)
    if not isinstance(body, dict):
        raise ApiError(400, error)
    return body


def opt_str(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ApiError(400, f"{key} must be a string")
    return value


def req_str(body: Mapping[str, Any], key: str) -> str:
    """A required, non-blank string field (`<key> field is required` otherwise)."""
    value = opt_str(body, key)
    if value is None or not value.strip():
        raise ApiError(400, f"{key} field is required")
    return value


def opt_int(body: Mapping[str, Any], key: str, *, minimum: int | None = None) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, f"{key} must be an integer")
    if minimum is not None and value < minimum:
        raise ApiError(400, f"{key} must be at least {minimum}")
    return value


def opt_bool(body: Mapping[str, Any], key: str) -> bool | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise ApiError(400, f"{key} must be a boolean")
    return value


def opt_object(body: Mapping[str, Any], key: str) -> JsonObject | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ApiError(400, f"{key} must be an object")
    return value


def opt_list(body: Mapping[str, Any], key: str) -> list[Any] | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, list):
        raise ApiError(400, f"{key} must be a list")
    return value


def opt_str_list(body: Mapping[str, Any], key: str) -> list[str] | None:
    value = opt_list(body, key)
    if value is not None and not all(isinstance(item, str) for item in value):
        raise ApiError(400, f"{key} must be a list of strings")
    return value


def require_uuid(value: str, *, name: str = "request_id") -> str:
    if not _UUID_RE.match(value):
        raise ApiError(400, f"invalid {name}: must be a UUID")
    return value.lower()
