"""The chart on the metrics of real tiny training runs (the Runs page's session-trained
project, tests/ui/runs/conftest.py), as services.run_metrics loads them."""

from __future__ import annotations

import numpy as np

from workbench.services.run_metrics import load_metrics
from workbench.ui.runs.charts.metric_chart import ChartRun, MetricChart


def curve(chart, run_id, role):
    return next(c for c in chart._curves if c.run_id == run_id and c.spec.role == role)


def test_overlay_of_three_real_runs_names_each_run_in_the_legend(qtbot, trained_runs_master):
    chart = MetricChart()
    chart.resize(800, 400)
    qtbot.addWidget(chart)
    chart.show()
    qtbot.waitExposed(chart)
    ids = trained_runs_master.ids
    chart.set_runs([ChartRun(run_id, name) for name, run_id in ids.items()])
    for run_id in ids.values():
        chart.load(run_id, load_metrics(trained_runs_master.path, run_id))
    qtbot.waitUntil(lambda: chart.built and chart.redraws > 0, timeout=10000)
    assert [label.text for _sample, label in chart.legend.items] == list(ids)
    for run_id in ids.values():
        x, y = curve(chart, run_id, "smoothed").drawn()
        assert len(x) > 0 and np.all(np.isfinite(y))
        ex, _ey = curve(chart, run_id, "eval").drawn()
        assert len(ex) > 0  # the runs evaluate on a split
    colors = {c.color for c in chart._curves if c.spec.role == "smoothed"}
    assert len(colors) == 3
    assert chart._layout.currentWidget() is chart.plot_widget
