"""Exporting runs' metrics as one long table (CSV or Parquet), for a notebook or a spreadsheet.

Columns: run_id, run_name, step, epoch, t, metric, value: one row per logged point (epoch and
t empty where the run did not record them). Written to a temporary file beside the target and
moved over it at the end, so a failed or cancelled export leaves no half-written file.
"""

from __future__ import annotations

import os
import uuid
from typing import Optional, Sequence

import numpy as np

from workbench.core.errors import WorkbenchError
from workbench.core.metric_names import EPOCH
from workbench.core.progress import CancelToken, ProgressCallback, report
from workbench.services.run_metrics import MetricSeries, connect_read_only, load_metrics

FORMATS = {".csv": "CSV", ".parquet": "Parquet"}


def _schema():
    import pyarrow as pa

    return pa.schema([("run_id", pa.string()), ("run_name", pa.string()), ("step", pa.int64()),
                      ("epoch", pa.float64()), ("t", pa.float64()), ("metric", pa.string()),
                      ("value", pa.float64())])


def _check_target(out_path: str) -> str:
    suffix = os.path.splitext(out_path)[1].lower()
    if suffix not in FORMATS:
        raise WorkbenchError(f"Metrics can be exported as .csv or .parquet, not {suffix or 'a file without a suffix'}.",
                             details=out_path, advice="Name the file NAME.csv or NAME.parquet.")
    folder = os.path.dirname(os.path.abspath(out_path))
    if not os.path.isdir(folder):
        raise WorkbenchError(f"The folder {folder} does not exist.", details=out_path,
                             advice="Choose a folder that exists.")
    if os.path.isdir(out_path):
        raise WorkbenchError(f"{out_path} is a folder.", advice="Choose a file name.")
    return suffix


def _run_names(project_path: str, run_ids: Sequence[str]) -> dict[str, str]:
    conn = connect_read_only(project_path)
    try:
        marks = ",".join("?" * len(run_ids))
        names = dict(conn.execute(f"SELECT id, name FROM runs WHERE id IN ({marks})", tuple(run_ids)).fetchall())
    finally:
        conn.close()
    missing = [i for i in run_ids if i not in names]
    if missing:
        raise WorkbenchError("A run to export is no longer in the project.", details=", ".join(missing),
                             advice="It was deleted meanwhile; export the runs that are left.")
    return names


def _table(run_id: str, run_name: str, curves: dict[str, MetricSeries]):
    """One run's points, metric by metric in step order, each with its event's epoch."""
    import pyarrow as pa

    epoch = curves.get(EPOCH) or MetricSeries.empty(EPOCH)
    by_seq = np.argsort(epoch.seq, kind="stable")
    epoch_seq, epoch_value = epoch.seq[by_seq], epoch.value[by_seq]
    parts = []
    for name in sorted(n for n in curves if n != EPOCH):  # the epoch is a column of every row
        s = curves[name]
        if not len(s):
            continue
        at = np.minimum(np.searchsorted(epoch_seq, s.seq), max(len(epoch_seq) - 1, 0))
        found = (epoch_seq[at] == s.seq) if len(epoch_seq) else np.zeros(len(s), bool)
        n = len(s)
        parts.append(pa.table({
            "run_id": pa.array([run_id] * n, pa.string()), "run_name": pa.array([run_name] * n, pa.string()),
            "step": pa.array(s.step, pa.int64()),
            "epoch": pa.array(epoch_value[at] if len(epoch_seq) else np.zeros(n), pa.float64(), mask=~found),
            "t": pa.array(s.t, pa.float64(), mask=s.t == 0.0),  # 0.0: a point older than its time
            "metric": pa.array([name] * n, pa.string()), "value": pa.array(s.value, pa.float64()),
        }, schema=_schema()))
    return pa.concat_tables(parts) if parts else _schema().empty_table()


def _writer(path: str, suffix: str):
    if suffix == ".csv":
        import pyarrow.csv as pcsv

        return pcsv.CSVWriter(path, _schema())
    import pyarrow.parquet as pq

    return pq.ParquetWriter(path, _schema())


def export_metrics(project_path: str, run_ids: Sequence[str], out_path: str,
                   progress: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None) -> int:
    """Write every metric point of `run_ids` to `out_path` (.csv or .parquet, by its suffix);
    returns how many rows it wrote. Call it from a worker; `cancel` stops it (Cancelled) and
    leaves any file that was at `out_path` as it was."""
    suffix = _check_target(out_path)
    if not run_ids:
        raise WorkbenchError("No run to export.", advice="Select one or more runs.")
    names = _run_names(project_path, run_ids)
    tmp = os.path.join(os.path.dirname(os.path.abspath(out_path)),
                       f".{os.path.basename(out_path)}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        writer = _writer(tmp, suffix)
    except OSError as exc:
        raise WorkbenchError(f"Cannot write in the folder {os.path.dirname(os.path.abspath(out_path))}.",
                             details=str(exc), advice="Choose a folder you can write to.") from exc
    rows, done = 0, False
    try:
        for i, run_id in enumerate(run_ids):
            def part(fraction: float, _message: str, i: int = i) -> None:
                report(progress, (i + fraction) / len(run_ids), f"Exporting {names[run_id]}")

            table = _table(run_id, names[run_id], load_metrics(project_path, run_id, progress=part, cancel=cancel))
            writer.write_table(table)
            rows += table.num_rows
        writer.close()
        os.replace(tmp, out_path)
        done = True
    except OSError as exc:
        raise WorkbenchError(f"Cannot write {out_path}.", details=str(exc),
                             advice="Check that the disk has room and the file is not open elsewhere.") from exc
    finally:
        if not done:
            try:
                writer.close()
            except Exception:  # noqa: BLE001 - already failing; the temporary file goes either way
                pass
            if os.path.exists(tmp):
                os.remove(tmp)
    report(progress, 1.0, f"Exported {rows:,} rows")
    return rows
