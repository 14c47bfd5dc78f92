"""Split… : a seeded train/validation/test split of a version (ratios or counts, optionally
stratified by a field of the source records), its three versions, and a leakage check across
them (exact and near duplicates that landed in different splits)."""

from __future__ import annotations

from typing import Any, Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QComboBox,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.ui.common.task_dialog import TaskDialog

SPLITS = ("train", "validation", "test")
DEFAULT_RATIOS = (0.8, 0.1, 0.1)
PAIR_COLUMNS = ("Kind", "Split", "Row", "Split", "Row", "Similarity")
LEAK_TABLE_ROWS = 500


def run_split(store: Any, version_id: str, *, ratios: Optional[dict[str, float]], counts: Optional[dict[str, int]],
              seed: int, stratify_by: Optional[str], threshold: float, progress=None, cancel=None):
    """Worker: make (or find) the split, then check it for leakage -> (versions, LeakageReport,
    {version id: title})."""
    from workbench.core.progress import report
    from workbench.services import dataset_ops

    versions = dataset_ops.make_split(store, version_id, ratios=ratios, counts=counts, seed=seed,
                                      stratify_by=stratify_by,
                                      progress=lambda f, m: report(progress, 0.6 * f, m), cancel=cancel)
    leaks = dataset_ops.leakage_report(store, {n: v.id for n, v in versions.items()}, threshold=threshold,
                                       max_pairs=LEAK_TABLE_ROWS,
                                       progress=lambda f, m: report(progress, 0.6 + 0.4 * f, m), cancel=cancel)
    return versions, leaks, dataset_ops.version_titles(store, list(versions.values()))


def source_fields(store: Any, version_id: str, sample: int = 50) -> list[str]:
    """Top-level fields of the first source records (what a split can be stratified by)."""
    from workbench.services import datasets

    fields: list[str] = []
    for row in datasets.read_rows(store, version_id, 0, sample):
        source = row.get("source")
        if isinstance(source, dict):
            fields.extend(k for k in source if k not in fields and k not in ("messages", "conversations"))
    return fields


