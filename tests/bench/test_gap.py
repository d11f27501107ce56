"""The ablation table's arithmetic: same-round differences, medians, set-ups not run left out."""

from __future__ import annotations

import pytest

from bench.stats import Slice, explain_gap, same_round_cpu_delta


def _slice(setup: str, rnd: int, cpu: float, conc: int = 64) -> Slice:
    return Slice(
        round=rnd,
        setup=setup,
        concurrency=conc,
        completed=100,
        errors=0,
        sent=100,
        elapsed_s=1.0,
        throughput_rps=100.0,
        p50_ms=1.0,
        p95_ms=1.0,
        p99_ms=1.0,
        mean_ms=1.0,
        cpu_ms_per_request=cpu,
    )


def test_differences_are_taken_within_a_round_and_their_median_reported() -> None:
    # The machine drifts between rounds (a: 5, 9, 6 ms); (b) is always (a) + 1.5 ms.
    slices = [_slice("a", r, cpu) for r, cpu in enumerate((5.0, 9.0, 6.0))] + [
        _slice("b", r, cpu + 1.5) for r, cpu in enumerate((5.0, 9.0, 6.0))
    ]
    assert same_round_cpu_delta(slices, "b", "a", 64) == pytest.approx(1.5)


def test_a_round_without_the_reference_is_not_compared() -> None:
    slices = [_slice("a", 0, 5.0), _slice("b", 0, 6.0), _slice("b", 1, 50.0)]
    assert same_round_cpu_delta(slices, "b", "a", 64) == pytest.approx(1.0)


def test_the_gap_is_measured_at_the_highest_concurrency_only() -> None:
    slices = [
        _slice("a", 0, 7.0, conc=1),
        _slice("b", 0, 10.0, conc=1),
        _slice("a", 0, 5.0),
        _slice("b", 0, 6.2),
        _slice("h", 0, 5.1),
        _slice("i", 0, 5.7),
    ]
    parts = {(g["setup"], g["minus"]): g["cpu_ms_per_request"] for g in explain_gap(slices)}
    assert parts[("b", "a")] == pytest.approx(1.2)
    assert parts[("h", "a")] == pytest.approx(0.1)
    assert parts[("i", "h")] == pytest.approx(0.6)
    assert parts[("b", "i")] == pytest.approx(0.5)
    # (d), (g), (o), (p) were not run: their lines are left out, not guessed.
    assert ("d", "a") not in parts
    assert ("b", "g") not in parts
