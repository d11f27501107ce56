"""FastAPI analyses an overridden dependency once per route, and still solves it per request.

A real FastAPI app over httpx's ASGI transport: a stand-in for LiteLLM's auth dependency
(the request, a header and a security scheme of its own), overridden by a wrapper as the
route guard does.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Header, Request, Security
from fastapi.dependencies import utils
from fastapi.security import APIKeyHeader

from axonflow_guardrail.gates import _override_analysis
from axonflow_guardrail.gates._override_analysis import analyse_once, cached_analysis

team_header = APIKeyHeader(name="x-team", auto_error=False)


async def auth(
    request: Request,
    api_key: str = Header(alias="x-api-key"),
    team: str | None = Security(team_header),
) -> str:
    return f"{request.url.path}:{api_key}:{team}"


def guarded(original: Callable[..., Awaitable[str]]) -> Callable[..., Any]:
    @functools.wraps(original)
    async def guard(*args: Any, **kwargs: Any) -> str:
        return "guarded " + await original(*args, **kwargs)

    return guard


def app_with(override: Callable[..., Any]) -> FastAPI:
    app = FastAPI()

    @app.post("/one")
    async def one(who: str = Depends(auth)) -> str:
        return who

    @app.post("/two")
    async def two(who: str = Depends(auth)) -> str:
        return who

    app.dependency_overrides[auth] = override
    return app


@pytest.fixture
def analyses(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """FastAPI's own `get_dependant`, counting its analyses while requests are solved."""
    counted: Counter[str] = Counter()
    fastapi_get_dependant = utils.get_dependant

    def counting(**kwargs: Any) -> Any:
        if kwargs["call"] is team_header:
            counted[f"{kwargs['path']} security"] += 1
        elif kwargs["call"] is not auth:  # the routes' own analysis of `auth` is not counted
            counted[f"{kwargs['path']} guard"] += 1
        return fastapi_get_dependant(**kwargs)

    monkeypatch.setattr(utils, "get_dependant", counting)
    return counted


def cache_fastapis_analyses(monkeypatch: pytest.MonkeyPatch) -> None:
    solver = utils.solve_dependencies.__code__
    monkeypatch.setattr(utils, "get_dependant", cached_analysis(utils.get_dependant, solver=solver))


async def post_each(app: FastAPI, times: int) -> list[str]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answers = []
        for i in range(times):
            for path in ("/one", "/two"):
                headers = {"x-api-key": f"k{i}", "x-team": f"t{i}"}
                response = await client.post(path, headers=headers)
                assert response.status_code == 200, response.text
                answers.append(response.json())
        return answers


async def test_fastapi_redoes_the_analysis_of_an_override_on_every_request(
    analyses: Counter[str],
) -> None:
    """Why the module exists: without it, every request pays the analysis of the override and
    of what it depends on."""
    app = app_with(guarded(auth))
    analyses.clear()  # the routes' definition
    await post_each(app, 5)
    # The security scheme twice: within the guard's analysis, and when solving the guard.
    assert analyses == {
        "/one guard": 5,
        "/two guard": 5,
        "/one security": 10,
        "/two security": 10,
    }


async def test_analysed_once_per_route_and_solved_per_request(
    analyses: Counter[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cache_fastapis_analyses(monkeypatch)
    app = app_with(guarded(auth))
    analyses.clear()
    answers = await post_each(app, 5)
    assert analyses == {
        "/one guard": 1,
        "/two guard": 1,
        "/one security": 2,
        "/two security": 2,
    }
    # The request, the header and the security scheme are read afresh each time: only the
    # analysis is kept.
    assert answers == [f"guarded /{p}:k{i}:t{i}" for i in range(5) for p in ("one", "two")]


async def test_a_new_override_is_analysed_afresh(
    analyses: Counter[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cache_fastapis_analyses(monkeypatch)
    app = app_with(guarded(auth))
    await post_each(app, 2)
    app.dependency_overrides[auth] = guarded(auth)
    analyses.clear()
    assert await post_each(app, 2) == [
        f"guarded /{p}:k{i}:t{i}" for i in range(2) for p in ("one", "two")
    ]
    assert analyses["/one guard"] == analyses["/two guard"] == 1


def test_other_callers_get_a_fresh_analysis(monkeypatch: pytest.MonkeyPatch) -> None:
    """FastAPI changes the `Dependant` a route definition gets: each caller but the request's
    solver must get its own."""
    cache_fastapis_analyses(monkeypatch)
    first = utils.get_dependant(path="/one", call=auth, name="who")
    second = utils.get_dependant(path="/one", call=auth, name="who")
    assert first is not second
    assert first == second


async def test_past_the_bound_fastapi_analyses_as_before(
    analyses: Counter[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_override_analysis, "MAX_PLACES", 1)
    cache_fastapis_analyses(monkeypatch)
    app = app_with(guarded(auth))
    analyses.clear()
    answers = await post_each(app, 3)
    assert answers == [f"guarded /{p}:k{i}:t{i}" for i in range(3) for p in ("one", "two")]
    assert 6 < sum(analyses.values()) < 3 * 2 * 3  # some kept, not all


def test_installing_is_idempotent(monkeypatch: pytest.MonkeyPatch) -> None:
    fastapi_get_dependant = utils.get_dependant
    monkeypatch.setattr(utils, "get_dependant", fastapi_get_dependant)
    assert analyse_once() is True
    installed = utils.get_dependant
    assert installed is not fastapi_get_dependant
    assert analyse_once() is True
    assert utils.get_dependant is installed
