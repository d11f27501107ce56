"""What every test tier shares: the hypothesis profiles of the fuzz tests, and a real Redis
(pytest-redis) when proxies run several workers.

`make test` runs the `ci` profile: a fixed seed (the same examples on every machine, so a red run
is reproducible) and a bounded number of examples. `make fuzz` runs `long`: fresh random examples,
many more of them. Select one with `HYPOTHESIS_PROFILE`.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from tests.support.proxy import PROXY_WORKERS

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=300,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "long",
    deadline=None,
    max_examples=5_000,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


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
