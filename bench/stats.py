"""Numbers from slices: percentiles, medians of rounds, same-round ratios, the budget.

Why same-round ratios: this machine is shared and noisy, so absolute times drift between
minutes. Each round runs every set-up back to back (in a rotating order), so a ratio taken
within a round compares set-ups under the same conditions; the reported figure is the
median of those per-round ratios, never a ratio of numbers from different moments.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "BudgetLine",
    "Slice",
    "Summary",
    "evaluate_budget",
    "explain_gap",
    "percentile",
    "same_round_cpu_delta",
    "summarise",
]


def percentile(ordered: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending sequence (NaN when empty)."""
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), int(-(-pct * len(ordered) // 100))))
    return float(ordered[rank - 1])


def _median(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None and v == v]  # drop None and NaN
    return statistics.median(present) if present else None


@dataclass(slots=True)
class Slice:
    """One set-up at one concurrency in one round."""

    round: int
    setup: str
    concurrency: int
    completed: int
    errors: int
    sent: int
    elapsed_s: float
    throughput_rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    #: Proxy worker CPU (user + system, all threads) per request sent, in ms.
    cpu_ms_per_request: float | None
    #: The dev agent's own service time (handler entry to response ready), p50, in ms.
    agent_pre_check_p50_ms: float | None = None
    agent_audit_p50_ms: float | None = None
    #: Calls the agent received per request sent (1.0 = every request governed).
    agent_pre_checks_per_request: float | None = None
    agent_audits_per_request: float | None = None
    error_samples: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class Summary:
    """Medians over rounds for one set-up at one concurrency, plus ratios against (a)."""

    setup: str
    concurrency: int
    rounds: int
    requests: int
    errors: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    throughput_rps: float | None
    cpu_ms_per_request: float | None
    agent_pre_check_p50_ms: float | None
    agent_audit_p50_ms: float | None
    agent_pre_checks_per_request: float | None
    agent_audits_per_request: float | None
    #: Medians of same-round comparisons with set-up (a); None for (a) itself.
    throughput_vs_a: float | None = None
    p50_vs_a: float | None = None
    p99_vs_a: float | None = None
    p50_delta_ms: float | None = None
    #: p50 delta minus the agent's pre-check service time: what the proxy side adds.
    p50_overhead_ms: float | None = None
    cpu_delta_ms: float | None = None
    #: (e) against (b), same rounds.
    p50_vs_b: float | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def summarise(slices: Sequence[Slice]) -> dict[int, dict[str, Summary]]:
    """`{concurrency: {setup: Summary}}` from every slice of the run."""
    by_key: dict[tuple[int, str], list[Slice]] = {}
    for s in slices:
        by_key.setdefault((s.concurrency, s.setup), []).append(s)
    index = {(s.concurrency, s.setup, s.round): s for s in slices}

    def paired(conc: int, setup: str, other: str, fn: Any) -> float | None:
        values = []
        for s in by_key.get((conc, setup), []):
            ref = index.get((conc, other, s.round))
            if ref is not None:
                values.append(fn(s, ref))
        return _median(values)

    out: dict[int, dict[str, Summary]] = {}
    for (conc, setup), group in sorted(by_key.items()):
        summary = Summary(
            setup=setup,
            concurrency=conc,
            rounds=len(group),
            requests=sum(s.completed for s in group),
            errors=sum(s.errors for s in group),
            p50_ms=_median(s.p50_ms for s in group),
            p95_ms=_median(s.p95_ms for s in group),
            p99_ms=_median(s.p99_ms for s in group),
            throughput_rps=_median(s.throughput_rps for s in group),
            cpu_ms_per_request=_median(s.cpu_ms_per_request for s in group),
            agent_pre_check_p50_ms=_median(s.agent_pre_check_p50_ms for s in group),
            agent_audit_p50_ms=_median(s.agent_audit_p50_ms for s in group),
            agent_pre_checks_per_request=_median(s.agent_pre_checks_per_request for s in group),
            agent_audits_per_request=_median(s.agent_audits_per_request for s in group),
        )
        if setup != "a":
            summary.throughput_vs_a = paired(
                conc, setup, "a", lambda s, r: _ratio(s.throughput_rps, r.throughput_rps)
            )
            summary.p50_vs_a = paired(conc, setup, "a", lambda s, r: _ratio(s.p50_ms, r.p50_ms))
            summary.p99_vs_a = paired(conc, setup, "a", lambda s, r: _ratio(s.p99_ms, r.p99_ms))
            summary.p50_delta_ms = paired(conc, setup, "a", lambda s, r: s.p50_ms - r.p50_ms)
            summary.p50_overhead_ms = paired(
                conc,
                setup,
                "a",
                lambda s, r: s.p50_ms - r.p50_ms - (s.agent_pre_check_p50_ms or 0.0),
            )
            summary.cpu_delta_ms = paired(
                conc,
                setup,
                "a",
                lambda s, r: (
                    None
                    if s.cpu_ms_per_request is None or r.cpu_ms_per_request is None
                    else s.cpu_ms_per_request - r.cpu_ms_per_request
                ),
            )
        if setup == "e":
            summary.p50_vs_b = paired(conc, setup, "b", lambda s, r: _ratio(s.p50_ms, r.p50_ms))
        out.setdefault(conc, {})[setup] = summary
    return out


def _ratio(value: float, reference: float) -> float | None:
    return value / reference if reference else None


@dataclass(slots=True)
class BudgetLine:
    key: str
    text: str
    measured: str
    passed: bool | None  # None: not measured in this run

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def evaluate_budget(
    summaries: Mapping[int, Mapping[str, Summary]],
    slices: Sequence[Slice],
    memory: Mapping[str, Any] | None,
    baseline_memory: Mapping[str, Any] | None = None,
) -> list[BudgetLine]:
    """The issue's budget, line by line, from this run's medians.

    Throughput is judged at the highest concurrency (the proxy is saturated there, so
    throughput is what the proxy can do); latency at the lowest (unsaturated, so p50 is the
    time one request takes, not time spent queueing behind others).
    """
    levels = sorted(summaries)
    lines: list[BudgetLine] = []
    if not levels:
        return lines
    low, high = levels[0], levels[-1]

    def get(conc: int, setup: str) -> Summary | None:
        return summaries.get(conc, {}).get(setup)

    b_hi, b_lo = get(high, "b"), get(low, "b")
    d_hi, d_lo = get(high, "d"), get(low, "d")

    tput = b_hi.throughput_vs_a if b_hi else None
    lines.append(
        BudgetLine(
            "b_throughput",
            f"(b) throughput >= 90 % of (a) (concurrency {high})",
            _pct(tput),
            None if tput is None else tput >= 0.90,
        )
    )
    cpu = b_hi.cpu_delta_ms if b_hi else None
    a_hi = get(high, "a")
    lines.append(
        BudgetLine(
            "b_cpu",
            f"(b) worker CPU per request - (a)'s <= 1.0 ms (concurrency {high})",
            _ms(cpu)
            + (
                f" ({_num(b_hi.cpu_ms_per_request)} ms vs (a) {_num(a_hi.cpu_ms_per_request)} ms)"
                if b_hi and a_hi
                else ""
            ),
            None if cpu is None else cpu <= 1.0,
        )
    )
    over = b_lo.p50_overhead_ms if b_lo else None
    lines.append(
        BudgetLine(
            "b_p50_overhead",
            f"(b) p50 - (a) p50 - agent pre-check service time <= 1.5 ms (concurrency {low})",
            _ms(over)
            + (
                f" (p50 delta {_ms(b_lo.p50_delta_ms)}, agent {_ms(b_lo.agent_pre_check_p50_ms)})"
                if b_lo
                else ""
            ),
            None if over is None else over <= 1.5,
        )
    )
    lines.append(_peer_line(slices, levels))
    if d_hi:
        d_tput = d_hi.throughput_vs_a
        lines.append(
            BudgetLine(
                "d_outage",
                f"(d) throughput >= 98 % of (a) (concurrency {high})",
                _pct(d_tput) + (f"; p50 at {low}: {_pct(d_lo.p50_vs_a)} of (a)" if d_lo else ""),
                None if d_tput is None else d_tput >= 0.98,
            )
        )
    else:
        lines.append(BudgetLine("d_outage", "(d) throughput >= 98 % of (a)", "not run", None))
    e_ratios = [(conc, get(conc, "e")) for conc in levels]
    measured = [(conc, s.p50_vs_b) for conc, s in e_ratios if s and s.p50_vs_b is not None]
    if measured:
        worst = max(r for _, r in measured)
        lines.append(
            BudgetLine(
                "e_audit_delay",
                "(e) p50 within 5 % of (b) (every concurrency)",
                ", ".join(f"{_pct(r)} at {conc}" for conc, r in measured),
                worst <= 1.05,
            )
        )
    else:
        lines.append(BudgetLine("e_audit_delay", "(e) p50 within 5 % of (b)", "not run", None))
    if memory and memory.get("growth_mb") is not None:
        growth = float(memory["growth_mb"])
        lines.append(
            BudgetLine(
                "memory",
                f"proxy worker RSS growth over {memory['requests']:,} governed requests < 10 MB",
                f"{growth:+.1f} MB ({memory['rss_start_mb']:.1f} -> {memory['rss_end_mb']:.1f})"
                + (
                    f"; (a), same traffic: {float(baseline_memory['growth_mb']):+.1f} MB"
                    if baseline_memory and baseline_memory.get("growth_mb") is not None
                    else ""
                ),
                growth < 10.0,
            )
        )
    else:
        lines.append(BudgetLine("memory", "memory flat (< 10 MB growth)", "not run", None))
    return lines


def same_round_cpu_delta(
    slices: Sequence[Slice], setup: str, other: str, conc: int
) -> float | None:
    """Median over rounds of `setup`'s worker CPU per request minus `other`'s, same round."""
    index = {(s.setup, s.round): s for s in slices if s.concurrency == conc}
    values: list[float | None] = []
    for (key, rnd), s in index.items():
        ref = index.get((other, rnd))
        if key != setup or ref is None:
            continue
        if s.cpu_ms_per_request is not None and ref.cpu_ms_per_request is not None:
            values.append(s.cpu_ms_per_request - ref.cpu_ms_per_request)
    return _median(values)


#: (label, set-up, minus set-up, what would remove it): the ablation of (b)'s and (d)'s added
#: worker CPU, each a median of same-round differences at the highest concurrency.
GAP_PARTS: tuple[tuple[str, str, str, str], ...] = (
    (
        "(b) - (a): what governance adds, in all",
        "b",
        "a",
        "",
    ),
    (
        "(h) - (a): LiteLLM's dispatch of any guardrail (hooks that return at once)",
        "h",
        "a",
        "LiteLLM's own code: not the guardrail's to remove",
    ),
    (
        "(i) - (h): the guardrail's Python (reading the request, identity, call state, the "
        "SDK's request and answer objects, the outbox, LiteLLM's record) and its garbage",
        "i",
        "h",
        "fewer objects per call; the SDK's pydantic models and httpx objects are most of it",
    ),
    (
        "(b) - (i): the HTTP exchanges of the pre-check and the audit (connections, sockets)",
        "b",
        "i",
        "a batch audit route in AxonFlow and the SDK (one exchange per many audits); the "
        "exchange itself is near its floor (`python -m bench.call_cost`)",
    ),
    (
        "(b) - (g): of all that, delivering the audit in the worker (SDK call and HTTP)",
        "b",
        "g",
        "`audit_shipper: external` (an `axonflow-guardrail ship-audits` process beside the "
        "proxy), which the operator chooses",
    ),
    (
        "(d) - (a): AxonFlow down, breaker open (fail-open pass, its outbox record)",
        "d",
        "a",
        "",
    ),
    (
        "(d) - (h): of that, the guardrail's own fail-open pass (identity, reading the "
        "request, call state, the outbox write for the retroactive audit)",
        "d",
        "h",
        "writing the request once for the retroactive audit is what keeps an outage governed",
    ),
    (
        "(o) - (a): a bare proxy with opentelemetry-sdk installed",
        "o",
        "a",
        "",
    ),
    (
        "(p) - (o): governance, with opentelemetry-sdk installed in both",
        "p",
        "o",
        "",
    ),
)


def explain_gap(slices: Sequence[Slice]) -> list[dict[str, Any]]:
    """The ablation table: where (b)'s and (d)'s added CPU goes (set-ups not run are left out)."""
    if not slices:
        return []
    high = max(s.concurrency for s in slices)
    rows: list[dict[str, Any]] = []
    for label, setup, other, remedy in GAP_PARTS:
        delta = same_round_cpu_delta(slices, setup, other, high)
        if delta is None:
            continue
        rows.append(
            {
                "part": label,
                "setup": setup,
                "minus": other,
                "concurrency": high,
                "cpu_ms_per_request": delta,
                "what_would_remove_it": remedy,
            }
        )
    return rows


#: The peer counts as governing in a slice when the agent saw a pre-check for (nearly) every
#: request; below that it was failing open, and its "overhead" is that of not governing.
PEER_GOVERNING = 0.95


def _peer_line(slices: Sequence[Slice], levels: Sequence[int]) -> BudgetLine:
    """(b) against (c), like for like: only rounds in which the peer really governed.

    The peer fails open when its calls time out or its breaker opens, and then costs
    nothing because it does nothing; comparing with those slices would reward not
    governing. Overhead is the same-round p50 delta and worker CPU delta against (a).
    """
    index = {(s.setup, s.concurrency, s.round): s for s in slices}
    compared: list[str] = []
    skipped: list[str] = []
    verdicts: list[bool] = []
    for conc in levels:
        rows = []
        fractions = []
        for (setup, level, rnd), peer in index.items():
            if setup != "c" or level != conc:
                continue
            fractions.append(peer.agent_pre_checks_per_request or 0.0)
            a, b = index.get(("a", conc, rnd)), index.get(("b", conc, rnd))
            if a is None or b is None or (peer.agent_pre_checks_per_request or 0) < PEER_GOVERNING:
                continue
            rows.append(
                (
                    b.p50_ms - a.p50_ms,
                    peer.p50_ms - a.p50_ms,
                    (b.cpu_ms_per_request or 0.0) - (a.cpu_ms_per_request or 0.0),
                    (peer.cpu_ms_per_request or 0.0) - (a.cpu_ms_per_request or 0.0),
                )
            )
        if not fractions:
            continue
        if not rows:
            skipped.append(f"{conc} (peer governed {statistics.median(fractions):.0%})")
            continue
        b_lat, c_lat, b_cpu, c_cpu = (statistics.median(col) for col in zip(*rows, strict=True))
        verdicts.append(b_lat <= c_lat and b_cpu <= c_cpu)
        compared.append(
            f"at {conc} ({len(rows)} rounds): p50 delta (b) {_ms(b_lat)} vs (c) {_ms(c_lat)}, "
            f"CPU/request delta (b) {_ms(b_cpu)} vs (c) {_ms(c_cpu)}"
        )
    text = "(b) overhead <= (c) overhead, where (c) governs (p50 and CPU delta vs (a))"
    if not compared and not skipped:
        return BudgetLine("b_vs_peer", text, "not run", None)
    measured = "; ".join(compared) or "the peer governed no slice: no like-for-like comparison"
    if skipped:
        measured += "; not comparable at " + ", ".join(skipped)
    return BudgetLine("b_vs_peer", text, measured, all(verdicts) if verdicts else None)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.2f} ms"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"
