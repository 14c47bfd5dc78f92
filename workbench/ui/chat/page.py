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

from workbench.ui.shell.context import ProjectContext
from workbench.ui.common.errors import show_error
from workbench.ui.common.page import Page, heading
from workbench.ui.common.chat_view import MODEL_CHANGE, ChatView

if TYPE_CHECKING:
    from workbench.services.chat import ChatChoice, ChatClient

POLL_MS = 50


class PromptEdit(QPlainTextEdit):
    """Enter sends, Shift+Enter inserts a newline."""

    submitted = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not (
                event.modifiers() & Qt.KeyboardModifier.ShiftModifier):
            self.submitted.emit()
            return
        super().keyPressEvent(event)


class ModelCombo(QComboBox):
    """The model selector; it says when its popup closes (a refresh waits for that)."""

    popup_closed = Signal()

    def hidePopup(self) -> None:  # noqa: N802 (Qt API)
        super().hidePopup()
        self.popup_closed.emit()

    @property
    def popup_open(self) -> bool:
        return self.view().isVisible()


class ChatPage(Page):
    title = "Chat"

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.client: Optional["ChatClient"] = None
        self.messages: list[dict[str, str]] = []
        self._notes: dict[int, str] = {}
        self._choices: list["ChatChoice"] = []  # what the selector lists, in its order
        self._device: Optional[str] = None  # where the loaded model runs (from its ready event)
        self._models_owed = False  # a refresh waits for the open popup to close
        self.model_combo = ModelCombo()
        self.model_combo.popup_closed.connect(self._popup_closed)
        self.model_combo.setObjectName("chatModelCombo")
        self.model_combo.setMinimumWidth(320)
        self.model_combo.currentIndexChanged.connect(lambda _index: self._update_controls())
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
        self.close_client()
        super().set_context(ctx)
        # The list changes only when runs start, end or change in the list (never per progress
        # tick) or models do; a hidden page refreshes once it is shown.
        changed = self.refresh_when_shown(self._store_changed)
        if ctx is not None:
            self.connect_ctx(ctx.runs_changed, changed)
            self.connect_ctx(ctx.models_changed, changed)
        self.messages, self._notes = [], {}
        self.transcript.set_messages([])
        self._choices = []
        changed()

    def theme_changed(self) -> None:
        self.transcript.rerender()

    def _store_changed(self) -> None:
        # Never under the user's pointer: a rebuild would reset the open dropdown's entry.
        if self.model_combo.popup_open:
            self._models_owed = True
        else:
            self.refresh_models()

    def _popup_closed(self) -> None:
        if self._models_owed:
            self._models_owed = False
            self.refresh_models()

    def refresh_models(self) -> None:
        """Fill the selector with what can be loaded. The list is rebuilt only when it changed
        (a rebuild would also reset an open dropdown); the selection, and an entry for the
        loaded model even if it is no longer listed (a resumed run), are kept."""
        choices: list["ChatChoice"] = []
        if self.ctx is not None:
            from workbench.services.chat import chat_choices

            choices = chat_choices(self.ctx.store)
            if self.client is not None and self.client.choice.key not in {c.key for c in choices}:
                choices.append(self.client.choice)
        if choices != self._choices:
            selected = self.selected_choice()
            keep = selected.key if selected is not None else self._loaded_key()
            combo = self.model_combo
            combo.blockSignals(True)
            combo.clear()
            for choice in choices:
                combo.addItem(choice.label)
            self._choices = choices
            self._select_key(keep)
            combo.blockSignals(False)
        self._update_controls()

    def selected_choice(self) -> Optional["ChatChoice"]:
        index = self.model_combo.currentIndex()
        return self._choices[index] if 0 <= index < len(self._choices) else None

    def _loaded_key(self) -> Optional[tuple[str, Optional[str]]]:
        return self.client.choice.key if self.client is not None else None

    def _select_key(self, key: Optional[tuple[str, Optional[str]]]) -> bool:
        keys = [c.key for c in self._choices]
        found = key in keys
        self.model_combo.setCurrentIndex(keys.index(key) if found else (0 if keys else -1))
        return found

    def select_run(self, run_id: str, load: bool = True) -> bool:
        """Select a run's adapter in the model list (and load it); False if it is not chattable."""
        self.refresh_models()
        for choice in self._choices:
            if choice.run_id == run_id:
                self._select_key(choice.key)
                self._update_controls()
                if load:
                    self.load()
                return True
        return False

    # -- client lifecycle ------------------------------------------------------------------------
    @property
    def state(self) -> str:
        return self.client.state if self.client is not None else "none"

    def ask_about_conversation(self, model_name: str) -> str:
        """KEEP_CONVERSATION, NEW_CONVERSATION or CANCEL (tests replace this)."""
        from workbench.ui.shell import dialogs

        return dialogs.ask_about_conversation(self, model_name)

    def _conversation(self) -> list[dict[str, str]]:
        """The messages in view (markers and empty reply placeholders left out)."""
        return [m for m in self.messages if m["role"] != MODEL_CHANGE and m["content"]]

    def load(self) -> None:
        """Load the selected model. With a conversation in view, ask first whether the new
        model continues it or a new chat starts: a conversation never vanishes unasked."""
        from workbench.ui.shell import dialogs

        choice = self.selected_choice()
        if self.ctx is None or choice is None or self.state == "generating":
            return
        history = self._conversation()
        if history:
            answer = self.ask_about_conversation(choice.name)
            if answer == dialogs.CANCEL:
                if self.client is not None:  # the selector goes back to what is loaded
                    self._select_key(self._loaded_key())
                self._update_controls()
                return
            if answer != dialogs.KEEP_CONVERSATION:
                history = []
        try:
            from workbench.services.chat import ChatClient

            client = ChatClient(self.ctx.store, choice.base_model_id, choice.run_id, history=history)
        except Exception as exc:  # noqa: BLE001 - shown to the user
            show_error(self, exc, "Cannot load the model")
            return
        self.close_client()
        self.client, self._device = client, None
        try:
            client.start()
        except Exception as exc:  # noqa: BLE001 - shown to the user
            self.client = None
            show_error(self, exc, "Cannot load the model")
            self._update_controls()
            return
        if history:
            # The conversation goes on (without replies that never came): mark where the
            # other model takes over.
            kept, notes = [], {}
            for i, m in enumerate(self.messages):
                if m["role"] == MODEL_CHANGE or m["content"]:
                    if i in self._notes:
                        notes[len(kept)] = self._notes[i]
                    kept.append(m)
            kept.append({"role": MODEL_CHANGE, "content": f"{choice.name} answers from here on"})
            self.messages, self._notes = kept, notes
        else:
            self.messages, self._notes = [], {}
        self.transcript.set_messages(self.messages, self._notes)
        self.timer.start()
        self.refresh_models()

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
        """Start a new, empty conversation; the old one stays saved in the project. Never
        loads a model: with one loaded it keeps it, and only the stored session changes."""
        if self.state == "generating":
            return
        if self.client is not None and self.state in ("starting", "ready"):
            self.client.new_session()
        self.messages, self._notes = [], {}
        self.transcript.set_messages([])
        if self.state == "ready":
            self.input.setFocus()
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
        rerender = False
        replying = bool(self.messages) and self.messages[-1]["role"] == "assistant"
        for ev in events:
            p = ev.payload
            if ev.kind == "token" and replying:
                piece = str(p.get("text", ""))
                self.messages[-1]["content"] += piece
                self.transcript.append_to_last(piece)
            elif ev.kind == "done" and replying:
                self.messages[-1]["content"] = str(p.get("text", self.messages[-1]["content"]))
                self._notes[len(self.messages) - 1] = self._done_note(p)
                rerender = True
            elif ev.kind == "ready":
                self._device = p.get("device")
                self.input.setFocus()
            elif ev.kind == "failed" and client.error is not None:
                if replying and not self.messages[-1]["content"]:
                    self._notes[len(self.messages) - 1] = "failed"
                    rerender = True
                show_error(self, client.error, "Chat failed")
        if client.state == "failed" and not any(ev.kind == "failed" for ev in events):
            if client.error is not None:
                show_error(self, client.error, "Chat failed")
        if client.state in ("failed", "closed"):
            self.timer.stop()
        if rerender:
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
        has_choice = self.ctx is not None and bool(self._choices)
        selected = self.selected_choice()
        loaded = self.client.choice if self.client is not None else None
        # Loading what is already loaded (and working) would only restart it.
        same = loaded is not None and selected == loaded and state in ("starting", "ready")
        self.load_button.setEnabled(has_choice and state not in ("starting", "generating") and not same)
        self.load_button.setToolTip("This is the loaded model." if same else "Load the selected model.")
        self.model_combo.setEnabled(self.ctx is not None)
        self.send_button.setEnabled(state == "ready")
        self.input.setEnabled(state in ("ready", "generating"))
        self.stop_button.setEnabled(state == "generating")
        self.new_button.setEnabled(bool(self.messages) and state != "generating")
        self.state_label.setText(self._state_text(state, loaded.name if loaded else ""))
        self.transcript.set_placeholder(self._placeholder(state, loaded.name if loaded else ""))

    def _state_text(self, state: str, name: str) -> str:
        """The status line: always names the model that is loaded (not just selected)."""
        if state == "none":
            if self.ctx is not None and not self._choices:
                return "No model yet: add one on the Models page."
            return "No model loaded."
        device = f", running on {self._device}" if self._device else ""
        return {"new": f"Loading {name}…", "starting": f"Loading {name}…",
                "ready": f"Ready — {name}{device}", "generating": f"Generating — {name}{device}",
                "failed": f"{name} failed to load or crashed.",
                "closed": f"{name} was closed."}.get(state, state)

    @staticmethod
    def _placeholder(state: str, name: str) -> str:
        if state in ("new", "starting"):
            return f"Loading {name}…"
        if state in ("ready", "generating"):
            return f"{name} is loaded. Type a message below."
        return ("Choose a base model or a finished run, press Load, then type a message. "
                "Enter sends, Shift+Enter starts a new line.")
