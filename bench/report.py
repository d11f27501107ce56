"""The run's outputs: the console table, `latest.json`, `latest.md` and `latest.png`.

The JSON is the record (every slice of every round is in it, so any figure can be recomputed);
the Markdown is what the README quotes; the chart shows the latency distributions (one panel
per concurrency) and the proxy worker's RSS during the memory phase.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.setups import Setup
from bench.stats import BudgetLine, Summary

__all__ = ["draw_chart", "main", "render_markdown", "render_table", "write_json"]

_HEADERS = (
    "set-up",
    "conc",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "req/s",
    "req/s vs a",
    "p50 vs a",
    "Δp50 ms",
    "agent ms",
    "overhead ms",
    "CPU ms/req",
    "checks/req",
    "audits/req",
)


def _f(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def _rows(
    summaries: Mapping[int, Mapping[str, Summary]], setups: Sequence[Setup]
) -> list[list[str]]:
    rows: list[list[str]] = []
    for conc in sorted(summaries):
        for setup in setups:
            s = summaries[conc].get(setup.key)
            if s is None:
                continue
            rows.append(
                [
                    setup.label,
                    str(conc),
                    _f(s.p50_ms, ".2f"),
                    _f(s.p95_ms, ".2f"),
                    _f(s.p99_ms, ".2f"),
                    _f(s.throughput_rps, ".1f"),
                    "-" if s.throughput_vs_a is None else f"{100 * s.throughput_vs_a:.1f} %",
                    "-" if s.p50_vs_a is None else f"{100 * s.p50_vs_a:.1f} %",
                    _f(s.p50_delta_ms, "+.2f"),
                    _f(s.agent_pre_check_p50_ms, ".3f"),
                    _f(s.p50_overhead_ms, "+.2f"),
                    _f(s.cpu_ms_per_request, ".2f"),
                    _f(s.agent_pre_checks_per_request, ".2f"),
                    _f(s.agent_audits_per_request, ".2f"),
                ]
            )
    return rows


def render_table(
    summaries: Mapping[int, Mapping[str, Summary]],
    setups: Sequence[Setup],
    budget: Sequence[BudgetLine],
    gap: Sequence[Mapping[str, Any]] = (),
) -> str:
    """A plain-text table for the console (medians of rounds; ratios are same-round)."""
    rows = [list(_HEADERS), *_rows(summaries, setups)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(_HEADERS))]
    lines = []
    for n, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.append("")
    lines.append("Budget:")
    for line in budget:
        mark = {True: "PASS", False: "FAIL", None: "----"}[line.passed]
        lines.append(f"  [{mark}] {line.text}: {line.measured}")
    if gap:
        lines.append("")
        lines.append(f"Where the added CPU goes (concurrency {gap[0]['concurrency']}, ablation):")
        for part in gap:
            lines.append(f"  {part['cpu_ms_per_request']:+6.2f} ms  {part['part']}")
    return "\n".join(lines)


def render_markdown(result: Mapping[str, Any], setups: Sequence[Setup]) -> str:
    """`latest.md`: machine, command, the table, the budget and the memory phase."""
    from bench.stats import BudgetLine, Summary

    summaries = {
        int(conc): {k: Summary(**v) for k, v in per.items()}
        for conc, per in result["summary"].items()
    }
    budget = [BudgetLine(**b) for b in result["budget"]]
    m = result["machine"]
    cfg = result["config"]
    out = [
        "# Benchmark results",
        "",
        f"Produced by `{result['command']}` on {result['finished_at']} "
        f"({result['duration_s'] / 60:.1f} min, mode `{cfg['mode']}`).",
        "",
        f"- Machine: {m['cpu_model']}, {m['cpus']} cores, {m['memory_gib']:.0f} GiB, "
        f"{m['platform']}",
        f"- Python {m['python']}, litellm {m['litellm']}, axonflow {m['axonflow']}, "
        f"axonflow-litellm {m['axonflow_litellm']}, axonflow-guardrail {m['axonflow_guardrail']}",
        f"- Pinning: {m['pinning']}",
        "- Baseline: "
        + (
            "equal terms: every proxy, (a) included, caches LiteLLM's failing OTel import as "
            "the guardrail does in its own (bench/equal_otel), so ratios show governance only"
            if cfg.get("equal_otel")
            else "as shipped (`--as-shipped`): only the guardrail's proxies cache LiteLLM's "
            "failing OTel import, which flatters (b)-(e)"
        ),
        "- opentelemetry-sdk: "
        + (
            "installed in every proxy (`--otel-sdk`): LiteLLM's OTel import succeeds"
            if cfg.get("otel_sdk")
            else "not installed (as `litellm[proxy]` ships)"
        ),
        f"- Load: closed loop, keep-alive, {cfg['rounds']} interleaved rounds x "
        f"{cfg['duration_s']:g} s per set-up and concurrency (rotating order), "
        f"concurrency {', '.join(map(str, cfg['concurrency']))}; figures are medians of "
        "rounds, ratios are medians of same-round ratios.",
        "",
        "| " + " | ".join(_HEADERS) + " |",
        "|" + "|".join("---" if i == 0 else "---:" for i in range(len(_HEADERS))) + "|",
    ]
    out += ["| " + " | ".join(r) + " |" for r in _rows(summaries, setups)]
    out += [
        "",
        "Columns: *agent ms* is the dev agent's own pre-check service time (p50, server side); "
        "*overhead ms* is Δp50 minus that; *CPU ms/req* is the proxy worker's CPU time per "
        "request; *checks/req* and *audits/req* are the calls the agent received per request "
        "sent (1.00: every request governed).",
        "",
        "## Budget",
        "",
        "| | line | measured |",
        "|---|---|---|",
    ]
    for line in budget:
        mark = {True: "✅ pass", False: "❌ fail", None: "- not run"}[line.passed]
        out.append(f"| {mark} | {line.text} | {line.measured} |")
    gap = result.get("ablation") or []
    if gap:
        out += [
            "",
            "## Where the added CPU goes (ablation)",
            "",
            f"Worker CPU per request at concurrency {gap[0]['concurrency']}, medians of "
            "same-round differences between set-ups (bench/ablation.py, bench/stats.py "
            "`GAP_PARTS`).",
            "",
            "| part | ms per request | what would remove it |",
            "|---|---:|---|",
        ]
        out += [
            f"| {g['part']} | {g['cpu_ms_per_request']:+.2f} | {g['what_would_remove_it']} |"
            for g in gap
        ]
    memories = result.get("memory") or {}
    if memories:
        out += ["", "## Memory", ""]
        for key, memory in memories.items():
            out.append(
                f"- Set-up ({key}), concurrency {memory['concurrency']}: after "
                f"{memory['warmup']:,} warm-up requests the proxy worker's RSS was "
                f"{memory['rss_start_mb']:.1f} MB; after {memory['requests']:,} more requests "
                f"({memory['duration_s']:.0f} s) it was {memory['rss_end_mb']:.1f} MB (growth "
                f"{memory['growth_mb']:+.1f} MB, of which "
                f"{memory['growth_second_half_mb']:+.1f} MB in the second half; "
                f"peak {memory['rss_peak_mb']:.1f} MB; threads "
                f"{memory['threads_start']} -> {memory['threads_end']})."
            )
    notes = result.get("notes") or []
    if notes:
        out += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    return "\n".join(out) + "\n"


def _clean(value: Any) -> Any:
    """NaN (a set-up with no answer in a slice) is not JSON: write null."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, Mapping):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def write_json(result: Mapping[str, Any], path: Path) -> None:
    path.write_text(json.dumps(_clean(result), indent=2, allow_nan=False) + "\n")


