"""The README lists every metric the guardrail registers, and the Grafana dashboard in docs/
queries only metrics that exist (a renamed metric must not leave a dead panel)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import CollectorRegistry

from axonflow_guardrail.observe._prometheus import MetricFamilies

ROOT = Path(__file__).resolve().parents[3]
SUFFIXES = ("_total", "_bucket", "_count", "_sum", "_created")


def exposed_names() -> set[str]:
    """Every family as `/metrics` names it (counters with `_total`)."""
    registry = CollectorRegistry()
    MetricFamilies(registry, multiprocess=False)
    names = set()
    for family in registry.collect():
        names.add(family.name + ("_total" if family.type == "counter" else ""))
    return names


def test_the_readme_lists_every_metric() -> None:
    readme = (ROOT / "README.md").read_text()
    listed = set(re.findall(r"`(axonflow_guardrail_\w+)`", readme))
    assert exposed_names() <= listed, exposed_names() - listed


def test_the_dashboard_queries_only_real_metrics() -> None:
    dashboard = json.loads((ROOT / "docs" / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {name for expr in exprs for name in re.findall(r"axonflow_guardrail_\w+", expr)}
    known = {name.removesuffix("_total") for name in exposed_names()}
    bases = {next((n.removesuffix(s) for s in SUFFIXES if n.endswith(s)), n) for n in used}
    assert bases <= known, bases - known
    assert len(used) >= 8
