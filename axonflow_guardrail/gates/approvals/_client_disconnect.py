"""Has the client of the request being held gone away?

LiteLLM does not cancel a request whose client disconnects while a pre-call hook runs: the
hook runs to its end and the request then goes on to the model. A hook that *waits* (an
approval hold) must therefore notice a vanished client itself, or it would poll for minutes and
then call the model for nobody. LiteLLM passes hooks no request object, so this module finds
the Starlette `Request` the proxy's endpoint holds a few frames up the hook's call stack and
hands back its public `is_disconnected()`.

That lookup is not an official API, so it is kept here, alone, and it fails safe: when nothing
is found the caller gets None and relies on its own deadline.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from types import FrameType

__all__ = ["DisconnectProbe", "find_disconnect_probe"]

#: `async () -> bool`: has the client of the request being held gone away?
DisconnectProbe = Callable[[], Awaitable[bool]]


def find_disconnect_probe(*, max_depth: int = 64) -> DisconnectProbe | None:
    """`Request.is_disconnected` of the HTTP request whose hook is running, if one is found.

    LiteLLM passes hooks no request object, but its endpoint (and
    `common_processing_pre_call_logic`) await the hook with the Starlette `Request` as a local,
    so it is a few frames up the current stack. Must be called synchronously from within the
    hook's call chain. Returns None when nothing is found; callers then rely on their own
    deadline.
    """
    try:
        from starlette.requests import Request
    except ImportError:  # pragma: no cover - starlette ships with the proxy
        return None
    frame: FrameType | None = sys._getframe(1)
    try:
        for _ in range(max_depth):
            if frame is None:
                return None
            for value in frame.f_locals.values():
                if isinstance(value, Request) and value.scope.get("type") == "http":
                    return value.is_disconnected
            frame = frame.f_back
        return None
    finally:
        del frame
