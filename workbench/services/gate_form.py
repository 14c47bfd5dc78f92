"""What the Train page offers for a regression gate: the project's eval suites with the metrics
each measures (and which way is better), and attaching the chosen gate to a run it started.

gate_suites reads the metric registry (which imports the metric libraries): call it from a worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional, Union

from workbench.core.eval_records import GateRule, RunGate

if TYPE_CHECKING:
    from workbench.store import ProjectStore


@dataclass(frozen=True)
class GateMetric:
    name: str
    title: str
    higher_is_better: bool


@dataclass(frozen=True)
class GateSuite:
    suite_id: str
    title: str  # "name vN · 40 items"
    metrics: list[GateMetric]


def gate_suites(store: "ProjectStore", progress: Any = None, cancel: Any = None) -> list[GateSuite]:
    """Every suite (its newest version) with the metrics a gate can hold it to: those giving one
    number (the judge's too, not a length)."""
    from workbench.evaluation import registry

    out = []
    for suite in store.list_suites():
        metrics = []
        for spec in suite.metrics:
            try:
                metric = registry.get(spec.name)
            except Exception:  # noqa: BLE001 - a plugin's metric that is not installed here
                continue
            metrics.append(GateMetric(metric.name, metric.title, metric.higher_is_better))
        if metrics:
            out.append(GateSuite(suite.id, f"{suite.title} · {suite.item_count} items", metrics))
    return out


def gate_rule(metric: GateMetric, baseline: Union[str, float] = "base", margin: float = 0.0) -> GateRule:
    """`metric` must not get worse than `baseline` ("base": the base model's score) by more than
    `margin`: >= for a metric where higher is better, <= for one where lower is (perplexity)."""
    return GateRule(metric.name, ">=" if metric.higher_is_better else "<=", baseline, float(margin))


def attach(store: "ProjectStore", run_id: str, suite_id: str, rules: list[GateRule],
           every_checkpoint: bool = True) -> Optional[RunGate]:
    from workbench.services import eval_gate

    eval_gate.attach_gate(store, run_id, suite_id, rules, every_checkpoint=every_checkpoint)
    return store.run_gate(run_id)
