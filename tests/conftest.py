"""Settings for every test tier: the hypothesis profiles of the fuzz tests.

`make test` runs the `ci` profile: a fixed seed (the same examples on every machine, so a red run
is reproducible) and a bounded number of examples. `make fuzz` runs `long`: fresh random examples,
many more of them. Select one with `HYPOTHESIS_PROFILE`.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

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
