"""Fixtures every tier shares: a real Redis (pytest-redis) when proxies run several workers."""

from __future__ import annotations

import os

import pytest

from tests.support.proxy import PROXY_WORKERS


@pytest.fixture(scope="session")
def redis_url(redis_proc: object) -> str:
    """A real `redis-server` (pytest-redis starts and stops it) for the proxies' shared cache."""
    url = f"redis://{redis_proc.host}:{redis_proc.port}"  # type: ignore[attr-defined]
    os.environ["AXONFLOW_TEST_REDIS_URL"] = url
    return url


@pytest.fixture(scope="session", autouse=True)
def _workers_share_redis(request: pytest.FixtureRequest) -> None:
    """`make workers`: every proxy of the end-to-end core runs several workers on one Redis."""
    if PROXY_WORKERS > 1:
        request.getfixturevalue("redis_url")
