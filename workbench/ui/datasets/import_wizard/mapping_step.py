"""The column-mapping step of the import dialog: which source columns/keys hold which role.

Three shapes, as workbench.data.ColumnMapping has them: one column per role (system optional,
a second user column appended, e.g. Alpaca's instruction + input, earlier turns as
[user, assistant] pairs, and a rejected reply: then the rows are preference pairs), one column holding the list of turns (with its role/content keys and
how role values map to roles), or one column of plain text (all of it learned). The choices
and the mapping to start from come with the preview (ImportPreview.mapping_choices: the
detected format's mapping, or one guessed by the data layer); mapping() returns ColumnMapping
keyword arguments.
"""

from __future__ import annotations

from typing import Any, Optional

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QRadioButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

NONE = "(none)"


class MappingPanel(QWidget):
    changed = Signal()

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("mappingPanel")
        self.choices: Any = None  # the data layer's MappingChoices
        self.nested: dict[str, list[str]] = {}
        self.samples: list[Any] = []
        self.columns_radio = QRadioButton("One column per role")
        self.messages_radio = QRadioButton("One column holds the list of turns")
        self.text_radio = QRadioButton("One column of plain text (all of it is learned)")
        self.columns_radio.setChecked(True)
        group = QButtonGroup(self)
        for i, radio in enumerate((self.columns_radio, self.messages_radio, self.text_radio)):
            group.addButton(radio, i)
        group.idToggled.connect(lambda i, on: on and self._mode_changed(i))
        self.pages = QStackedWidget()

        self.system_combo, self.user_combo, self.user2_combo, self.assistant_combo, self.history_combo = (
            QComboBox() for _ in range(5))
        self.history_combo.setToolTip("A column of earlier turns as [user, assistant] pairs (Alpaca's history)")
        self.rejected_combo = QComboBox()
        self.rejected_combo.setObjectName("rejectedColumn")
        self.rejected_combo.setToolTip("A column with a worse reply: the rows become preference pairs (the "
                                       "assistant reply is the chosen one)")
        grid = QGridLayout()  # two columns of choices: the step fits a 650-pixel-high window
        for row, col, label, combo in ((0, 0, "User message:", self.user_combo),
                                       (0, 2, "…followed by:", self.user2_combo),
                                       (1, 0, "Assistant reply:", self.assistant_combo),
                                       (1, 2, "System prompt:", self.system_combo),
                                       (2, 0, "Rejected reply:", self.rejected_combo),
                                       (2, 2, "Earlier turns:", self.history_combo)):
            grid.addWidget(QLabel(label), row, col)
            grid.addWidget(combo, row, col + 1)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        self.pages.addWidget(self._box(grid))

        self.list_combo, self.role_key_combo, self.content_key_combo = QComboBox(), QComboBox(), QComboBox()
        self.role_values_edit = QLineEdit()
        self.role_values_edit.setPlaceholderText("e.g. customer=user, agent=assistant")
        self.values_label = QLabel()
        self.values_label.setObjectName("hint")
        self.values_label.setWordWrap(True)
        grid = QGridLayout()
        for row, col, label, widget in ((0, 0, "Turns are in:", self.list_combo),
                                        (0, 2, "Role values:", self.role_values_edit),
                                        (1, 0, "Role key:", self.role_key_combo),
                                        (1, 2, "Text key:", self.content_key_combo)):
            grid.addWidget(QLabel(label), row, col)
            grid.addWidget(widget, row, col + 1)
        grid.addWidget(self.values_label, 2, 0, 1, 4)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        self.pages.addWidget(self._box(grid))

        self.text_combo = QComboBox()
        form = QFormLayout()
        form.addRow("Text column:", self.text_combo)
        self.pages.addWidget(self._box(form))

        for combo in (self.system_combo, self.user_combo, self.user2_combo, self.assistant_combo,
                      self.history_combo, self.rejected_combo, self.role_key_combo, self.content_key_combo,
                      self.text_combo):
            combo.currentIndexChanged.connect(self._emit)
        self.list_combo.currentIndexChanged.connect(self._list_changed)
        self.role_values_edit.textChanged.connect(self._emit)
        radios = QHBoxLayout()
        for radio in (self.columns_radio, self.messages_radio, self.text_radio):
            radios.addWidget(radio)
        radios.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(radios)
        layout.addWidget(self.pages)
        self._quiet = False

    @staticmethod
    def _box(form: QFormLayout | QGridLayout) -> QWidget:
        box = QWidget()
        form.setContentsMargins(20, 4, 0, 0)
        box.setLayout(form)
        return box

    def _emit(self, *_args: Any) -> None:
        if not self._quiet:
            self.changed.emit()

    def _mode_changed(self, index: int) -> None:
        self.pages.setCurrentIndex(index)
        self._emit()

    # -- fields ----------------------------------------------------------------------------------
    def set_choices(self, choices: Any, nested: dict[str, list[str]], samples: list[Any]) -> None:
        """Fill the combos from a preview's MappingChoices and start from its suggested mapping
        (the detected format's, or one guessed from the names)."""
        self._quiet = True
        self.choices, self.nested, self.samples = choices, dict(nested), list(samples)
        for combo, optional in ((self.system_combo, True), (self.user_combo, False), (self.user2_combo, True),
                                (self.assistant_combo, False), (self.history_combo, True),
                                (self.rejected_combo, True), (self.text_combo, False)):
            combo.clear()
            if optional:
                combo.addItem(NONE, None)
            for f in choices.columns:
                combo.addItem(f, f)
        self.list_combo.clear()
        for f in choices.lists:
            self.list_combo.addItem(f, f)
        self._list_changed()
        self.apply(choices.suggested)
        self._quiet = False

    def apply(self, mapping: dict[str, Any]) -> None:
        """Show a mapping (ColumnMapping.to_dict() form); unknown columns are left as they are."""
        quiet, self._quiet = self._quiet, True

        def choose(combo: QComboBox, value: Optional[str]) -> None:
            index = combo.findData(value)
            if index >= 0:
                combo.setCurrentIndex(index)

        if mapping.get("messages"):
            self.messages_radio.setChecked(True)
            choose(self.list_combo, mapping["messages"])
            self._list_changed()
            choose(self.role_key_combo, mapping.get("role_key"))
            choose(self.content_key_combo, mapping.get("content_key"))
            values = mapping.get("role_values") or {}
            self.role_values_edit.setText(", ".join(f"{k}={v}" for k, v in values.items()))
        elif mapping.get("text"):
            self.text_radio.setChecked(True)
            choose(self.text_combo, mapping["text"])
        elif mapping.get("user"):
            self.columns_radio.setChecked(True)
            user = mapping["user"]
            users = [user] if isinstance(user, str) else list(user)
            choose(self.user_combo, users[0])
            choose(self.user2_combo, users[1] if len(users) > 1 else None)
            choose(self.assistant_combo, mapping.get("assistant"))
            choose(self.system_combo, mapping.get("system"))
            choose(self.history_combo, mapping.get("history"))
            choose(self.rejected_combo, mapping.get("rejected"))
        self._quiet = quiet
        self._show_role_values()
        self._emit()

    def _list_changed(self, *_args: Any) -> None:
        quiet, self._quiet = self._quiet, True
        field = self.list_combo.currentData() or ""
        keys = self.nested.get(field, [])
        guessed = self.choices.turn_keys.get(field, (None, None)) if self.choices is not None else (None, None)
        for combo, pick in ((self.role_key_combo, guessed[0]), (self.content_key_combo, guessed[1])):
            combo.clear()
            for k in keys:
                combo.addItem(k, k)
            if pick is not None:
                combo.setCurrentIndex(combo.findData(pick))
        self._quiet = quiet
        self._show_role_values()
        self._emit()

    def role_values_seen(self) -> list[str]:
        field, key = self.list_combo.currentData(), self.role_key_combo.currentData()
        seen: list[str] = []
        for s in self.samples:
            turns = s.get(field) if isinstance(s, dict) and field else None
            for t in turns if isinstance(turns, list) else []:
                value = t.get(key) if isinstance(t, dict) else None
                if isinstance(value, str) and value not in seen:
                    seen.append(value)
        return seen

    def _show_role_values(self) -> None:
        seen = self.role_values_seen()
        known = set(self.choices.known_role_values) if self.choices is not None else set()
        unknown = [v for v in seen if v.strip().lower() not in known]
        text = f"Values seen: {', '.join(seen)}." if seen else ""
        if unknown:
            text += f" Map {', '.join(unknown)} to system, user or assistant above."
        self.values_label.setText(text)

    # -- result ----------------------------------------------------------------------------------
    def mode(self) -> str:
        return ("columns", "messages", "text")[self.pages.currentIndex()]

    def mapping(self) -> dict[str, Any]:
        """ColumnMapping keyword arguments for the current choices."""
        mode = self.mode()
        if mode == "messages":
            out: dict[str, Any] = {"messages": self.list_combo.currentData(),
                                   "role_key": self.role_key_combo.currentData() or "role",
                                   "content_key": self.content_key_combo.currentData() or "content"}
            values = self.role_values_edit.text().strip()
            if values:
                out["role_values"] = values  # "customer=user, agent=assistant": ColumnMapping parses it
            return out
        if mode == "text":
            return {"text": self.text_combo.currentData()}
        user = [c for c in (self.user_combo.currentData(), self.user2_combo.currentData()) if c]
        out = {"user": user[0] if len(user) == 1 else user, "assistant": self.assistant_combo.currentData()}
        if self.system_combo.currentData():
            out["system"] = self.system_combo.currentData()
        if self.history_combo.currentData():
            out["history"] = self.history_combo.currentData()
        if self.rejected_combo.currentData():
            out["rejected"] = self.rejected_combo.currentData()
        return out

    def set_role_column(self, role: str, column: Optional[str]) -> None:
        """Choose `column` for `role` (system, user, user2, assistant, history, rejected, text): tests and
        scripts."""
        combo = {"system": self.system_combo, "user": self.user_combo, "user2": self.user2_combo,
                 "assistant": self.assistant_combo, "history": self.history_combo, "rejected": self.rejected_combo,
                 "text": self.text_combo}[role]
        index = combo.findData(column)
        if index < 0:
            raise ValueError(f"{column!r} is not a column of this file")
        combo.setCurrentIndex(index)
