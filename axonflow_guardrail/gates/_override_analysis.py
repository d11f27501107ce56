"""FastAPI's analysis of overridden dependencies, done once instead of on every request.

Why: FastAPI applies `app.dependency_overrides` at request time. While any override exists,
`solve_dependencies` calls `fastapi.dependencies.utils.get_dependant` again, on every request,
for every dependency of the route and of its dependencies: `inspect.signature`, the type
hints, a pydantic field per header parameter. The route guard overrides LiteLLM's
`user_api_key_auth`, which every authenticated route depends on (chat completions twice) and
which has half a dozen header dependencies of its own: ~1 ms of worker CPU per request on the
bench's 2-core machine (py-spy, 2026-12-01), more than the guardrail's pre-check and audit
together, paid by every request, governed or not, and with AxonFlow down.

Such an analysis depends only on the callable and where it is used (the route's path, the
parameter's name, its scopes), never on the request: FastAPI analyses a dependency that is
not overridden once, when the route is defined, and reuses that `Dependant`, which it only
reads while solving. So the analyses `solve_dependencies` asks for are kept and handed back
the next time it asks for the same one; every other caller (defining a route, which goes on
to change the `Dependant` it gets) reaches FastAPI's function untouched. Nothing in FastAPI,
LiteLLM or the standard library offers this: FastAPI has no cache for overrides, and an
override is the only hook LiteLLM's auth offers.

If a FastAPI release stops analysing overrides per request this way, the wrapper is simply
not reached from there, and nothing changes.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Hashable
from types import CodeType
from typing import Any, Final

__all__ = ["analyse_once"]

#: The places a dependency is used at are bounded by the app's routes; this bounds the cache
#: even so (past it, FastAPI analyses as before).
MAX_PLACES: Final = 4096
_INSTALLED: Final = "_axonflow_analyses_once"


def analyse_once() -> bool:
    """Make FastAPI's request-time analysis of dependencies happen once per place.

    Returns True once the wrapper is in place (idempotent), False when this FastAPI has no
    `get_dependant` and `solve_dependencies` to work with.
    """
    from fastapi.dependencies import utils

    current = getattr(utils, "get_dependant", None)
    solver = getattr(getattr(utils, "solve_dependencies", None), "__code__", None)
    if current is None or not isinstance(solver, CodeType):
        return False
    if getattr(current, _INSTALLED, False):
        return True
    wrapped = cached_analysis(current, solver=solver)
    setattr(wrapped, _INSTALLED, True)
    utils.get_dependant = wrapped
    return True


def cached_analysis(get_dependant: Callable[..., Any], *, solver: CodeType) -> Callable[..., Any]:
    """`get_dependant`, remembering its answers to the function whose code is `solver`."""
    analyses: dict[Hashable, Any] = {}

    @functools.wraps(get_dependant)
    def analysed_once(*args: Any, **kwargs: Any) -> Any:
        if args or sys._getframe(1).f_code is not solver:
            return get_dependant(*args, **kwargs)
        key = _place(kwargs)
        if key is None:
            return get_dependant(**kwargs)
        found = analyses.get(key)
        if found is None:
            found = get_dependant(**kwargs)
            if len(analyses) < MAX_PLACES:
                analyses[key] = found
        return found

    return analysed_once


def _place(kwargs: dict[str, Any]) -> Hashable | None:
    """Everything `get_dependant` was given, hashable, or None if something is not."""
    items = tuple(
        sorted((name, tuple(v) if isinstance(v, list) else v) for name, v in kwargs.items())
    )
    try:
        hash(items)
    except TypeError:
        return None
    return items
