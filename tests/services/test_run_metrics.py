"""A run's curves: what ingest keeps of a child's events (bounded, with each point's time and
the run's best values), and loading them as numpy arrays from a read-only connection."""

from __future__ import annotations

import dataclasses
import os
import uuid

import numpy as np
import pytest

from workbench.core import metric_names as M
from workbench.core.progress import CancelToken, Cancelled
from workbench.jobs.protocol import TRANSIENT_KINDS, Event
from workbench.services import metrics_export, run_metrics
from workbench.services.run_ingest import ingest, metric_rows
from workbench.services.run_metrics import MetricSeries, load_metrics
from workbench.store import MetricRow, RunReport


def _run(store, status="running"):
    ds = store.add_dataset("d")
    v = store.add_version(dataset_id=ds.id, content_hash="c", blob_path="b", row_count=1, format="t",
                          source_name="f", source_size=1, source_hash="h")
    m = store.add_base_model("m", "tiny", "/p", "fp")
    return store.add_run(id=str(uuid.uuid4()), name="r", dataset_version_id=v.id, base_model_id=m.id,
                         config={}, work_dir="runs/r", status=status)


T0 = 1_700_000_000.0


def _stream(steps: int, eval_every: int = 0, start_seq: int = 1) -> list[Event]:
    """What a training child reports, in its order: per step a heartbeat, progress and a train
    log with every live value; an eval log every `eval_every` steps."""
    events = [Event(start_seq, "started", {"total_steps": steps}, T0)]
    seq = start_seq
    for step in range(1, steps + 1):
        t = T0 + step
        loss = 3.0 - step / 10 + (0.5 if step == 3 else 0.0)
        values = {M.LOSS: loss, M.LR: 1e-3 / step, M.GRAD_NORM: 0.5, M.TOKENS: 100.0 * step,
                  M.TOKENS_PER_S: 50.0 + step, M.MEMORY: 1000.0 + (500 if step == 2 else step)}
        for kind, payload in (("heartbeat", {"step": step - 1}),
                              ("progress", {"step": step, "total_steps": steps, "epoch": step / steps}),
                              ("log", {"step": step, "epoch": step / steps, "values": values})):
            seq += 1
            events.append(Event(seq, kind, payload, t))
        if eval_every and step % eval_every == 0:
            seq += 1
            events.append(Event(seq, "log", {"step": step, "epoch": step / steps,
                                             "values": {M.EVAL_LOSS: 2.0 + 1 / step, M.MEMORY: 900.0}}, t + 0.5))
    return events


def test_ingest_keeps_no_heartbeats_or_progress_but_follows_them(store):
    run = _run(store)
    events = _stream(5)
    ingest(store, run.id, events)
    kinds = [e["kind"] for e in store.run_events(run.id)]
    assert kinds == ["started"] + ["log"] * 5 and not set(kinds) & set(TRANSIENT_KINDS)
    r = store.get_run(run.id)
    assert (r.step, r.total_steps, r.progress) == (5, 5, 1.0) and r.last_event_at
    # A progress event alone still moves the run on.
    ingest(store, run.id, [Event(100, "progress", {"step": 6, "total_steps": 10})])
    assert store.get_run(run.id).step == 6 and store.max_event_seq(run.id) == events[-1].seq


def test_ingest_keeps_the_runs_best_and_latest_values_current(store):
    run = _run(store)
    events = _stream(6, eval_every=2)
    ingest(store, run.id, events[:8])  # steps 1-2 and the first eval
    r = store.get_run(run.id)
    assert (r.best_loss, r.last_loss, r.best_eval_loss, r.last_eval_loss) == (2.8, 2.8, 2.5, 2.5)
    assert (r.tokens_per_s, r.peak_memory_bytes) == (52.0, 1500)
    ingest(store, run.id, events[8:])
    r = store.get_run(run.id)
    assert r.best_loss == pytest.approx(2.4) and r.last_loss == pytest.approx(2.4) and r.first_loss == 2.9
    assert r.best_eval_loss == pytest.approx(2 + 1 / 6) and r.last_eval_loss == pytest.approx(2 + 1 / 6)
    assert (r.tokens_per_s, r.peak_memory_bytes) == (56.0, 1500)  # the latest rate, the highest memory
    ingest(store, run.id, events)  # the same lines again (the journal after a restart): nothing moves
    again = store.get_run(run.id)
    assert dataclasses.replace(again, last_event_at=r.last_event_at) == r
    # The end: the run's overall throughput and its measured peak.
    ingest(store, run.id, [Event(200, "completed", {"tokens_per_s": 41.5, "peak_memory_bytes": 4000,
                                                    "best_eval_loss": 2.1})])
    r = store.get_run(run.id)
    assert (r.tokens_per_s, r.peak_memory_bytes, r.best_eval_loss) == (41.5, 4000, 2.1)


