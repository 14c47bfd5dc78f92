"""Seeded train/validation/test splits, optionally stratified by a label in the source record,
and a leakage check across the splits (exact and near duplicates).

A split is identified by `split_id`: a hash of the parent's content and every parameter, so
asking for the same split again (here or in a teammate's copy) finds the one already made.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np

from workbench.core.progress import CancelToken, ProgressCallback, report
from workbench.data.ops import dedup
from workbench.data.storage.parquet_io import count_rows
from workbench.data.storage.rowio import DataOpError, VersionWriter, WrittenBlob, iter_message_batches, iter_rows

SPLITS = ("train", "validation", "test")
MISSING_LABEL = "(missing)"


@dataclass(frozen=True)
class SplitSpec:
    """Either ratios (summing to 1) or counts (validation and test; train gets the rest unless
    given, and rows beyond the three counts are left out)."""

    ratios: Optional[dict[str, float]] = None
    counts: Optional[dict[str, int]] = None
    seed: int = 42
    stratify_by: Optional[str] = None

    def check(self) -> None:
        if (self.ratios is None) == (self.counts is None):
            raise DataOpError("Give split ratios or split counts (one of them).",
                              advice="For example ratios 0.8/0.1/0.1, or counts validation=100 test=100.")
        given = self.ratios if self.ratios is not None else self.counts
        unknown = sorted(set(given or {}) - set(SPLITS))
        if unknown:
            raise DataOpError(f"Unknown split name(s): {', '.join(unknown)}.", advice="Use train, validation, test.")
        values = list((given or {}).values())
        if any(v is None or v < 0 for v in values):
            raise DataOpError("Split sizes cannot be negative.", advice="Use ratios or counts >= 0.")
        if self.ratios is not None and abs(sum(self.ratios.values()) - 1.0) > 1e-6:
            raise DataOpError(f"Split ratios add up to {sum(self.ratios.values()):g}, not 1.",
                              advice="For example train 0.8, validation 0.1, test 0.1.")

    def record(self) -> dict[str, Any]:
        ratios = {k: float(self.ratios.get(k, 0.0)) for k in SPLITS} if self.ratios is not None else None
        counts = ({k: int(v) for k, v in self.counts.items() if v is not None}
                  if self.counts is not None else None)
        return {"ratios": ratios, "counts": counts, "seed": int(self.seed), "stratify_by": self.stratify_by}

    def split_id(self, parent_content_hash: str) -> str:
        text = json.dumps({"parent": parent_content_hash, "algorithm": 1, **self.record()}, sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def _targets(spec: SplitSpec, n: int) -> dict[str, int]:
    if spec.ratios is not None:
        val = int(round(n * spec.ratios.get("validation", 0.0)))
        test = int(round(n * spec.ratios.get("test", 0.0)))
        val, test = min(val, n), min(test, n - min(val, n))
        return {"train": n - val - test, "validation": val, "test": test}
    counts = spec.counts or {}
    val, test = int(counts.get("validation", 0)), int(counts.get("test", 0))
    train = counts.get("train")
    train = n - val - test if train is None else int(train)
    if train < 0 or train + val + test > n:
        raise DataOpError(f"The split counts ({train + val + test:,} rows) exceed the {n:,} rows of the version.",
                          advice="Ask for fewer rows, or use ratios.")
    return {"train": train, "validation": val, "test": test}


def _apportion(strata: list[int], targets: list[int]) -> np.ndarray:
    """Integer table [stratum, split] whose rows sum to the stratum sizes and whose columns sum
    to the targets, as proportional as possible (largest remainders first)."""
    n = sum(strata)
    want = np.array(targets, dtype=np.float64)
    sizes = np.array(strata, dtype=np.float64)
    ideal = sizes[:, None] * want[None, :] / max(n, 1)
    table = np.floor(ideal).astype(np.int64)
    row_need = np.array(strata) - table.sum(axis=1)
    col_need = np.array(targets) - table.sum(axis=0)
    frac = ideal - table
    for flat in np.argsort(-frac, axis=None, kind="stable"):
        h, s = divmod(int(flat), len(targets))
        if row_need[h] > 0 and col_need[s] > 0:
            table[h, s] += 1
            row_need[h] -= 1
            col_need[s] -= 1
    for h in np.flatnonzero(row_need > 0):  # what rounding could not place proportionally
        for s in np.flatnonzero(col_need > 0):
            take = min(row_need[h], col_need[s])
            table[h, s] += take
            row_need[h] -= take
            col_need[s] -= take
    return table


def _label(source: Any, key: str) -> str:
    value = source.get(key) if isinstance(source, dict) else None
    if value is None:
        return MISSING_LABEL
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


@dataclass(frozen=True)
class SplitPlan:
    assignment: np.ndarray  # split number (0 train, 1 validation, 2 test, -1 unused) per row
    sizes: dict[str, int]
    strata: dict[str, dict[str, int]]  # label -> split -> rows (stratified splits only)


def plan_split(path: str | Path, spec: SplitSpec, cancel: Optional[CancelToken] = None) -> SplitPlan:
    spec.check()
    codes: dict[str, int] = {}
    if spec.stratify_by:
        # One small int per row (labels interned), not one string per row.
        labels = np.fromiter((codes.setdefault(_label(json.loads(r.source_json), spec.stratify_by), len(codes))
                              for r in iter_rows(path, columns=("source",), cancel=cancel)), dtype=np.int32)
    else:
        labels = np.zeros(count_rows(path), dtype=np.int32)
        codes[""] = 0
    n = len(labels)
    targets = _targets(spec, n)
    if spec.stratify_by and list(codes) == [MISSING_LABEL]:
        raise DataOpError(f"No row's source record has a field '{spec.stratify_by}'.",
                          advice="Stratify by a field the imported records have, or split without it.")
    order = sorted(codes)  # strata in label order: the same split whatever order rows came in
    by_code = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[by_code], np.arange(len(codes) + 1))
    groups = {lab: by_code[bounds[codes[lab]]:bounds[codes[lab] + 1]] for lab in order}
    table = _apportion([len(groups[lab]) for lab in order], [targets[s] for s in SPLITS])
    rng = np.random.Generator(np.random.PCG64(spec.seed))
    assignment = np.full(n, -1, dtype=np.int8)
    strata: dict[str, dict[str, int]] = {}
    for h, lab in enumerate(order):
        members = groups[lab][rng.permutation(len(groups[lab]))]
        pos = 0
        for s, _name in enumerate(SPLITS):
            assignment[members[pos:pos + table[h, s]]] = s
            pos += int(table[h, s])
        if spec.stratify_by:
            strata[lab] = {name: int(table[h, s]) for s, name in enumerate(SPLITS)}
    sizes = {name: int((assignment == s).sum()) for s, name in enumerate(SPLITS)}
    sizes["unused"] = int((assignment == -1).sum())
    return SplitPlan(assignment, sizes, strata)


def write_split(path: str | Path, plan: SplitPlan, dest_dir: str | Path,
                progress: Optional[ProgressCallback] = None,
                cancel: Optional[CancelToken] = None) -> dict[str, WrittenBlob]:
    """One blob per split, rows in their original order; all written or none."""
    writers = {name: VersionWriter(dest_dir, like=path) for name in SPLITS}
    try:
        for row in iter_rows(path, cancel=cancel, progress=progress, label="Writing splits"):
            s = int(plan.assignment[row.index])
            if s >= 0:
                writers[SPLITS[s]].add(row)
        return {name: w.commit() for name, w in writers.items()}
    except BaseException:
        for w in writers.values():
            w.discard()
        raise


@dataclass(frozen=True)
class LeakPair:
    kind: str  # "exact" or "near"
    split_a: str
    row_a: int  # row index in split_a's version
    split_b: str
    row_b: int
    similarity: float


@dataclass(frozen=True)
class LeakageReport:
    rows: dict[str, int]
    exact_pairs: int
    near_pairs: int  # near but not exact
    pairs: list[LeakPair]  # the first max_pairs (exact first)
    pairs_truncated: bool
    by_splits: dict[str, int] = field(default_factory=dict)  # "train/test" -> pairs
    threshold: float = 0.8


def leakage(paths: dict[str, str | Path], *, threshold: float = 0.8, num_perm: int = 128, shingle_size: int = 3,
            include_system: bool = False, max_pairs: int = 1000, progress: Optional[ProgressCallback] = None,
            cancel: Optional[CancelToken] = None) -> LeakageReport:
    """Exact and near duplicates between different splits (never within one)."""
    names = list(paths)
    hasher = dedup.MinHasher(num_perm, shingle_size)
    keys, sigs, group, local = [], [], [], []
    total, done = sum(count_rows(paths[name]) for name in names), 0
    for g, name in enumerate(names):
        count = 0
        for batch in iter_message_batches(paths[name], cancel=cancel):
            keys.append(dedup.exact_keys(batch))
            sigs.append(hasher.signatures(dedup.texts_of(batch, include_system)))
            count += len(batch)
            done += len(batch)
            report(progress, 0.85 * done / max(1, total), f"Hashing {name}: {done:,}/{total:,} rows")
        group.append(np.full(count, g, dtype=np.int64))
        local.append(np.arange(count, dtype=np.int64))
    rows = {name: int(len(gr)) for name, gr in zip(names, group)}
    all_keys = np.concatenate(keys) if keys else np.zeros((0, 2), np.uint64)
    all_sigs = np.concatenate(sigs) if sigs else np.zeros((0, num_perm), np.uint32)
    groups = np.concatenate(group) if group else np.zeros(0, np.int64)
    index = np.concatenate(local) if local else np.zeros(0, np.int64)
    report(progress, 0.85, "Comparing splits")
    inverse = np.zeros(len(all_keys), dtype=np.int64)
    exact_pairs: list[tuple[int, int]] = []
    exact_count = 0
    by: dict[str, int] = {}
    if len(all_keys):
        inverse = np.unique(all_keys, axis=0, return_inverse=True)[1].reshape(-1)
        order = np.argsort(inverse, kind="stable")
        order = order[np.bincount(inverse)[inverse[order]] > 1]  # only keys seen twice or more
        bounds = np.flatnonzero(np.diff(inverse[order])) + 1
        for members in (np.split(order, bounds) if len(order) else []):
            per_split = np.bincount(groups[members], minlength=len(names))
            cross = (len(members) * (len(members) - 1) - int((per_split * (per_split - 1)).sum())) // 2
            exact_count += cross
            for ga in range(len(names)):
                for gb in range(ga + 1, len(names)):
                    if per_split[ga] and per_split[gb]:
                        key = f"{names[ga]}/{names[gb]}"
                        by[key] = by.get(key, 0) + int(per_split[ga] * per_split[gb])
            for a in range(len(members)):  # materialise only as many as are reported
                if not cross or len(exact_pairs) >= max_pairs:
                    break
                for b in range(a + 1, len(members)):
                    i, j = int(members[a]), int(members[b])
                    if groups[i] != groups[j] and len(exact_pairs) < max_pairs:
                        exact_pairs.append((i, j))
    near, sims = dedup.cross_pairs(all_sigs, groups, threshold, cancel)
    not_exact = inverse[near[:, 0]] != inverse[near[:, 1]] if len(near) else np.zeros(0, dtype=bool)
    near, sims = near[not_exact], sims[not_exact]
    found = [("exact", i, j, 1.0) for i, j in exact_pairs]
    found += [("near", int(i), int(j), round(float(s), 4)) for (i, j), s in zip(near.tolist(), sims.tolist())]
    pairs = []
    for kind, i, j, sim in found:
        a, b = names[groups[i]], names[groups[j]]
        if kind == "near":
            by[f"{a}/{b}"] = by.get(f"{a}/{b}", 0) + 1
        if len(pairs) < max_pairs:
            pairs.append(LeakPair(kind, a, int(index[i]), b, int(index[j]), sim))
    total = exact_count + len(near)
    report(progress, 1.0, f"{total:,} pairs across splits")
    return LeakageReport(rows, exact_count, len(near), pairs, total > len(pairs), by, threshold)
