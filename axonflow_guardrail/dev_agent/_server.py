"""The aiohttp application and the process around it.

One middleware does what every AxonFlow route shares, in the order the platform's stack does
it: read the body (413 past 1 MiB), record the request, apply an injected fault, authenticate,
run the handler, and turn any error into the platform's JSON error shape. The handler's service
time (without injected delays) goes to `/__dev/stats`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import signal
import time
from collections.abc import Awaitable, Callable, Coroutine
from importlib import metadata
from typing import Any

from aiohttp import web

from ._auth import decode_client_id
from ._config import MAX_BODY_BYTES, AgentConfig
from ._control import PREFIX, ControlRoutes
from ._faults import Fault, describe
from ._hitl_routes import HitlRoutes
from ._http import (
    BODY_KEY,
    CLIENT_KEY,
    START_KEY,
    ApiError,
    error_response,
    parse_json,
)
from ._log import BANNER, LOGGER, setup_logging
from ._policies import PolicyFileError, PolicySet, load_policies
from ._routes import CoreRoutes
from ._state import AgentState
from ._trace import TRACEPARENT, incoming_trace_id

#: The platform API generation the emulator answers like (reported by `/health`).
PLATFORM_API_VERSION = "9.5.0"
#: Routes that answer without credentials, as on the platform.
PUBLIC_ROUTES = frozenset({"/health", "/api/v1/hitl/status"})
STATE_KEY = web.AppKey("dev_agent_state", AgentState)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def package_version() -> str:
    try:
        return metadata.version("axonflow-guardrail")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def build_app(config: AgentConfig, *, policies: PolicySet | None = None) -> web.Application:
    """The dev agent as an aiohttp app (policies: loaded from `config` when not given).

    Raises `PolicyFileError` when the policy file is invalid.
    """
    if policies is None:
        policies = load_policies(config.policies_file)
    state = AgentState.create(
        config, policies, version=f"{PLATFORM_API_VERSION}-dev-agent.{package_version()}"
    )
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[_middleware(state)])
    app[STATE_KEY] = state
    CoreRoutes(state).register(app)
    HitlRoutes(state).register(app)
    ControlRoutes(state).register(app)
    return app


def _middleware(state: AgentState) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if path == PREFIX or path.startswith(PREFIX + "/"):
            return await _answer(request, handler, start=None, route_key=None)
        return await _axonflow_request(state, request, handler)

    return middleware


async def _axonflow_request(
    state: AgentState, request: web.Request, handler: Handler
) -> web.StreamResponse:
    method, path = request.method, request.path
    auth_header = request.headers.get("Authorization")
    match_info = request.match_info
    resource = match_info.route.resource
    route = resource.canonical if resource is not None else None
    route_key = (
        f"{method} {route}" if route is not None and match_info.http_exception is None else None
    )

    too_large = False
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raw, too_large = b"", True
    body = parse_json(raw)
    request[BODY_KEY] = body
    fault = state.faults.take(path)
    state.requests.record(
        method=method,
        path=path,
        query=request.query_string,
        headers=request.headers,
        raw_size=request.content_length or len(raw),
        body=body,
        raw=raw,
        auth_client_id=decode_client_id(auth_header),
        now=state.clock.now(),
        fault=describe(fault) if fault is not None else None,
    )

    if fault is not None and fault.after:
        handled = _echo_trace(
            request,
            await _answer(
                request,
                _authenticated(state, handler, route, match_info, auth_header),
                start=time.perf_counter_ns(),
                route_key=route_key,
                state=state,
            ),
        )
        return await _lose_answer(
            fault, request, handled, method=method, route_key=route_key, state=state
        )
    if fault is not None:
        if fault.delay_s:
            await asyncio.sleep(fault.delay_s)
        if fault.replaces_answer:
            if route_key is not None:
                state.stats.record_fault(route_key)
            LOGGER.info("fault route=%s %s injected=%s", method, path, describe(fault))
            if fault.drop:
                transport = request.transport
                if transport is not None:
                    transport.close()
                return web.Response(status=204)
            return fault.response()

    start = time.perf_counter_ns()
    request[START_KEY] = start
    if too_large:
        _log_rejected(request, 413, "body too large")
        response = error_response(413, f"request body too large (limit {MAX_BODY_BYTES} bytes)")
        if route_key is not None:
            state.stats.record(route_key, time.perf_counter_ns() - start)
        return response

    authenticated = _authenticated(state, handler, route, match_info, auth_header)
    answer = await _answer(request, authenticated, start=start, route_key=route_key, state=state)
    return _echo_trace(request, answer)


def _echo_trace(request: web.Request, answer: web.StreamResponse) -> web.StreamResponse:
    """Echo a valid incoming `traceparent`: the trace the call continued, for tests to read."""
    traceparent = request.headers.get(TRACEPARENT)
    if traceparent and incoming_trace_id(traceparent) and not answer.prepared:
        answer.headers[TRACEPARENT] = traceparent
    return answer


def _authenticated(
    state: AgentState, handler: Handler, route: str | None, match_info: Any, auth: str | None
) -> Handler:
    async def authenticated(req: web.Request) -> web.StreamResponse:
        if route is not None and route not in PUBLIC_ROUTES and match_info.http_exception is None:
            req[CLIENT_KEY] = state.auth.authenticate(auth)
        else:
            req[CLIENT_KEY] = decode_client_id(auth) or "-"
        return await handler(req)

    return authenticated


async def _lose_answer(
    fault: Fault,
    request: web.Request,
    handled: web.StreamResponse,
    *,
    method: str,
    route_key: str | None,
    state: AgentState,
) -> web.StreamResponse:
    """An `after` fault: the request was handled; now its answer is delayed, replaced or
    dropped, as a network or a proxy in between can do."""
    if fault.delay_s:
        await asyncio.sleep(fault.delay_s)
    if not fault.replaces_answer:
        return handled
    if route_key is not None:
        state.stats.record_fault(route_key)
    LOGGER.info("fault route=%s %s injected=%s", method, request.path, describe(fault))
    if fault.drop:
        transport = request.transport
        if transport is not None:
            transport.close()
        return web.Response(status=204)
    return fault.response()


async def _answer(
    request: web.Request,
    handler: Handler,
    *,
    start: int | None,
    route_key: str | None,
    state: AgentState | None = None,
) -> web.StreamResponse:
    """Run `handler`; every failure becomes a JSON error answer (never a crash)."""
    try:
        response = await handler(request)
    except ApiError as exc:
        if start is not None:
            _log_rejected(request, exc.status, exc.message)
        response = exc.to_response()
    except web.HTTPException as exc:
        if exc.status == 404:
            message = f"route not found: {request.method} {request.path}"
        elif exc.status == 405:
            message = f"method not allowed: {request.method} {request.path}"
        elif exc.status == 413:
            message = f"request body too large (limit {MAX_BODY_BYTES} bytes)"
        else:
            message = exc.reason
        if start is not None:
            _log_rejected(request, exc.status, message)
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        response = error_response(exc.status, message, headers=headers)
    except Exception:
        LOGGER.exception("internal error route=%s %s", request.method, request.path)
        response = error_response(500, "internal error in the dev agent (see its log)")
    if state is not None and start is not None and route_key is not None:
        state.stats.record(route_key, time.perf_counter_ns() - start)
    return response


def _log_rejected(request: web.Request, status: int, message: str) -> None:
    LOGGER.info(
        "decision route=%s %s client=%s verdict=error status=%d error=%r",
        request.method,
        request.path,
        request.get(CLIENT_KEY) or decode_client_id(request.headers.get("Authorization")) or "-",
        status,
        message,
    )


# ---------------------------------------------------------------------- process


def run(config: AgentConfig) -> int:
    """Serve until SIGINT/SIGTERM. Returns the process exit code (2: bad policy file)."""
    setup_logging(config.log_level)
    LOGGER.warning(BANNER)
    try:
        policies = load_policies(config.policies_file)
    except PolicyFileError as exc:
        LOGGER.error("invalid policy file: %s", exc)
        return 2
    app = build_app(config, policies=policies)
    loop_name, runner = _loop_runner()
    try:
        runner(_serve(app, config, policies=policies, loop_name=loop_name))
    except OSError as exc:
        LOGGER.error("cannot listen on %s:%d: %s", config.host, config.port, exc)
        return 1
    return 0


def _loop_runner() -> tuple[str, Callable[[Coroutine[Any, Any, None]], None]]:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is installed with the proxy extras
        return "asyncio", asyncio.run
    return "uvloop", uvloop.run


async def _serve(
    app: web.Application, config: AgentConfig, *, policies: PolicySet, loop_name: str
) -> None:
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, config.host, config.port, backlog=1024, reuse_address=True)
        await site.start()
        port = _bound_port(runner, config.port)
        LOGGER.info(
            "listening on http://%s:%d edition=%s policies=%d from %s clients=%s "
            "hitl_pending_cap=%d loop=%s",
            config.host,
            port,
            config.edition,
            len(policies),
            policies.source,
            ",".join(sorted(config.clients)) or "any (community-style)",
            config.hitl_pending_cap,
            loop_name,
        )
        if not _is_loopback(config.host):
            LOGGER.warning(
                "listening on %s, which is not a loopback address: anything that can reach it "
                "can use this emulator without real governance",
                config.host,
            )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        LOGGER.info("stopping")
    finally:
        await runner.cleanup()


def _bound_port(runner: web.AppRunner, default: int) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return default


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
