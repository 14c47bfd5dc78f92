"""What the Runs page remembers per project (ui/common/settings.py, keyed by project id): the
selected runs, the runs pinned for comparison, the chart's choices (metric, x axis, log scale,
smoothing), the lower tab, the table's sort, column widths and order, and the splitter sizes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Optional

from workbench.ui.common import settings

VIEW = "runs_page"


def _ids(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _sizes(value: Any) -> dict[str, list[int]]:
    if not isinstance(value, dict):
        return {}
    out = {}
    for name, sizes in value.items():
        if isinstance(sizes, list) and all(isinstance(s, int) and s >= 0 for s in sizes):
            out[str(name)] = list(sizes)
    return out


@dataclass
class RunsViewState:
    selected: list[str] = field(default_factory=list)  # run ids, the current one first
    compared: list[str] = field(default_factory=list)  # run ids pinned with Compare (overlaid)
    chart: dict[str, Any] = field(default_factory=dict)  # MetricChart.view_state()
    tab: str = ""  # the lower tab's name
    sort_column: str = ""  # a table_model column key; "" keeps the newest-first order
    sort_descending: bool = False
    splitters: dict[str, list[int]] = field(default_factory=dict)
    columns: str = ""  # the table header's state (column widths and order), base64

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunsViewState":
        """Whatever a saved state holds that still makes sense (older or hand-edited ones too)."""
        return cls(selected=_ids(d.get("selected")), compared=_ids(d.get("compared")),
                   chart=d["chart"] if isinstance(d.get("chart"), dict) else {},
                   tab=str(d.get("tab") or ""), sort_column=str(d.get("sort_column") or ""),
                   sort_descending=bool(d.get("sort_descending")), splitters=_sizes(d.get("splitters")),
                   columns=d["columns"] if isinstance(d.get("columns"), str) else "")


def load(project_id: Optional[str]) -> RunsViewState:
    return RunsViewState.from_dict(settings.project_view(project_id, VIEW)) if project_id else RunsViewState()


def save(project_id: Optional[str], state: RunsViewState) -> None:
    if project_id:
        settings.set_project_view(project_id, VIEW, asdict(state))


def restore_sizes(splitters: dict[str, Any], saved: dict[str, list[int]]) -> None:
    """Each QSplitter's saved sizes, where they still fit it (as many parts, not all zero)."""
    for name, splitter in splitters.items():
        sizes = saved.get(name)
        if sizes and len(sizes) == splitter.count() and sum(sizes) > 0:
            splitter.setSizes(sizes)


def capture(page: Any) -> RunsViewState:
    """The Runs page's view now (ui/runs/page.py RunsPage)."""
    from workbench.ui.runs.page import TABS

    sort_column, descending = page.table.sort_state()
    current = page.selected_run()
    selected = [r.id for r in page.selected_runs()]
    if current is not None:
        selected = [current.id] + [i for i in selected if i != current.id]
    return RunsViewState(
        selected=selected, compared=list(page._compared), chart=page.charts.view_state(),
        tab=TABS[page.tabs.currentIndex()],
        sort_column=sort_column, sort_descending=descending, columns=page.table.columns_state(),
        splitters={"main": page.splitter.sizes(), "lower": page.lower.sizes()})


def apply(page: Any, state: RunsViewState) -> None:
    """Put the Runs page back as `state` left it (runs gone since are skipped)."""
    from workbench.ui.runs.page import TABS

    page.table.restore_columns(state.columns)
    page.table.restore_sort(state.sort_column, state.sort_descending)
    if state.chart:
        page.charts.restore_view_state(state.chart)
    if state.tab in TABS:
        page.tabs.setCurrentIndex(TABS.index(state.tab))
    restore_sizes({"main": page.splitter, "lower": page.lower}, state.splitters)
    page._compared = [i for i in state.compared if page.model.row_of(i) >= 0]
    page.actions.compare.setChecked(bool(page._compared))
    selected = [i for i in state.selected if page.model.row_of(i) >= 0]
    first = page.table.first_run_id()
    if not selected and first is not None:
        selected = [first]
    page.select_runs(selected, selected[0] if selected else None)
