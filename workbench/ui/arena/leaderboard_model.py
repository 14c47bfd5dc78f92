"""The arena leaderboard: an item model of services.leaderboard.LeaderboardRow (best first) and
the panel that shows it, recomputed in a worker (it reads every vote of the project)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Optional, Union

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QVBoxLayout, QWidget

from workbench.ui.common.errors import show_error
from workbench.ui.common.page import hint
from workbench.ui.common.workers import Task, run_task

if TYPE_CHECKING:
    from workbench.services.leaderboard import LeaderboardRow

_Index = Union[QModelIndex, QPersistentModelIndex]
COLUMNS = ("#", "Model", "Win rate (95% CI)", "Bradley–Terry", "Elo", "Games", "Wins", "Losses", "Ties")
TIPS = {
    "Win rate (95% CI)": "Wins per pairwise game (ties and 'both bad' count half), with a 95% Wilson interval",
    "Bradley–Terry": "Bradley–Terry rating on the Elo scale (1000 = average), with a bootstrap interval",
    "Elo": "Online Elo from the votes in the order they were cast",
    "Games": "Pairwise games: a vote in a round of n models is n - 1 games for the winner",
}


def _pct(value: float) -> str:
    return "–" if value is None or math.isnan(value) else f"{value * 100:.0f}%"


def _rating(value: float) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.0f}"


class LeaderboardModel(QAbstractTableModel):
    def __init__(self, parent: Optional[Any] = None) -> None:
        super().__init__(parent)
        self._rows: list["LeaderboardRow"] = []

    def set_rows(self, rows: list["LeaderboardRow"]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def rows(self) -> list["LeaderboardRow"]:
        return list(self._rows)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return TIPS.get(COLUMNS[section], COLUMNS[section])
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row, column = self._rows[index.row()], COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return {
                "#": str(index.row() + 1),
                "Model": row.title,
                "Win rate (95% CI)": f"{_pct(row.win_rate)}  ({_pct(row.win_low)}–{_pct(row.win_high)})",
                "Bradley–Terry": _rating(row.bt) + (f"  ({_rating(row.bt_low)}–{_rating(row.bt_high)})"
                                                    if not math.isnan(row.bt_low) else ""),
                "Elo": _rating(row.elo),
                "Games": str(row.games), "Wins": str(row.wins), "Losses": str(row.losses), "Ties": str(row.ties),
            }[column]
        if role == Qt.ItemDataRole.ToolTipRole and column == "Model":
            return row.key
        if role == Qt.ItemDataRole.TextAlignmentRole and column not in ("Model",):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


def load_leaderboard(store: Any, progress=None, cancel=None) -> list:
    from workbench.services.leaderboard import leaderboard

    return leaderboard(store)


class LeaderboardPanel(QWidget):
    """The project's leaderboard from blind votes; refresh() recomputes it in a worker, one at
    a time (a refresh asked for meanwhile runs once after it)."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.model = LeaderboardModel(self)
        self.table = QTableView()
        self.table.setObjectName("arenaLeaderboard")
        self.table.setModel(self.model)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(COLUMNS.index("Model"), QHeaderView.ResizeMode.Stretch)
        self.note = hint("Leaderboard of this project, from blind votes.")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.note)
        layout.addWidget(self.table, 1)
        self.task: Optional[Task] = None
        self._store: Any = None
        self._owed = False

    def clear(self) -> None:
        self.model.set_rows([])

    def refresh(self, store: Any) -> None:
        self._store = store
        if store is None:
            self.clear()
            return
        if self.task is not None and self.task.running:
            self._owed = True
            return
        task = self.task = run_task(load_leaderboard, store, name="arena: leaderboard")
        task.finished.connect(lambda rows, t=task, s=store: self._loaded(t, s, rows))
        task.failed.connect(lambda exc, t=task: self.task is t and show_error(self, exc, "Leaderboard"))
        task.done.connect(lambda t=task: self._done(t))

    def _loaded(self, task: Task, store: Any, rows: list) -> None:
        if task is self.task and store is self._store:
            self.model.set_rows(rows)
            self.note.setText("Leaderboard of this project, from blind votes." if rows else
                              "No blind votes yet: vote on a round to rank the models.")

    def _done(self, task: Task) -> None:
        if task is self.task and self._owed:
            self._owed = False
            self.refresh(self._store)

    def shutdown(self) -> None:
        if self.task is not None:
            self.task.cancel()
