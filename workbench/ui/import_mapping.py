"""The column-mapping step of the import dialog: which source columns/keys hold which role.

Three shapes, as workbench.data.ColumnMapping has them: one column per role (system optional,
a second user column appended, e.g. Alpaca's instruction + input), one column holding the list
of turns (with its role/content keys and how role values map to roles), or one column of
plain text (all of it learned). mapping() returns ColumnMapping keyword arguments.
"""

from __future__ import annotations

import re
from typing import Any, Optional

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QRadioButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

NONE = "(none)"
GUESSES = {
    "system": ("system", "system_prompt", "persona", "context"),
    "user": ("user", "prompt", "question", "instruction", "input", "query", "human", "customer", "q"),
    "assistant": ("assistant", "response", "answer", "output", "completion", "reply", "agent", "bot", "gpt", "a"),
    "text": ("text", "content", "body", "document"),
}
KNOWN_ROLES = {"system", "user", "assistant", "human", "gpt", "model", "bot"}


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def guess(fields: list[str], role: str, taken: set[str] = frozenset()) -> Optional[str]:  # type: ignore[assignment]
    """The field whose name best says it holds `role` (exact word first, then containing it)."""
    words = GUESSES[role]
    for word in words:
        for f in fields:
            if f not in taken and _norm(f) == word:
                return f
    for word in words:
        if len(word) < 3:
            continue
        for f in fields:
            if f not in taken and word in _norm(f):
                return f
    return None


def parse_role_values(text: str) -> dict[str, str]:
    """'customer=user, agent=assistant' -> {"customer": "user", "agent": "assistant"}."""
    out: dict[str, str] = {}
    for part in re.split(r"[,;\n]", text):
        if "=" in part:
            key, value = part.split("=", 1)
            if key.strip() and value.strip():
                out[key.strip()] = value.strip().lower()
    return out


class MappingPanel(QWidget):
    changed = Signal()

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("mappingPanel")
        self.fields: list[str] = []
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

        self.system_combo, self.user_combo, self.user2_combo, self.assistant_combo = (QComboBox() for _ in range(4))
        form = QFormLayout()
        form.addRow("System prompt:", self.system_combo)
        form.addRow("User message:", self.user_combo)
        form.addRow("  …followed by:", self.user2_combo)
        form.addRow("Assistant reply:", self.assistant_combo)
        self.pages.addWidget(self._box(form))

        self.list_combo, self.role_key_combo, self.content_key_combo = QComboBox(), QComboBox(), QComboBox()
        self.role_values_edit = QLineEdit()
        self.role_values_edit.setPlaceholderText("e.g. customer=user, agent=assistant")
        self.values_label = QLabel()
        self.values_label.setObjectName("hint")
        self.values_label.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Turns are in:", self.list_combo)
        form.addRow("Role key:", self.role_key_combo)
        form.addRow("Text key:", self.content_key_combo)
        form.addRow("Role values:", self.role_values_edit)
        form.addRow("", self.values_label)
        self.pages.addWidget(self._box(form))

        self.text_combo = QComboBox()
        form = QFormLayout()
        form.addRow("Text column:", self.text_combo)
        self.pages.addWidget(self._box(form))

        for combo in (self.system_combo, self.user_combo, self.user2_combo, self.assistant_combo,
                      self.role_key_combo, self.content_key_combo, self.text_combo):
            combo.currentIndexChanged.connect(self._emit)
        self.list_combo.currentIndexChanged.connect(self._list_changed)
        self.role_values_edit.textChanged.connect(self._emit)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.columns_radio)
        layout.addWidget(self.messages_radio)
        layout.addWidget(self.text_radio)
        layout.addWidget(self.pages)
        self._quiet = False

    @staticmethod
    def _box(form: QFormLayout) -> QWidget:
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
    def set_fields(self, fields: list[str], nested: dict[str, list[str]], samples: list[Any]) -> None:
        """Fill the combos from the file's fields and guess a mapping from their names."""
        self._quiet = True
        self.fields, self.nested, self.samples = list(fields), dict(nested), list(samples)
        objects = [f for f in fields if any(isinstance(s, dict) and isinstance(s.get(f), dict) for s in samples)]
        flat = [f for f in fields if f not in objects]
        flat += [f"{f}.{k}" for f in objects for k in nested.get(f, [])]  # dotted paths into objects
        lists = [f for f in fields if f in nested and f not in objects]
        for combo, optional in ((self.system_combo, True), (self.user_combo, False),
                                (self.user2_combo, True), (self.assistant_combo, False), (self.text_combo, False)):
            combo.clear()
            if optional:
                combo.addItem(NONE, None)
            for f in flat:
                combo.addItem(f, f)
        self.list_combo.clear()
        for f in lists:
            self.list_combo.addItem(f, f)
        taken: set[str] = set()
        for role, combo in (("user", self.user_combo), ("assistant", self.assistant_combo),
                            ("system", self.system_combo), ("text", self.text_combo)):
            found = guess(flat, role, taken if role != "text" else set())
            if found is not None:
                combo.setCurrentIndex(combo.findData(found))
                if role != "text":
                    taken.add(found)
        if self.assistant_combo.currentData() == self.user_combo.currentData() and len(flat) > 1:
            self.assistant_combo.setCurrentIndex(1 if self.user_combo.currentIndex() == 0 else 0)
        self._list_changed()
        if lists and not (guess(flat, "user") and guess(flat, "assistant")):
            self.messages_radio.setChecked(True)
        elif len(flat) == 1:
            self.text_radio.setChecked(True)
        self._quiet = False

    def _list_changed(self, *_args: Any) -> None:
        quiet, self._quiet = self._quiet, True
        keys = self.nested.get(self.list_combo.currentData() or "", [])
        for combo, wanted in ((self.role_key_combo, ("role", "from", "speaker", "author")),
                              (self.content_key_combo, ("content", "value", "text", "message"))):
            combo.clear()
            for k in keys:
                combo.addItem(k, k)
            pick = next((k for w in wanted for k in keys if k.lower() == w), None)
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
        unknown = [v for v in seen if v.strip().lower() not in KNOWN_ROLES]
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
            values = parse_role_values(self.role_values_edit.text())
            if values:
                out["role_values"] = values
            return out
        if mode == "text":
            return {"text": self.text_combo.currentData()}
        user = [c for c in (self.user_combo.currentData(), self.user2_combo.currentData()) if c]
        out = {"user": user[0] if len(user) == 1 else user, "assistant": self.assistant_combo.currentData()}
        if self.system_combo.currentData():
            out["system"] = self.system_combo.currentData()
        return out

    def set_role_column(self, role: str, column: Optional[str]) -> None:
        """Choose `column` for `role` (system, user, user2, assistant, text): tests and scripts."""
        combo = {"system": self.system_combo, "user": self.user_combo, "user2": self.user2_combo,
                 "assistant": self.assistant_combo, "text": self.text_combo}[role]
        index = combo.findData(column)
        if index < 0:
            raise ValueError(f"{column!r} is not a column of this file")
        combo.setCurrentIndex(index)
