"""The Details tab's HTML for one run: status and why it failed, what it trained on, what it
measured, its segments (each start, stop and resume) and its whole configuration."""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING, Any, Optional, Sequence

from PySide6.QtWidgets import QTextBrowser

from workbench.core.records import Run
from workbench.ui.common import theme
from workbench.ui.runs.table_model import duration_text, status_text

if TYPE_CHECKING:
    from workbench.core.records import RunSegment
    from workbench.services.run_views import RunDetails


def _segment_row(s: "RunSegment", muted: str) -> str:
    """One segment as a table row: when, from which step to which, how it ended and why."""
    when = (s.started_at or "")[:19].replace("T", " ")
    how = "started" if s.idx == 0 else (f"resumed at step {s.start_step}" if s.start_step else "started again")
    if s.note:
        how += f" ({s.note})"
    end = f"{s.end_status} at step {s.end_step}" if s.end_status else "running"
    why = f" — {s.reason}" if s.reason else ""
    return (f"<tr><td style='color:{muted}'>{s.idx + 1}.</td><td>&nbsp;{html.escape(when)}</td>"
            f"<td>&nbsp;{html.escape(how)}</td><td>&nbsp;→ {html.escape(end + why)}</td></tr>")


def details_html(run: Run, details: "RunDetails", segments: Sequence["RunSegment"] = ()) -> str:
    from workbench.services import run_views

    c = theme.colors()
    esc = html.escape
    rows = [("Status", status_text(run)), ("Base model", details.model_name), ("Dataset", details.dataset_title)]
    rows += [("Started", (run.started_at or "")[:19].replace("T", " ")),
             ("Finished", (run.finished_at or "")[:19].replace("T", " ")),
             ("Duration", duration_text(run.duration_s()) if run.finished_at else ""),
             ("Created by", run.created_by)]
    if run.tags:
        rows.append(("Tags", ", ".join(run.tags)))
    env = run.environment or {}
    if env.get("device"):
        rows.append(("Device", str(env["device"])))
    rows.append(("Peak memory", run_views.peak_memory_text(run)))
    if env.get("tokens_per_s"):
        rows.append(("Throughput", f"{env['tokens_per_s']:,.0f} tokens/s, "
                                   f"{env.get('examples_per_s') or 0:,.2f} examples/s"))
    if env.get("best_eval_loss") is not None:
        rows.append(("Best eval loss", f"{env['best_eval_loss']:.4f}" + (f" ({env['best_path']})"
                                                                         if env.get("best_path") else "")))
    if run.adapter_path:
        rows.append(("Adapter", run.adapter_path))
    parts = [f"<h3>{esc(run.name)}</h3>"]
    if run.notes:
        parts.append(f"<p>{esc(run.notes)}</p>")
    if run.error:
        error = run.error_message
        parts.append(f"<p style='color:{c.error_text}'><b>{esc(error.splitlines()[0])}</b></p>")
        if run.error_advice:
            parts.append(f"<p>{esc(run.error_advice)}</p>")
        rest = "\n".join(error.splitlines()[1:]).strip()
        if rest:
            parts.append(f"<pre style='color:{c.muted_text}; white-space:pre-wrap'>{esc(rest[-1500:])}</pre>")
    table = "".join(f"<tr><td style='color:{c.muted_text}'>{esc(k)}</td><td>&nbsp;{esc(str(v))}</td></tr>"
                    for k, v in rows if v)
    parts.append(f"<table cellspacing='2'>{table}</table>")
    if len(segments) > 1 or any(s.idx > 0 for s in segments):
        parts.append("<p><b>Segments</b> (each start, stop and resume of this run)</p>")
        parts.append(f"<table cellspacing='2'>{''.join(_segment_row(s, c.muted_text) for s in segments)}</table>")
    config = {k: v for k, v in (run.config or {}).items() if v is not None}
    parts.append("<p><b>Configuration</b></p>")
    parts.append(f"<pre>{esc(json.dumps(config, indent=1, sort_keys=True))}</pre>")
    return "".join(parts)


class DetailsView(QTextBrowser):
    """The Details tab: rendered again when what it shows of the run changed (its status, name,
    tags, notes), not on every step; a run's dataset and model are read once per run."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("runDetails")
        self._details: dict[str, "RunDetails"] = {}
        self._shown: Optional[tuple] = None

    def reset(self) -> None:
        """Forget what was read and shown (another project, another theme)."""
        self._details.clear()
        self._shown = None

    def show_run(self, store: Any, run: Optional[Run]) -> bool:
        """Show `run` (None: nothing); True when it was rendered again."""
        key = (run.id, run.status, run.name, tuple(run.tags), run.notes) if run is not None else None
        if key == self._shown:
            return False
        self._shown = key
        if run is None or store is None:
            self.setHtml("")
            return True
        from workbench.services import run_views

        details = self._details.get(run.id)
        if details is None:
            details = self._details[run.id] = run_views.run_details(store, run.id)
        self.setHtml(details_html(run, details, run_views.run_segments(store, run.id)))
        return True
