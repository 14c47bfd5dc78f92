"""The Arena page's pieces: one pane per display position (streaming its side's reply) and the
row of model pickers (two to four, add / remove)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QVBoxLayout, QWidget

from workbench.core.chat_records import MAX_ARENA_SIDES, SIDE_LETTERS
from workbench.ui.chat.widgets import ModelCombo
from workbench.ui.common.chat_view import ChatView

if TYPE_CHECKING:
    from workbench.core.chat_records import Turn
    from workbench.services.chat import ChatChoice

MIN_SIDES = 2


class SidePane(QFrame):
    """One display position: its title (the model's name once revealed), the conversation of
    the side shown there with the reply streaming into the last bubble, and "Rate / correct…"."""

    rate_requested = Signal(int)  # display position

    def __init__(self, position: int, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.position = position
        self.setObjectName(f"arenaPane{SIDE_LETTERS[position].upper()}")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = QLabel(f"Model {SIDE_LETTERS[position].upper()}")
        self.title.setObjectName("arenaPaneTitle")
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.status = QLabel("")
        self.status.setObjectName("hint")
        self.view = ChatView()
        self.view.setObjectName(f"arenaView{SIDE_LETTERS[position].upper()}")
        self.rate_button = QPushButton("Rate / correct…")
        self.rate_button.setToolTip("Rate this reply or write it as it should have been")
        self.rate_button.setEnabled(False)
        self.rate_button.clicked.connect(lambda *_: self.rate_requested.emit(self.position))
        head = QHBoxLayout()
        head.addWidget(self.title, 1)
        head.addWidget(self.status)
        foot = QHBoxLayout()
        foot.addStretch(1)
        foot.addWidget(self.rate_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(head)
        layout.addWidget(self.view, 1)
        layout.addLayout(foot)

    @property
    def text(self) -> str:
        """The reply shown (streamed so far)."""
        messages = self.view.messages()
        return messages[-1]["content"] if messages and messages[-1]["role"] == "assistant" else ""

    def show_round(self, turns: list["Turn"]) -> None:
        """A new round: the side's conversation and an empty reply to stream into (one full
        render per round, never per token)."""
        messages = [{"role": t.role, "content": t.content} for t in turns]
        messages.append({"role": "assistant", "content": ""})
        self.view.set_messages(messages)  # "generating…" is in the pane's status, not a note to re-render away
        self.status.setText("generating…")
        self.rate_button.setEnabled(False)

    def append(self, text: str) -> None:
        self.view.append_to_last(text)

    def finish(self, text: str, note: str) -> None:
        """The reply is stored: its final text (stop strings cut) with how it was made in place
        of "typing…" (one render per reply)."""
        messages = self.view.messages()
        if messages and messages[-1]["role"] == "assistant":
            messages[-1]["content"] = text
            self.view.set_messages(messages, {len(messages) - 1: note} if note else {})
        self.status.setText(note)

    def clear(self, placeholder: str) -> None:
        self.view.set_messages([])
        self.view.set_placeholder(placeholder)
        self.status.setText("")
        self.rate_button.setEnabled(False)


class SidePickers(QWidget):
    """Two to four model selectors; "Add model" adds one, the × next to one removes it."""

    changed = Signal()

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.combos: list[ModelCombo] = []
        self.remove_buttons: list[QToolButton] = []
        self._choices: list["ChatChoice"] = []
        self._row = QHBoxLayout(self)
        self._row.setContentsMargins(0, 0, 0, 0)
        self.add_button = QPushButton("Add model")
        self.add_button.setObjectName("arenaAddSide")
        self.add_button.setToolTip(f"Compare up to {MAX_ARENA_SIDES} models")
        self.add_button.clicked.connect(lambda *_: self.add_side())
        self._row.addWidget(self.add_button)
        self._row.addStretch(1)
        for _ in range(MIN_SIDES):
            self.add_side()

    def set_choices(self, choices: list["ChatChoice"]) -> None:
        """Fill every selector, keeping what each had selected; new selectors pick different models."""
        if choices == self._choices:
            return
        kept = [self.choice(i) for i in range(len(self.combos))]
        self._choices = list(choices)
        for i, combo in enumerate(self.combos):
            self._fill(combo, kept[i].key if kept[i] is not None else None, default=i)
        self.changed.emit()

    def _fill(self, combo: ModelCombo, key, default: int) -> None:
        combo.blockSignals(True)
        combo.clear()
        for choice in self._choices:
            combo.addItem(choice.label)
        keys = [c.key for c in self._choices]
        index = keys.index(key) if key in keys else (min(default, len(keys) - 1) if keys else -1)
        combo.setCurrentIndex(index)
        combo.blockSignals(False)

    def add_side(self) -> None:
        if len(self.combos) >= MAX_ARENA_SIDES:
            return
        position = len(self.combos)
        combo = ModelCombo()
        combo.setObjectName(f"arenaModel{SIDE_LETTERS[position].upper()}")
        # Long run names must not widen the page (four pickers fit a 1024-pixel screen).
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(10)
        combo.setMinimumWidth(120)
        combo.currentIndexChanged.connect(lambda _i: self.changed.emit())
        remove = QToolButton()
        remove.setText("×")  # a QToolButton: the push button's padding left no room for the glyph
        remove.setToolTip("Remove this model")
        remove.setAutoRaise(True)
        remove.clicked.connect(lambda *_, c=combo: self.remove_side(self.combos.index(c)))
        at = 2 * position
        self._row.insertWidget(at, combo, 1)
        self._row.insertWidget(at + 1, remove)
        self.combos.append(combo)
        self.remove_buttons.append(remove)
        self._fill(combo, None, default=position)
        self._update()
        self.changed.emit()

    def remove_side(self, index: int) -> None:
        if len(self.combos) <= MIN_SIDES or not 0 <= index < len(self.combos):
            return
        combo, remove = self.combos.pop(index), self.remove_buttons.pop(index)
        for widget in (combo, remove):
            self._row.removeWidget(widget)
            widget.deleteLater()
        for position, c in enumerate(self.combos):
            c.setObjectName(f"arenaModel{SIDE_LETTERS[position].upper()}")
        self._update()
        self.changed.emit()

    def _update(self) -> None:
        self.add_button.setEnabled(len(self.combos) < MAX_ARENA_SIDES)
        for remove in self.remove_buttons:
            remove.setEnabled(len(self.combos) > MIN_SIDES)

    def choice(self, index: int) -> Optional["ChatChoice"]:
        at = self.combos[index].currentIndex() if 0 <= index < len(self.combos) else -1
        return self._choices[at] if 0 <= at < len(self._choices) else None

    def selected(self) -> list["ChatChoice"]:
        return [c for c in (self.choice(i) for i in range(len(self.combos))) if c is not None]

    def select(self, index: int, key) -> bool:
        keys = [c.key for c in self._choices]
        if key not in keys or not 0 <= index < len(self.combos):
            return False
        self.combos[index].setCurrentIndex(keys.index(key))
        return True

    def setEnabled(self, enabled: bool) -> None:  # noqa: N802 (Qt API)
        super().setEnabled(enabled)
        self._update()