def test_metric_rows_are_what_ingest_stores_with_epoch_and_time(store):
    run = _run(store)
    events = _stream(4, eval_every=2)
    rows = metric_rows(list(reversed(events)))  # any order in, seq order out
    assert [r.seq for r in rows] == sorted(r.seq for r in rows)
    assert {r.name for r in rows} == {M.EPOCH, M.LOSS, M.LR, M.GRAD_NORM, M.TOKENS, M.TOKENS_PER_S, M.MEMORY,
                                      M.EVAL_LOSS}
    first = [r for r in rows if r.step == 1]
    assert all(r.t == T0 + 1 for r in first) and MetricRow(first[0].seq, 1, M.EPOCH, 0.25, T0 + 1) in first
    ingest(store, run.id, events)
    stored = store.db.execute("SELECT seq, step, name, value, t FROM metric_points WHERE run_id = ?"
                              " ORDER BY seq, name", (run.id,)).fetchall()
    assert [MetricRow(*r) for r in stored] == sorted(rows, key=lambda r: (r.seq, r.name))


def test_load_metrics_reads_numpy_curves_in_step_order(store):
    run = _run(store)
    ingest(store, run.id, _stream(6, eval_every=3))
    loaded = load_metrics(store.path, run.id)
    assert sorted(loaded) == run_metrics.metric_names(store.path, run.id) == sorted(
        {M.EPOCH, M.LOSS, M.LR, M.GRAD_NORM, M.TOKENS, M.TOKENS_PER_S, M.MEMORY, M.EVAL_LOSS})
    loss = loaded[M.LOSS]
    assert loss.seq.dtype == np.int64 and loss.step.dtype == np.int64 and loss.value.dtype == np.float64
    assert list(loss.step) == [1, 2, 3, 4, 5, 6] and list(loss.t) == [T0 + s for s in range(1, 7)]
    assert [(int(s), float(v)) for s, v in zip(loss.step, loss.value)] == store.metric_series(run.id)
    memory = loaded[M.MEMORY]  # two points at steps 3 and 6 (train, then eval): by step, then seq
    assert list(memory.step) == [1, 2, 3, 3, 4, 5, 6, 6] and list(memory.seq) == sorted(memory.seq)
    assert list(loaded[M.EVAL_LOSS].step) == [3, 6]
    # Some names, points after a seq (the ones a chart does not have yet), a name never logged.
    later = load_metrics(store.path, run.id, names=[M.LOSS, "nope"], after_seq=int(loss.seq[3]))
    assert list(later[M.LOSS].step) == [5, 6] and len(later["nope"]) == 0 and later["nope"].name == "nope"
    again = load_metrics(store.path, run.id, names=[M.LOSS, M.MEMORY], after_seq=int(loss.seq[3]))
    assert list(again[M.LOSS].seq) == list(later[M.LOSS].seq) and list(again[M.MEMORY].step) == [5, 6, 6]


def test_load_metrics_uses_its_own_read_only_connection(store):
    run = _run(store)
    ingest(store, run.id, _stream(3))
    db_path = os.path.join(store.path, "project.sqlite")
    before = os.stat(db_path).st_mtime_ns
    conn = run_metrics.connect_read_only(store.path)
    try:
        with pytest.raises(Exception, match="readonly"):
            conn.execute("DELETE FROM metric_points")
    finally:
        conn.close()
    assert len(load_metrics(store.path, run.id)[M.LOSS]) == 3 and os.stat(db_path).st_mtime_ns == before
    from workbench.core.errors import ProjectError

    with pytest.raises(ProjectError, match="not a Workbench project"):
        load_metrics(os.path.join(store.path, "gone"), run.id)


def test_load_metrics_reports_progress_and_stops_when_cancelled(store, monkeypatch):
    run = _run(store)
    ingest(store, run.id, _stream(40))
    monkeypatch.setattr(run_metrics, "CHUNK", 16)  # several chunks from a small run
    seen = []
    load_metrics(store.path, run.id, names=[M.LOSS, M.LR], progress=lambda f, _m: seen.append(f))
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) > 3
    token = CancelToken()

    def cancel_midway(fraction, _message):
        if fraction > 0:
            token.cancel()

    with pytest.raises(Cancelled):
        load_metrics(store.path, run.id, progress=cancel_midway, cancel=token)


