"""Rate / correct a reply: thumbs up or down, 1-5, tags, a comment, and the reply as it should
have been (prefilled with the reply, so a correction is an edit). The rater's current feedback
on the reply is shown; OK saves only what changed (small indexed writes) and tells the other
pages through ctx.feedback_changed. The Chat and Arena pages open it per reply."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from workbench.services import feedback
from workbench.ui.common.errors import show_error
from workbench.ui.common.page import hint
from workbench.ui.shell.context import ProjectContext

SCALE_VALUES = (1, 2, 3, 4, 5)
KIND_TITLES = {"sft": "SFT rows (prompt + reply)", "preference": "Preference pairs (chosen / rejected)"}


class FeedbackDialog(QDialog):
    feedback_saved = Signal(str)  # message id, after something was written

    def __init__(self, ctx: ProjectContext, message_id: str, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("feedbackDialog")
        self.setWindowTitle("Rate / correct reply")
        self.ctx = ctx
        self.message_id = message_id
        self.current = feedback.message_rating(ctx.store, message_id)
        self.written: list = []  # the records the last OK wrote

        # The app's stylesheets do not mark a checked button; palette colours follow the theme.
        self.setStyleSheet("QPushButton:checked { background: palette(highlight); color: palette(highlighted-text);"
                           " border-color: palette(highlight); }")
        self.thumbs_up = self._toggle("Thumbs up", "thumbsUp")
        self.thumbs_down = self._toggle("Thumbs down", "thumbsDown")
        self._exclusive_when_checked(self.thumbs_up, self.thumbs_down)
        thumbs = QHBoxLayout()
        thumbs.addWidget(self.thumbs_up)
        thumbs.addWidget(self.thumbs_down)
        thumbs.addStretch(1)

        self.scale_buttons: dict[int, QPushButton] = {}
        self._scale_group = QButtonGroup(self)
        self._scale_group.setExclusive(False)  # a second click on the checked value clears it
        scale = QHBoxLayout()
        for value in SCALE_VALUES:
            button = self._toggle(str(value), f"scale{value}")
            button.setToolTip(f"{value} of 5")
            button.toggled.connect(lambda on, v=value: on and self._only_scale(v))
            self._scale_group.addButton(button, value)
            self.scale_buttons[value] = button
            scale.addWidget(button)
        scale.addStretch(1)

        self.tags = QLineEdit()
        self.tags.setObjectName("feedbackTags")
        self.tags.setPlaceholderText("comma-separated, e.g. wrong fact, too long")
        self.comment = QLineEdit()
        self.comment.setObjectName("feedbackComment")
        self.comment.setPlaceholderText("what was good or wrong (optional)")
        self.correction = QPlainTextEdit()
        self.correction.setObjectName("feedbackCorrection")
        self.correction.setTabChangesFocus(True)
        self.reset_correction = QPushButton("Reset to the reply")
        self.reset_correction.setObjectName("resetCorrection")
        self.reset_correction.clicked.connect(lambda: self.correction.setPlainText(self.current.reply))

        form = QFormLayout()
        form.addRow("Thumbs", thumbs)
        form.addRow("Rating", scale)
        form.addRow("Tags", self.tags)
        form.addRow("Comment", self.comment)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.buttons = buttons

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        correction_row = QHBoxLayout()
        correction_row.addWidget(QLabel("Correction: the reply as it should have been"))
        correction_row.addStretch(1)
        correction_row.addWidget(self.reset_correction)
        layout.addLayout(correction_row)
        layout.addWidget(self.correction, 1)
        layout.addWidget(hint("An edited reply becomes a training row (SFT) and a preference pair "
                              "(your text chosen over the model's). Leave it as it is for no correction."))
        layout.addWidget(buttons)
        self.resize(640, 520)
        self._show(self.current)

    # -- widgets ---------------------------------------------------------------------------------
    def _toggle(self, text: str, name: str) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        button.setCheckable(True)
        return button

    def _exclusive_when_checked(self, a: QPushButton, b: QPushButton) -> None:
        # Like an exclusive group, but clicking the checked one clears the thumb.
        a.toggled.connect(lambda on: on and b.setChecked(False))
        b.toggled.connect(lambda on: on and a.setChecked(False))

    def _only_scale(self, value: int) -> None:
        for other, button in self.scale_buttons.items():
            if other != value:
                button.setChecked(False)

    def _show(self, rating) -> None:
        self.thumbs_up.setChecked(rating.thumbs == 1)
        self.thumbs_down.setChecked(rating.thumbs == -1)
        for value, button in self.scale_buttons.items():
            button.setChecked(rating.scale == value)
        self.tags.setText(", ".join(rating.tags))
        self.comment.setText(rating.comment)
        self.correction.setPlainText(rating.correction if rating.correction is not None else rating.reply)

    # -- values ----------------------------------------------------------------------------------
    def thumbs(self) -> Optional[int]:
        return 1 if self.thumbs_up.isChecked() else -1 if self.thumbs_down.isChecked() else None

    def scale(self) -> Optional[int]:
        return next((v for v, b in self.scale_buttons.items() if b.isChecked()), None)

    def accept(self) -> None:
        try:
            self.written = feedback.save_rating(
                self.ctx.store, self.message_id, thumbs=self.thumbs(), scale=self.scale(),
                tags=feedback.parse_tags(self.tags.text()), comment=self.comment.text(),
                correction=self.correction.toPlainText(), rater=self.current.rater)
        except Exception as exc:  # noqa: BLE001 - shown to the user; the dialog stays open
            show_error(self, exc, "Feedback not saved")
            return
        if self.written:
            self.feedback_saved.emit(self.message_id)
            self.ctx.feedback_changed.emit()
        super().accept()


class MakeVersionDialog(QDialog):
    """Make Dataset Version…: the dataset's name, SFT rows or preference pairs, and whether items
    that match an eval suite's prompts are dropped (the default) or kept and flagged."""

    def __init__(self, count: int, kind: str, parent: Optional[QWidget] = None) -> None:
        from PySide6.QtWidgets import QCheckBox, QComboBox

        super().__init__(parent)
        self.setObjectName("makeVersionDialog")
        self.setWindowTitle("Make dataset version")
        self.name = QLineEdit("Chat feedback")
        self.name.setObjectName("versionName")
        self.name.selectAll()
        self.kind = QComboBox()
        self.kind.setObjectName("versionKind")
        for value, title in KIND_TITLES.items():
            self.kind.addItem(title, value)
        self.kind.setCurrentIndex(max(0, self.kind.findData(kind)))
        self.drop_leaks = QCheckBox("Drop items whose prompt is an eval suite's (else keep them, flagged)")
        self.drop_leaks.setObjectName("dropLeaks")
        self.drop_leaks.setChecked(True)
        form = QFormLayout()
        form.addRow("Dataset", self.name)
        form.addRow("Kind", self.kind)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.buttons = buttons
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"{count} selected feedback item{'s' if count != 1 else ''}. Those of the other "
                                "kind are left out; rows already in the project's data are dropped."))
        layout.addLayout(form)
        layout.addWidget(self.drop_leaks)
        layout.addWidget(buttons)

    def accept(self) -> None:
        if not self.name.text().strip():
            self.name.setFocus()
            self.name.setPlaceholderText("the dataset needs a name")
            return
        super().accept()

    def request(self) -> tuple[str, str, bool]:
        """(dataset name, kind, drop leaks)."""
        return self.name.text().strip(), self.kind.currentData(), self.drop_leaks.isChecked()
