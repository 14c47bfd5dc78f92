"""Chat: load a base model (optionally with a run's adapter) and talk to it, streaming tokens."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from workbench.ui.context import ProjectContext
from workbench.ui.errors import show_error
from workbench.ui.pages.base import Page, heading
from workbench.ui.widgets.chat_view import ChatView

if TYPE_CHECKING:
    from workbench.services.chat import ChatClient

POLL_MS = 50
CHATTABLE = ("completed", "cancelled")


class PromptEdit(QPlainTextEdit):
    """Enter sends, Shift+Enter inserts a newline."""

    submitted = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not (
                event.modifiers() & Qt.KeyboardModifier.ShiftModifier):
            self.submitted.emit()
            return
        super().keyPressEvent(event)


class ChatPage(Page):
    title = "Chat"

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.client: Optional["ChatClient"] = None
        self.messages: list[dict[str, str]] = []
        self._notes: dict[int, str] = {}
        self._tokens_seen = 0
        self.model_combo = QComboBox()
        self.model_combo.setObjectName("chatModelCombo")
        self.model_combo.setMinimumWidth(320)
        self.load_button = QPushButton("Load")
        self.load_button.setObjectName("primary")
        self.load_button.clicked.connect(self.load)
        self.new_button = QPushButton("New chat")
        self.new_button.clicked.connect(self.new_chat)
        self.state_label = QLabel("No model loaded.")
        self.state_label.setObjectName("chatState")
        top = QHBoxLayout()
        top.addWidget(heading("Chat"))
        top.addSpacing(12)
        top.addWidget(self.model_combo, 1)
        top.addWidget(self.load_button)
        top.addWidget(self.new_button)

        self.transcript = ChatView()
        self.transcript.setObjectName("chatTranscript")
        self.transcript.set_placeholder("Choose a base model or a finished run, press Load, then "
                                        "type a message. Enter sends, Shift+Enter starts a new line.")
        self.input = PromptEdit()
        self.input.setObjectName("chatInput")
        self.input.setPlaceholderText("Type a message…")
        self.input.setFixedHeight(72)
        self.input.submitted.connect(self.send)
        self.send_button = QPushButton("Send")
        self.send_button.setObjectName("primary")
        self.send_button.clicked.connect(self.send)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        self.max_tokens_spin = QSpinBox()
        self.max_tokens_spin.setRange(1, 4096)
        self.max_tokens_spin.setValue(128)
        self.max_tokens_spin.setToolTip("The most tokens one reply may have.")
        self.temperature_spin = QDoubleSpinBox()
        self.temperature_spin.setRange(0.0, 2.0)
        self.temperature_spin.setSingleStep(0.1)
        self.temperature_spin.setValue(0.7)
        self.temperature_spin.setToolTip("0 = always the most likely token; higher = more varied.")
        options = QHBoxLayout()
        options.addWidget(self.state_label, 1)
        options.addWidget(QLabel("Max new tokens:"))
        options.addWidget(self.max_tokens_spin)
        options.addSpacing(8)
        options.addWidget(QLabel("Temperature:"))
        options.addWidget(self.temperature_spin)
        send_row = QHBoxLayout()
        send_row.addWidget(self.input, 1)
        buttons = QVBoxLayout()
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.stop_button)
        send_row.addLayout(buttons)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(options)
        layout.addWidget(self.transcript, 1)
        layout.addLayout(send_row)

        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)
        self._update_controls()

    # -- project ---------------------------------------------------------------------------------
    def set_context(self, ctx: Optional[ProjectContext]) -> None:
        if self.ctx is not None:
            for signal in (self.ctx.runs_changed, self.ctx.models_changed):
                try:
                    signal.disconnect(self.refresh_models)
                except (RuntimeError, TypeError):
                    pass
        self.close_client()
        super().set_context(ctx)
        if ctx is not None:
            ctx.runs_changed.connect(self.refresh_models)
            ctx.models_changed.connect(self.refresh_models)
        self.messages, self._notes = [], {}
        self.transcript.set_messages([])
        self.refresh_models()

    def page_shown(self) -> None:
        self.refresh_models()

    def refresh_models(self) -> None:
        keep = self.model_combo.currentData()
        combo = self.model_combo
        combo.blockSignals(True)
        combo.clear()
        if self.ctx is not None:
            store = self.ctx.store
            models = store.list_base_models()
            names = {m.id: m.name for m in models}
            for m in models:
                combo.addItem(f"{m.name}  (base model)", (m.id, None))
            for run in store.list_runs():
                if run.status in CHATTABLE and run.adapter_path and run.base_model_id in names:
                    combo.addItem(f"{run.name}  (adapter on {names[run.base_model_id]})",
                                  (run.base_model_id, run.id))
        index = combo.findData(keep) if keep is not None else -1
        combo.setCurrentIndex(index if index >= 0 else (0 if combo.count() else -1))
        combo.blockSignals(False)
        self._update_controls()

    def select_run(self, run_id: str, load: bool = True) -> bool:
        """Select a run's adapter in the model list (and load it); False if it is not chattable."""
        self.refresh_models()
        for i in range(self.model_combo.count()):
            data = self.model_combo.itemData(i)
            if data and data[1] == run_id:
                self.model_combo.setCurrentIndex(i)
                if load:
                    self.load()
                return True
        return False

    # -- client lifecycle ------------------------------------------------------------------------
    @property
    def state(self) -> str:
        return self.client.state if self.client is not None else "none"

    def load(self) -> None:
        data = self.model_combo.currentData()
        if self.ctx is None or data is None:
            return
        self.close_client()
        base_id, run_id = data
        try:
            from workbench.services.chat import ChatClient

            client = ChatClient(self.ctx.store, base_id, run_id)
            client.start()
        except Exception as exc:  # noqa: BLE001 - shown to the user
            show_error(self, exc, "Cannot load the model")
            self._update_controls()
            return
        self.client = client
        self.messages, self._notes = [], {}
        self.transcript.set_messages([])
        self.transcript.set_placeholder(f"Loading {self.model_combo.currentText().split('  (')[0]}…")
        self.timer.start()
        self._update_controls()

    def close_client(self) -> None:
        self.timer.stop()
        if self.client is not None:
            client, self.client = self.client, None
            try:
                client.close()
            except Exception as exc:  # noqa: BLE001
                show_error(self, exc)
        self._update_controls()

    def shutdown(self) -> None:
        self.close_client()

    def new_chat(self) -> None:
        """Start a fresh conversation (a new chat session) with the loaded model."""
        if self.client is not None and self.client.state == "ready" and self.ctx is not None:
            # Keep the loaded child; only the persisted session (and so the history) changes.
            self.client.new_session()
            self.messages, self._notes = [], {}
            self.transcript.set_messages([])
            self.input.setFocus()
        elif self.client is not None:
            self.load()
        self._update_controls()

    # -- talking ---------------------------------------------------------------------------------
    def send(self) -> Optional[str]:
        text = self.input.toPlainText().strip()
        if not text or self.client is None or self.client.state != "ready":
            return None
        try:
            request_id = self.client.send(text, max_new_tokens=self.max_tokens_spin.value(),
                                          temperature=self.temperature_spin.value())
        except Exception as exc:  # noqa: BLE001
            show_error(self, exc)
            return None
        self.input.clear()
        self.messages += [{"role": "user", "content": text}, {"role": "assistant", "content": ""}]
        self._notes[len(self.messages) - 1] = "typing…"
        self._tokens_seen = 0
        self.transcript.set_messages(self.messages, self._notes)
        self._update_controls()
        return request_id

    def stop(self) -> None:
        if self.client is not None:
            self.client.stop_generation()

    def poll(self) -> None:
        client = self.client
        if client is None:
            self.timer.stop()
            return
        try:
            events = client.poll()
        except Exception as exc:  # noqa: BLE001
            self.timer.stop()
            show_error(self, exc)
            return
        changed = False
        for ev in events:
            p = ev.payload
            if ev.kind == "token" and self.messages and self.messages[-1]["role"] == "assistant":
                self.messages[-1]["content"] += str(p.get("text", ""))
                self._tokens_seen += 1
                changed = True
            elif ev.kind == "done" and self.messages and self.messages[-1]["role"] == "assistant":
                self.messages[-1]["content"] = str(p.get("text", self.messages[-1]["content"]))
                self._notes[len(self.messages) - 1] = self._done_note(p)
                changed = True
            elif ev.kind == "ready":
                device = p.get("device")
                self.transcript.set_placeholder("Model loaded. Type a message below.")
                self.state_label.setText("Ready" + (f" — running on {device}" if device else ""))
                self.input.setFocus()
            elif ev.kind == "failed" and client.error is not None:
                if self.messages and self.messages[-1]["role"] == "assistant" and not self.messages[-1]["content"]:
                    self._notes[len(self.messages) - 1] = "failed"
                    changed = True
                show_error(self, client.error, "Chat failed")
        if client.state == "failed" and not any(ev.kind == "failed" for ev in events):
            if client.error is not None:
                show_error(self, client.error, "Chat failed")
        if client.state in ("failed", "closed"):
            self.timer.stop()
        if changed:
            self.transcript.set_messages(self.messages, self._notes)
        self._update_controls()

    @staticmethod
    def _done_note(p: dict) -> str:
        reason = p.get("finish_reason")
        tokens, seconds = p.get("tokens"), p.get("seconds")
        parts = []
        if tokens and seconds:
            parts.append(f"{tokens} tokens, {float(tokens) / max(float(seconds), 1e-6):.1f}/s")
        if reason == "length":
            parts.append("stopped at the token limit")
        elif reason == "interrupted":
            parts.append("stopped")
        return " · ".join(parts)

    def _update_controls(self) -> None:
        state = self.state
        has_choice = self.ctx is not None and self.model_combo.count() > 0
        self.load_button.setEnabled(has_choice and state not in ("starting",))
        self.model_combo.setEnabled(self.ctx is not None)
        self.send_button.setEnabled(state == "ready")
        self.input.setEnabled(state in ("ready", "generating"))
        self.stop_button.setEnabled(state == "generating")
        self.new_button.setEnabled(state == "ready")
        labels = {"none": "No model loaded." if has_choice or self.ctx is None
                  else "No model yet: add one on the Models page.",
                  "new": "Loading…", "starting": "Loading…", "generating": "Generating…",
                  "failed": "The model failed to load or crashed.", "closed": "Closed."}
        if state in labels:
            self.state_label.setText(labels[state])
        elif state == "ready" and not self.state_label.text().startswith("Ready"):
            self.state_label.setText("Ready")