def test_series_from_rows_orders_by_step_then_seq_and_keeps_one_name():
    rows = [MetricRow(5, 2, M.LOSS, 1.0, 10.0), MetricRow(3, 1, M.LR, 0.1, 9.0), MetricRow(2, 1, M.LOSS, 2.0, 8.0),
            MetricRow(9, 2, M.LOSS, 0.5)]
    s = MetricSeries.from_rows(M.LOSS, rows)
    assert (list(s.seq), list(s.step), list(s.value), list(s.t)) == ([2, 5, 9], [1, 2, 2], [2.0, 1.0, 0.5],
                                                                     [8.0, 10.0, 0.0])
    assert s.seq.dtype == np.int64 and s.t.dtype == np.float64
    empty = MetricSeries.empty(M.GRAD_NORM)
    assert len(empty) == 0 and len(MetricSeries.from_rows(M.GRAD_NORM, rows)) == 0
    assert empty.value.dtype == np.float64 and empty.step.dtype == np.int64


# -- exporting ---------------------------------------------------------------------------------
@pytest.fixture
def out_dir(tmp_path):
    path = tmp_path / "exports"
    path.mkdir()
    return path


def _two_runs(store):
    a, b = _run(store), _run(store)
    store.rename_run(b.id, "older")
    ingest(store, a.id, _stream(3, eval_every=3))
    # A run from before points had a time or an epoch: both empty in the export.
    store.record_events(b.id, [], [MetricRow(1, 1, M.LOSS, 4.0), MetricRow(2, 2, M.LOSS, 3.5)], RunReport())
    return a, b


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_export_writes_every_point_in_long_format(store, out_dir, suffix):
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    a, b = _two_runs(store)
    out = str(out_dir / f"metrics{suffix}")
    seen = []
    rows = metrics_export.export_metrics(store.path, [a.id, b.id], out, progress=lambda f, m: seen.append(f))
    table = (pcsv.read_csv(out) if suffix == ".csv" else pq.read_table(out)).to_pylist()
    assert rows == len(table) == 3 * 6 + 2 + 2 and seen[-1] == 1.0  # 6 values a train log, 2 the eval log
    assert list(table[0]) == ["run_id", "run_name", "step", "epoch", "t", "metric", "value"]
    loss_a = [r for r in table if r["run_id"] == a.id and r["metric"] == M.LOSS]
    assert [(r["step"], r["epoch"], r["t"]) for r in loss_a] == [(1, 1 / 3, T0 + 1), (2, 2 / 3, T0 + 2), (3, 1.0, T0 + 3)]
    assert [r["value"] for r in loss_a] == [v for _, v in store.metric_series(a.id)]  # exact, not rounded
    [eval_a] = [r for r in table if r["metric"] == M.EVAL_LOSS]
    assert (eval_a["step"], eval_a["epoch"], eval_a["t"]) == (3, 1.0, T0 + 3.5)
    assert not [r for r in table if r["metric"] == M.EPOCH]  # the epoch is a column, not a metric
    older = [r for r in table if r["run_id"] == b.id]
    assert [(r["run_name"], r["step"], r["epoch"], r["t"], r["value"]) for r in older] == [
        ("older", 1, None, None, 4.0), ("older", 2, None, None, 3.5)]
    assert os.listdir(out_dir) == [os.path.basename(out)]  # no temporary file left


def test_export_refuses_what_it_cannot_write(store, out_dir):
    from workbench.core.errors import WorkbenchError

    a, _ = _two_runs(store)
    export = metrics_export.export_metrics
    with pytest.raises(WorkbenchError, match=r"\.csv or \.parquet, not \.xlsx") as err:
        export(store.path, [a.id], str(out_dir / "m.xlsx"))
    assert "NAME.csv" in err.value.advice
    with pytest.raises(WorkbenchError, match="does not exist"):
        export(store.path, [a.id], str(out_dir / "no" / "such" / "m.csv"))
    with pytest.raises(WorkbenchError, match="no longer in the project"):
        export(store.path, [a.id, "deleted-meanwhile"], str(out_dir / "m.csv"))
    if os.path.isdir("/proc"):  # a folder nobody can create files in, even root
        with pytest.raises(WorkbenchError, match="Cannot write in the folder /proc"):
            export(store.path, [a.id], "/proc/m.parquet")
    assert os.listdir(out_dir) == []


def test_a_cancelled_export_leaves_the_earlier_file_as_it_was(store, out_dir):
    a, b = _two_runs(store)
    out = out_dir / "m.csv"
    out.write_text("yesterday's export\n")
    token = CancelToken()

    def cancel_after_the_first_run(fraction, _message):
        if fraction >= 0.5:
            token.cancel()

    with pytest.raises(Cancelled):
        metrics_export.export_metrics(store.path, [a.id, b.id], str(out), progress=cancel_after_the_first_run,
                                            cancel=token)
    assert out.read_text() == "yesterday's export\n" and os.listdir(out_dir) == ["m.csv"]
