"""Evaluation records in the project store (a mixin of ProjectStore): suites and their items,
eval runs, per-item results, people's ratings, run gates and cross-validations.

Suites are immutable: an edit is a new version (same lineage, version + 1). Item results are
keyed by (eval run, item), so ingesting an event twice changes nothing.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import asdict
from typing import Any, Callable, Iterable, Optional

import sqlite_utils

from workbench.core.clock import new_id, now_iso
from workbench.core.errors import ProjectError
from workbench.core.eval_records import (
    CrossValidation,
    EvalItem,
    EvalModel,
    EvalRun,
    EvalSuite,
    GateRule,
    GenerationSettings,
    ItemResult,
    MetricSpec,
    Rating,
    RunGate,
    suite_hash,
)
from workbench.core.records import from_dict

_EVAL_RUN_COLUMNS = {"status", "pid", "done_items", "failed_items", "total_items", "summary", "error",
                     "error_advice", "started_at", "finished_at", "journal_offset", "queue_position", "work_dir"}


def _loads(text: Optional[str], default: Any) -> Any:
    return json.loads(text) if text else default


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _suite(row: dict[str, Any]) -> EvalSuite:
    return EvalSuite(
        id=row["id"], lineage_id=row["lineage_id"], name=row["name"], version=row["version"],
        parent_id=row["parent_id"], content_hash=row["content_hash"], item_count=row["item_count"],
        metrics=[from_dict(MetricSpec, m) for m in _loads(row["metrics"], [])],
        generation=from_dict(GenerationSettings, _loads(row["generation"], {})),
        source=_loads(row["source"], {}), created_at=row["created_at"], created_by=row["created_by"],
        description=row["description"] or "")


def _eval_run(row: dict[str, Any]) -> EvalRun:
    model = EvalModel(base_model_id=row["base_model_id"], run_id=row["run_id"], checkpoint=row["checkpoint"],
                      step=row["step"], label=row["label"] or "")
    return EvalRun(
        id=row["id"], suite_id=row["suite_id"], suite_hash=row["suite_hash"], model=model, status=row["status"],
        work_dir=row["work_dir"], created_at=row["created_at"], created_by=row["created_by"],
        purpose=row["purpose"] or "manual", group_id=row["group_id"], done_items=row["done_items"] or 0,
        failed_items=row["failed_items"] or 0, total_items=row["total_items"] or 0,
        summary=_loads(row["summary"], {}), judge_model_id=row["judge_model_id"], pid=row["pid"],
        error=row["error"], error_advice=row["error_advice"], started_at=row["started_at"],
        finished_at=row["finished_at"])


def _result(row: dict[str, Any]) -> ItemResult:
    data = dict(row)
    data["scores"] = _loads(data.get("scores"), {})
    data["tokens"] = data.get("tokens") or 0
    data["seconds"] = data.get("seconds") or 0.0
    data["finish_reason"] = data.get("finish_reason") or ""
    return from_dict(ItemResult, data)


def _gate(row: dict[str, Any]) -> RunGate:
    return RunGate(run_id=row["run_id"], suite_id=row["suite_id"],
                   rules=[from_dict(GateRule, r) for r in _loads(row["rules"], [])],
                   every_checkpoint=bool(row["every_checkpoint"]), created_at=row["created_at"],
                   created_by=row["created_by"], cv_id=row["cv_id"], fold=row["fold"])


def _cv(row: dict[str, Any]) -> CrossValidation:
    return CrossValidation(
        id=row["id"], name=row["name"], dataset_version_id=row["dataset_version_id"],
        base_model_id=row["base_model_id"], k=row["k"], seed=row["seed"], config=_loads(row["config"], {}),
        metrics=[from_dict(MetricSpec, m) for m in _loads(row["metrics"], [])],
        generation=from_dict(GenerationSettings, _loads(row["generation"], {})),
        run_ids=_loads(row["run_ids"], []), suite_ids=_loads(row["suite_ids"], []),
        created_at=row["created_at"], created_by=row["created_by"])


class EvalStore:
    """Uses the ProjectStore's connection, lock and helpers."""

    user: str
    db: sqlite_utils.Database
    _conn: sqlite3.Connection
    _lock: threading.RLock
    _query: Callable[..., list[dict[str, Any]]]
    _stamp: Callable[[], dict[str, str]]

    # -- suites ----------------------------------------------------------------------------------
    def add_suite(self, name: str, items: list[EvalItem], metrics: list[MetricSpec],
                  generation: GenerationSettings, source: dict[str, Any], parent_id: Optional[str] = None,
                  description: str = "") -> EvalSuite:
        """A new suite (or, with `parent_id`, a new version of that suite's lineage) and its
        items, in one transaction."""
        if not name.strip():
            raise ProjectError("A suite needs a name.")
        ids = [i.id for i in items]
        if len(set(ids)) != len(ids):
            raise ProjectError("Two items of the suite have the same id.", details=", ".join(
                sorted({i for i in ids if ids.count(i) > 1})[:10]))
        stamp = self._stamp()
        with self._lock, self._conn:
            if parent_id is None:
                lineage, version = stamp["id"], 1
            else:
                parent = self.get_suite(parent_id)
                lineage = parent.lineage_id
                version = self._query("SELECT MAX(version) AS v FROM eval_suites WHERE lineage_id = ?",
                                      (lineage,))[0]["v"] + 1
            self.db["eval_suites"].insert({
                **stamp, "lineage_id": lineage, "name": name.strip(), "version": version, "parent_id": parent_id,
                "content_hash": suite_hash(items, metrics, generation), "item_count": len(items),
                "metrics": _dumps([asdict(m) for m in metrics]), "generation": _dumps(asdict(generation)),
                "source": _dumps(source), "description": description})
            self._conn.executemany(
                "INSERT INTO eval_items (suite_id, idx, item_id, messages, refs, label, tags) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(stamp["id"], idx, it.id, _dumps(it.messages), _dumps(list(it.references)), it.label,
                  _dumps(list(it.tags))) for idx, it in enumerate(items)])
        return self.get_suite(stamp["id"])

    def get_suite(self, suite_id: str) -> EvalSuite:
        rows = self._query("SELECT * FROM eval_suites WHERE id = ?", (suite_id,))
        if not rows:
            raise ProjectError(f"No eval suite with id {suite_id} in this project.")
        return _suite(rows[0])

    def list_suites(self, latest_only: bool = True) -> list[EvalSuite]:
        if latest_only:
            rows = self._query(
                "SELECT s.* FROM eval_suites s WHERE s.version = (SELECT MAX(version) FROM eval_suites t"
                " WHERE t.lineage_id = s.lineage_id) ORDER BY s.created_at DESC, s.rowid DESC")
        else:
            rows = self._query("SELECT * FROM eval_suites ORDER BY created_at DESC, rowid DESC")
        return [_suite(r) for r in rows]

    def suite_versions(self, lineage_id: str) -> list[EvalSuite]:
        rows = self._query("SELECT * FROM eval_suites WHERE lineage_id = ? ORDER BY version", (lineage_id,))
        return [_suite(r) for r in rows]

    def suite_items(self, suite_id: str) -> list[EvalItem]:
        rows = self._query("SELECT * FROM eval_items WHERE suite_id = ? ORDER BY idx", (suite_id,))
        return [EvalItem(id=r["item_id"], messages=_loads(r["messages"], []), references=_loads(r["refs"], []),
                         label=r["label"], tags=_loads(r["tags"], [])) for r in rows]

    # -- eval runs -------------------------------------------------------------------------------
    def add_eval_run(self, suite: EvalSuite, model: EvalModel, work_dir: str, purpose: str = "manual",
                     group_id: Optional[str] = None, judge_model_id: Optional[str] = None,
                     eval_run_id: Optional[str] = None) -> EvalRun:
        """A queued eval run of `model` on `suite` (`eval_run_id`: the id its folder was named for)."""
        stamp = self._stamp()
        if eval_run_id:
            stamp["id"] = eval_run_id
        with self._lock, self._conn:
            position = self._query("SELECT COALESCE(MAX(queue_position), 0) + 1 AS n FROM eval_runs")[0]["n"]
            self.db["eval_runs"].insert({
                **stamp, "suite_id": suite.id, "suite_hash": suite.content_hash, "base_model_id": model.base_model_id,
                "run_id": model.run_id, "checkpoint": model.checkpoint, "step": model.step, "label": model.label,
                "status": "queued", "work_dir": work_dir, "purpose": purpose, "group_id": group_id,
                "done_items": 0, "failed_items": 0, "total_items": suite.item_count, "summary": "{}",
                "judge_model_id": judge_model_id, "journal_offset": 0, "queue_position": position})
        return self.get_eval_run(stamp["id"])

    def get_eval_run(self, eval_run_id: str) -> EvalRun:
        rows = self._query("SELECT * FROM eval_runs WHERE id = ?", (eval_run_id,))
        if not rows:
            raise ProjectError(f"No eval run with id {eval_run_id} in this project.")
        return _eval_run(rows[0])

    def list_eval_runs(self, suite_id: Optional[str] = None, run_id: Optional[str] = None,
                       group_id: Optional[str] = None, statuses: Iterable[str] = ()) -> list[EvalRun]:
        where, params = [], []
        for column, value in (("suite_id", suite_id), ("run_id", run_id), ("group_id", group_id)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        statuses = list(statuses)
        if statuses:
            where.append(f"status IN ({','.join('?' * len(statuses))})")
            params.extend(statuses)
        sql = "SELECT * FROM eval_runs" + (" WHERE " + " AND ".join(where) if where else "")
        return [_eval_run(r) for r in self._query(sql + " ORDER BY created_at DESC, rowid DESC", params)]

    def queued_eval_run_ids(self) -> list[str]:
        rows = self._query("SELECT id FROM eval_runs WHERE status = 'queued' ORDER BY queue_position, created_at, rowid")
        return [r["id"] for r in rows]

    def requeue_eval_run(self, eval_run_id: str) -> None:
        """An ended eval run waits again, at the end of the queue (a resume): its error and end go."""
        with self._lock, self._conn:
            position = self._query("SELECT COALESCE(MAX(queue_position), 0) + 1 AS n FROM eval_runs")[0]["n"]
            if self._conn.execute(
                    "UPDATE eval_runs SET status = 'queued', queue_position = ?, pid = NULL, error = NULL,"
                    " error_advice = NULL, finished_at = NULL WHERE id = ?", (position, eval_run_id)).rowcount == 0:
                raise ProjectError(f"No eval run with id {eval_run_id} in this project.")

    def update_eval_run(self, eval_run_id: str, **columns: Any) -> None:
        unknown = set(columns) - _EVAL_RUN_COLUMNS
        if unknown:
            raise ValueError(f"not an eval run column one may update: {sorted(unknown)}")
        row = {k: (_dumps(v) if k == "summary" else v) for k, v in columns.items()}
        with self._lock, self._conn:
            if self._conn.execute(
                    f"UPDATE eval_runs SET {', '.join(f'{k} = ?' for k in row)} WHERE id = ?",
                    (*row.values(), eval_run_id)).rowcount == 0:
                raise ProjectError(f"No eval run with id {eval_run_id} in this project.")

    def eval_journal_offset(self, eval_run_id: str) -> int:
        rows = self._query("SELECT journal_offset FROM eval_runs WHERE id = ?", (eval_run_id,))
        return (rows[0]["journal_offset"] or 0) if rows else 0

    def delete_eval_run(self, eval_run_id: str) -> None:
        """The eval run's rows (results, ratings, the run); the caller removes its folder."""
        with self._lock, self._conn:
            for table in ("eval_results", "eval_ratings"):
                self._conn.execute(f"DELETE FROM {table} WHERE eval_run_id = ?", (eval_run_id,))
            self._conn.execute("DELETE FROM eval_runs WHERE id = ?", (eval_run_id,))

    # -- item results ----------------------------------------------------------------------------
    def put_item_results(self, eval_run_id: str, results: list[ItemResult]) -> None:
        """Store item results (replacing an item's earlier one: a re-ingested event is the same)."""
        with self._lock, self._conn:
            self._conn.executemany(
                "INSERT OR REPLACE INTO eval_results (eval_run_id, item_id, idx, output, error, tokens, seconds,"
                " finish_reason, ref_nll, ref_tokens, judge_score, judge_reason, judge_error, scores)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(eval_run_id, r.item_id, r.idx, r.output, r.error, r.tokens, r.seconds, r.finish_reason,
                  r.ref_nll, r.ref_tokens, r.judge_score, r.judge_reason, r.judge_error, _dumps(r.scores))
                 for r in results])

    def update_item_scores(self, eval_run_id: str, scores: dict[str, dict[str, Optional[float]]]) -> None:
        with self._lock, self._conn:
            self._conn.executemany("UPDATE eval_results SET scores = ? WHERE eval_run_id = ? AND item_id = ?",
                                   [(_dumps(s), eval_run_id, item_id) for item_id, s in scores.items()])

    def set_judgement(self, eval_run_id: str, item_id: str, score: Optional[float], reason: Optional[str],
                      error: Optional[str]) -> None:
        with self._lock, self._conn:
            self._conn.execute(
                "UPDATE eval_results SET judge_score = ?, judge_reason = ?, judge_error = ?"
                " WHERE eval_run_id = ? AND item_id = ?", (score, reason, error, eval_run_id, item_id))

    def item_results(self, eval_run_id: str) -> list[ItemResult]:
        rows = self._query("SELECT * FROM eval_results WHERE eval_run_id = ? ORDER BY idx", (eval_run_id,))
        return [_result(r) for r in rows]

    def item_result(self, eval_run_id: str, item_id: str) -> Optional[ItemResult]:
        """One item's result in one eval run (None: the run has none for it yet)."""
        rows = self._query("SELECT * FROM eval_results WHERE eval_run_id = ? AND item_id = ?", (eval_run_id, item_id))
        return _result(rows[0]) if rows else None

    def event_payloads(self, run_id: str, kind: str) -> list[tuple[int, dict[str, Any]]]:
        """(seq, payload) of a training run's events of one kind, in order: e.g. its
        `checkpoint` events for a gate, without parsing every log event's JSON."""
        rows = self._query("SELECT seq, payload FROM run_events WHERE run_id = ? AND kind = ? ORDER BY seq",
                           (run_id, kind))
        return [(r["seq"], json.loads(r["payload"])) for r in rows]

    # -- ratings ---------------------------------------------------------------------------------
    def add_rating(self, eval_run_id: str, item_id: str, scale: str, value: float, comment: str = "",
                   rater: Optional[str] = None) -> Rating:
        record = {**self._stamp(), "eval_run_id": eval_run_id, "item_id": item_id, "scale": scale,
                  "value": float(value), "comment": comment, "rater": rater or self.user}
        with self._lock, self._conn:
            self.db["eval_ratings"].insert(record)
        return Rating(**record)

    def ratings(self, eval_run_id: str, latest_only: bool = True) -> list[Rating]:
        """People's ratings of the run's items; by default one per (rater, item): the latest
        (an earlier rating stays in the store as history)."""
        rows = self._query("SELECT * FROM eval_ratings WHERE eval_run_id = ? ORDER BY created_at, rowid",
                           (eval_run_id,))
        ratings = [from_dict(Rating, r) for r in rows]
        if not latest_only:
            return ratings
        latest: dict[tuple[str, str], Rating] = {}
        for rating in ratings:
            latest[(rating.rater, rating.item_id)] = rating
        return list(latest.values())

    # -- gates and cross-validation --------------------------------------------------------------
    def set_run_gate(self, gate: RunGate) -> None:
        row = {"run_id": gate.run_id, "suite_id": gate.suite_id, "rules": _dumps([asdict(r) for r in gate.rules]),
               "every_checkpoint": int(gate.every_checkpoint), "cv_id": gate.cv_id, "fold": gate.fold,
               "created_at": gate.created_at or now_iso(), "created_by": gate.created_by or self.user}
        with self._lock, self._conn:
            self.db["run_gates"].upsert(row, pk="run_id")

    def run_gate(self, run_id: str) -> Optional[RunGate]:
        rows = self._query("SELECT * FROM run_gates WHERE run_id = ?", (run_id,))
        return _gate(rows[0]) if rows else None

    def list_run_gates(self) -> list[RunGate]:
        return [_gate(r) for r in self._query("SELECT * FROM run_gates ORDER BY created_at, rowid")]

    def add_cross_validation(self, name: str, dataset_version_id: str, base_model_id: str, k: int, seed: int,
                             config: dict[str, Any], metrics: list[MetricSpec], generation: GenerationSettings,
                             run_ids: list[str], suite_ids: list[str], cv_id: Optional[str] = None) -> CrossValidation:
        stamp = self._stamp()
        if cv_id:
            stamp["id"] = cv_id
        with self._lock, self._conn:
            self.db["cross_validations"].insert({
                **stamp, "name": name, "dataset_version_id": dataset_version_id, "base_model_id": base_model_id,
                "k": k, "seed": seed, "config": _dumps(config), "metrics": _dumps([asdict(m) for m in metrics]),
                "generation": _dumps(asdict(generation)), "run_ids": _dumps(run_ids), "suite_ids": _dumps(suite_ids)})
        return self.get_cross_validation(stamp["id"])

    def get_cross_validation(self, cv_id: str) -> CrossValidation:
        rows = self._query("SELECT * FROM cross_validations WHERE id = ?", (cv_id,))
        if not rows:
            raise ProjectError(f"No cross-validation with id {cv_id} in this project.")
        return _cv(rows[0])

    def list_cross_validations(self) -> list[CrossValidation]:
        return [_cv(r) for r in self._query("SELECT * FROM cross_validations ORDER BY created_at DESC, rowid DESC")]


def new_item_id() -> str:
    """An item id for an item typed by hand (items from a dataset use the row's position)."""
    return new_id()