def draw_chart(
    latencies: Mapping[int, Mapping[str, Sequence[int]]],
    memory_traces: Mapping[str, Sequence[tuple[int, float]]],
    setups: Sequence[Setup],
    path: Path,
    *,
    title: str,
) -> None:
    """Latency CDFs (log scale) per concurrency, and RSS over the memory phase."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

    levels = sorted(latencies)
    panels = len(levels) + (1 if memory_traces else 0)
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 4.4), squeeze=False)
    colours = {"a": "#444444", "b": "#1f77b4", "c": "#ff7f0e", "d": "#2ca02c", "e": "#9467bd"}
    for ax, conc in zip(axes[0], levels, strict=False):
        for setup in setups:
            samples = latencies[conc].get(setup.key)
            if not samples:
                continue
            ordered = sorted(samples)
            n = len(ordered)
            xs = [v / 1000 for v in ordered]
            ys = [(i + 1) / n for i in range(n)]
            ax.plot(xs, ys, label=setup.label, color=colours.get(setup.key), linewidth=1.4)
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("latency (ms, log scale)")
        ax.set_ylabel("fraction of requests")
        ax.set_title(f"concurrency {conc}")
        ax.grid(True, which="both", alpha=0.3)
        for q in (0.5, 0.99):
            ax.axhline(q, color="grey", linewidth=0.6, linestyle=":")
        ax.legend(fontsize=7, loc="lower right")
    if memory_traces:
        ax = axes[0][-1]
        for key, trace in memory_traces.items():
            label = next((s.label for s in setups if s.key == key), key)
            ax.plot(
                [n for n, _ in trace],
                [mb for _, mb in trace],
                marker=".",
                color=colours.get(key),
                label=label,
            )
        ax.set_xlabel("requests after warm-up")
        ax.set_ylabel("proxy worker RSS (MB)")
        ax.set_title("memory")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    """Redraw `latest.md` and `latest.png` from a run's JSON and raw samples, without
    measuring again: `python -m bench.report [DIR]` (default bench/results)."""
    import argparse

    from bench.setups import ALL_SETUPS

    parser = argparse.ArgumentParser(prog="python -m bench.report", description=main.__doc__)
    parser.add_argument("out", nargs="?", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    result = json.loads((args.out / "latest.json").read_text())
    setups = [s for s in ALL_SETUPS if s.key in result["config"]["setups"]]
    if result.get("slices"):
        # Derived from the slices, so its wording follows bench/stats.py; the figures do not move.
        from bench.stats import Slice, explain_gap

        result["ablation"] = explain_gap([Slice(**s) for s in result["slices"]])
        write_json(result, args.out / "latest.json")
    (args.out / "latest.md").write_text(render_markdown(result, setups))
    samples_path = args.out / "tmp" / "samples.json"
    if samples_path.exists():
        samples = json.loads(samples_path.read_text())
        latencies = {int(c): per for c, per in samples["latencies_us"].items()}
        traces = {
            k: [(int(n), float(mb)) for n, mb in v] for k, v in samples["memory_traces"].items()
        }
        m = result["machine"]
        draw_chart(
            latencies,
            traces,
            setups,
            args.out / "latest.png",
            title=f"{result['command']} - {m['cpu_model']}, {m['cpus']} cores - "
            f"{result['finished_at']}",
        )
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