class SplitDialog(TaskDialog):
    versions_created = Signal(object)  # {"train": DatasetVersion, ...}

    def __init__(self, store: Any, version: Any, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.store, self.version = store, version
        self.setObjectName("splitDialog")
        from workbench.services import dataset_ops

        self.setWindowTitle(f"Split — {dataset_ops.title_of(store, version)}")
        self.resize(760, 620)
        self.result: Optional[tuple[dict[str, Any], Any]] = None  # (versions, LeakageReport)

        self.ratio_radio = QRadioButton("Ratios")
        self.count_radio = QRadioButton("Row counts")
        self.ratio_radio.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.ratio_radio)
        group.addButton(self.count_radio)
        self.ratio_spins: dict[str, QDoubleSpinBox] = {}
        self.count_spins: dict[str, QSpinBox] = {}
        grid = QGridLayout()
        grid.addWidget(self.ratio_radio, 0, 1)
        grid.addWidget(self.count_radio, 0, 2)
        n = version.row_count
        for i, (name, ratio) in enumerate(zip(SPLITS, DEFAULT_RATIOS), start=1):
            r = QDoubleSpinBox()
            r.setRange(0.0, 1.0)
            r.setSingleStep(0.05)
            r.setDecimals(3)
            r.setValue(ratio)
            c = QSpinBox()
            c.setRange(0, max(0, n))
            c.setValue(int(round(n * ratio)) if name != "train" else n - 2 * int(round(n * 0.1)))
            c.setGroupSeparatorShown(True)
            self.ratio_spins[name], self.count_spins[name] = r, c
            grid.addWidget(QLabel(name.capitalize() + ":"), i, 0)
            grid.addWidget(r, i, 1)
            grid.addWidget(c, i, 2)
            r.valueChanged.connect(self._check)
            c.valueChanged.connect(self._check)
        self.ratio_radio.toggled.connect(self._mode_changed)

        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setValue(42)
        self.stratify_combo = QComboBox()
        self.stratify_combo.addItem("(none)", None)
        try:
            for name in source_fields(store, version.id):
                self.stratify_combo.addItem(name, name)
        except Exception:  # noqa: BLE001 - a damaged blob: the split itself will report it
            pass
        self.threshold_spin = QDoubleSpinBox()
        self.threshold_spin.setRange(0.3, 1.0)
        self.threshold_spin.setSingleStep(0.05)
        self.threshold_spin.setValue(0.8)
        form = QFormLayout()
        form.addRow("Sizes:", self._wrap(grid))
        form.addRow("Seed:", self.seed_spin)
        form.addRow("Stratify by:", self.stratify_combo)
        form.addRow("Leakage similarity:", self.threshold_spin)
        self.check_label = QLabel()
        self.check_label.setObjectName("hint")

        self.split_button = QPushButton("Split")
        self.split_button.setObjectName("primary")
        self.split_button.clicked.connect(self.split)
        row = QHBoxLayout()
        row.addWidget(self.check_label, 1)
        row.addWidget(self.split_button)

        self.versions_table = QTableWidget(0, 3)
        self.versions_table.setObjectName("splitVersions")
        self.versions_table.setHorizontalHeaderLabels(("Split", "Rows", "Version"))
        self.versions_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.versions_table.verticalHeader().hide()
        self.versions_table.horizontalHeader().setStretchLastSection(True)
        self.versions_table.setMaximumHeight(130)
        self.leak_label = QLabel("Make the split to check it for leakage.")
        self.leak_label.setObjectName("leakSummary")
        self.leak_label.setWordWrap(True)
        self.pairs_table = QTableWidget(0, len(PAIR_COLUMNS))
        self.pairs_table.setObjectName("leakPairs")
        self.pairs_table.setHorizontalHeaderLabels(PAIR_COLUMNS)
        self.pairs_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.pairs_table.verticalHeader().hide()
        self.pairs_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(row)
        layout.addWidget(self.progress)
        layout.addWidget(QLabel("Resulting versions"))
        layout.addWidget(self.versions_table)
        layout.addWidget(self.leak_label)
        layout.addWidget(self.pairs_table, 1)
        layout.addWidget(self.buttons)
        self._mode_changed()

    @staticmethod
    def _wrap(layout) -> QWidget:
        box = QWidget()
        layout.setContentsMargins(0, 0, 0, 0)
        box.setLayout(layout)
        return box

    def _mode_changed(self) -> None:
        ratios = self.ratio_radio.isChecked()
        for name in SPLITS:
            self.ratio_spins[name].setEnabled(ratios)
            self.count_spins[name].setEnabled(not ratios)
        self._check()

    def spec(self) -> tuple[Optional[dict[str, float]], Optional[dict[str, int]]]:
        if self.ratio_radio.isChecked():
            return {n: round(self.ratio_spins[n].value(), 6) for n in SPLITS}, None
        return None, {n: self.count_spins[n].value() for n in SPLITS}

    def _check(self) -> bool:
        ratios, counts = self.spec()
        if ratios is not None:
            total = sum(ratios.values())
            ok = abs(total - 1.0) < 1e-6
            text = "" if ok else f"The ratios add up to {total:g}; they must add up to 1."
        else:
            total = sum((counts or {}).values())
            ok = total <= self.version.row_count
            text = (f"{self.version.row_count - total:,} rows left out." if ok and total < self.version.row_count
                    else "" if ok else f"{total:,} rows asked for; the version has {self.version.row_count:,}.")
        self.check_label.setText(text)
        self.split_button.setEnabled(ok and not self.busy)
        return ok

    def split(self) -> None:
        if not self._check():
            return
        ratios, counts = self.spec()
        self.start_task(run_split, self.store, self.version.id, ratios=ratios, counts=counts,
                        seed=self.seed_spin.value(), stratify_by=self.stratify_combo.currentData(),
                        threshold=self.threshold_spin.value(), label="Splitting…", on_result=self._show)

    def _show(self, result: tuple[dict[str, Any], Any, dict[str, str]]) -> None:
        versions, leaks, titles = result
        self.result = versions, leaks
        table = self.versions_table
        table.setRowCount(len(versions))
        for i, name in enumerate(SPLITS):
            v = versions.get(name)
            if v is None:
                continue
            for j, text in enumerate((name, f"{v.row_count:,}", titles.get(v.id, v.id[:8]))):
                item = QTableWidgetItem(text)
                item.setToolTip(f"version {v.id}")
                table.setItem(i, j, item)
        total = leaks.exact_pairs + leaks.near_pairs
        if total == 0:
            self.leak_label.setText(f"No leakage: no row of one split is an exact or near duplicate "
                                    f"(similarity ≥ {leaks.threshold:g}) of a row in another.")
        else:
            by = ", ".join(f"{k}: {v:,}" for k, v in leaks.by_splits.items() if v)
            more = f" The table lists the first {len(leaks.pairs):,}." if leaks.pairs_truncated else ""
            self.leak_label.setText(
                f"<b>Leakage: {total:,} pair(s) across splits</b> — {leaks.exact_pairs:,} exact, "
                f"{leaks.near_pairs:,} near (similarity ≥ {leaks.threshold:g}); {by}.{more} "
                "Clean duplicates from the parent version and split again.")
        pairs = self.pairs_table
        pairs.setRowCount(len(leaks.pairs))
        for i, p in enumerate(leaks.pairs):
            cells = (p.kind, p.split_a, str(p.row_a + 1), p.split_b, str(p.row_b + 1), f"{p.similarity:.2f}")
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if j in (2, 4, 5):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                pairs.setItem(i, j, item)
        self.versions_created.emit(versions)

    def busy_changed(self, busy: bool) -> None:
        self._check()
