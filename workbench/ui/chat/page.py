"""Chat: load a base model (optionally with a run's adapter) and talk to it, streaming tokens.
Conversations are trees kept in the project (services/chat.py): regenerate and edit make
branches, the arrows switch between them; the settings panel holds the system prompt, the
sampling settings and the model's presets; the list on the left finds and reopens conversations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSplitter, QVBoxLayout, QWidget

from workbench.ui.chat import actions
from workbench.ui.chat.conversations import ConversationList
from workbench.ui.chat.settings_panel import SettingsPanel
from workbench.ui.chat.transcript import TranscriptView, build
from workbench.ui.chat.widgets import ModelCombo, PromptEdit, bind, page_action, placeholder, state_text
from workbench.ui.common.chat_view import MODEL_CHANGE, ChatView
from workbench.ui.common.errors import show_error
from workbench.ui.common.page import Page, heading
from workbench.ui.shell.context import ProjectContext

if TYPE_CHECKING:
    from workbench.services.chat import ChatChoice, ChatClient

POLL_MS = 50


class ChatPage(actions.ChatActions, Page):
    title = "Chat"

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.client: Optional["ChatClient"] = None
        self.messages: list[dict[str, str]] = []  # what the transcript shows ({role, content})
        self.view = TranscriptView()  # and which turn each entry is
        self.markers: dict[int, str] = {}  # branch index -> "another model answers from here"
        self.pending = False  # a reply is streaming into the last entry
        self._choices: list["ChatChoice"] = []  # what the selector lists, in its order
        self._device: Optional[str] = None  # where the loaded model runs (from its ready event)
        self._models_owed = False  # a refresh waits for the open popup to close
        self.render_id: Optional[str] = None  # the "Show prompt" request waited for
        self.prompt_dialog: Optional[QWidget] = None
        self.feedback_dialog: Optional[QWidget] = None
        self.export_task: Any = None

        self.send_action = page_action(self, "Send", "Ctrl+Return", "Send the message", self.send)
        self.stop_action = page_action(self, "Stop", "Esc", "Stop the reply", self.stop)
        self.new_action = page_action(self, "New chat", "Ctrl+Shift+N",
                                      "Start a new conversation with the loaded model", self.new_chat)
        self.regenerate_action = page_action(self, "Regenerate", "Ctrl+Shift+R", "Answer the last message again "
                                             "(the old reply stays as a branch)", self.regenerate)
        self.show_prompt_action = page_action(self, "Show prompt", "Ctrl+Shift+P", "Show what the model reads "
                                              "(the chat template applied) and its token count", self.show_prompt)
        self.export_action = page_action(self, "Export…", "Ctrl+Shift+E",
                                         "Export this conversation (JSONL messages or Markdown)", self.export_conversation)
        self.settings_action = page_action(self, "Settings", "Ctrl+Shift+S", "Show or hide the generation settings",
                                           self._toggle_settings, checkable=True)
        self.search_action = page_action(self, "Search", "Ctrl+F", "Search the conversations", self._focus_search)

        self.model_combo = ModelCombo()
        self.model_combo.popup_closed.connect(self._popup_closed)
        self.model_combo.setObjectName("chatModelCombo")
        self.model_combo.setMinimumWidth(320)
        self.model_combo.currentIndexChanged.connect(lambda _index: self._update_controls())
        self.load_button = QPushButton("Load")
        self.load_button.setObjectName("primary")
        self.load_button.clicked.connect(lambda *_: self.load())
        self.new_button = bind(QPushButton("New chat"), self.new_action)
        self.export_button = bind(QPushButton("Export…"), self.export_action)
        self.show_prompt_button = bind(QPushButton("Show prompt"), self.show_prompt_action)
        self.settings_button = bind(QPushButton("Settings"), self.settings_action)
        self.settings_button.setCheckable(True)
        self.state_label = QLabel("No model loaded.")
        self.state_label.setObjectName("chatState")
        self.notice = QLabel()
        self.notice.setObjectName("hint")
        top = QHBoxLayout()
        top.addWidget(heading("Chat"))
        top.addSpacing(12)
        top.addWidget(self.model_combo, 1)
        for button in (self.load_button, self.new_button, self.export_button, self.show_prompt_button,
                       self.settings_button):
            top.addWidget(button)

        self.transcript = ChatView()
        self.transcript.setObjectName("chatTranscript")
        self.transcript.link_activated.connect(self.link_activated)
        self.input = PromptEdit()
        self.input.setObjectName("chatInput")
        self.input.setPlaceholderText("Type a message…")
        self.input.setFixedHeight(72)
        self.input.submitted.connect(self.send)
        self.send_button = bind(QPushButton("Send"), self.send_action, "primary")
        self.stop_button = bind(QPushButton("Stop"), self.stop_action)
        self.settings_panel = SettingsPanel()
        self.settings_panel.changed.connect(self._update_controls)
        self.settings_action.setChecked(True)
        self.settings_button.setChecked(True)
        # The names the screenshots and older tests use.
        self.temperature_spin = self.settings_panel.temperature_spin
        self.max_tokens_spin = self.settings_panel.max_tokens_spin
        self.max_tokens_spin.setValue(128)
        self.conversation_list = ConversationList()
        self.conversation_list.open_requested.connect(self.open_conversation)

        status = QHBoxLayout()
        status.addWidget(self.state_label, 1)
        status.addWidget(self.notice)
        send_row = QHBoxLayout()
        send_row.addWidget(self.input, 1)
        buttons = QVBoxLayout()
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.stop_button)
        send_row.addLayout(buttons)
        middle = QWidget()
        centre = QVBoxLayout(middle)
        centre.setContentsMargins(0, 0, 0, 0)
        centre.addWidget(self.transcript, 1)
        centre.addLayout(send_row)
        self.splitter = QSplitter()
        self.splitter.addWidget(self.conversation_list)
        self.splitter.addWidget(middle)
        self.splitter.addWidget(self.settings_panel)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(status)
        layout.addWidget(self.splitter, 1)

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
            self.connect_ctx(ctx.conversations_changed, self.refresh_when_shown(self.conversation_list.refresh))
        self.conversation_list.set_store(ctx.store if ctx is not None else None)
        self.settings_panel.set_target(None, None)
        self._clear_view()
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

    def load(self, session_id: Optional[str] = None) -> None:
        """Load the selected model. With a conversation in view, ask first whether the new
        model continues it or a new chat starts: a conversation never vanishes unasked.
        `session_id`: open that stored conversation with it instead (nothing to ask)."""
        from workbench.ui.shell import dialogs

        choice = self.selected_choice()
        if self.ctx is None or choice is None or self.state == "generating":
            return
        history = self._conversation() if session_id is None else []
        if history:
            answer = self.ask_about_conversation(choice.name)
            if answer == dialogs.CANCEL:
                if self.client is not None:  # the selector goes back to what is loaded
                    self._select_key(self._loaded_key())
                self._update_controls()
                return
            if answer != dialogs.KEEP_CONVERSATION:
                history = []
        panel = self.settings_panel
        try:
            from workbench.services.chat import ChatClient

            settings = panel.settings() if not panel.problems() else None
            client = ChatClient(self.ctx.store, choice.base_model_id, choice.run_id, history=history,
                                checkpoint=choice.checkpoint, session_id=session_id,
                                system_prompt=panel.system_prompt(), settings=settings)
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
        # The conversation goes on (without replies that never came): mark where the other
        # model takes over.
        kept = {i: text for i, text in self.markers.items() if i < len(history)} if history else {}
        if history:
            kept[len(history)] = f"{choice.name} answers from here on"
        self.markers = kept
        if session_id is not None:
            panel.show_settings(client.settings, client.session.system_prompt)
        panel.set_target(self.ctx.store, client.target.key)
        self.show_branch()
        self.timer.start()
        self.refresh_models()
        self.conversations_changed()

    def close_client(self) -> None:
        self.timer.stop()
        if self.client is not None:
            client, self.client = self.client, None
            try:
                client.close()
            except Exception as exc:  # noqa: BLE001
                show_error(self, exc)
        self.pending, self.render_id = False, None
        self._update_controls()

    def shutdown(self) -> None:
        self.close_client()

    def _clear_view(self) -> None:
        self.messages, self.view, self.markers, self.pending = [], TranscriptView(), {}, False
        self.transcript.set_messages([])

    def show_branch(self, pending: bool = False) -> None:
        """Show the conversation's branch from the store (a full render: after a reply, a branch
        switch, an edit — never per token); `pending` adds the empty reply being generated."""
        if self.client is None:
            return
        self.pending = pending
        self.view = build(self.client.branch(), self.client.turns(), self.markers)
        self.messages = self.view.messages
        if pending:
            self.messages.append({"role": "assistant", "content": ""})
            self.view.notes[len(self.messages) - 1] = "typing…"
        self.transcript.set_messages(self.messages, self.view.notes, links=self.view.links)
        self.conversation_list.model.set_current(self.client.session.id)
        self._update_controls()

    def conversations_changed(self) -> None:
        if self.ctx is not None:
            self.ctx.conversations_changed.emit()

    # -- talking ---------------------------------------------------------------------------------
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
        finished = False
        for ev in events:
            p = ev.payload
            if ev.kind == "token" and self.pending:
                piece = str(p.get("text", ""))
                self.messages[-1]["content"] += piece
                self.transcript.append_to_last(piece)  # appended, never a full render
            elif ev.kind == "done" and self.pending and client.generating_id is None:
                finished = True
            elif ev.kind == "rendered" and p.get("id") == self.render_id:
                self.render_id = None
                self._show_prompt_dialog(client.rendered.get(str(p.get("id")), {}))
            elif ev.kind == "ready":
                self._device = p.get("device")
                self.input.setFocus()
            elif ev.kind == "failed" and client.error is not None:
                if self.render_id is not None and p.get("id") == self.render_id:
                    self.render_id = None  # only the prompt could not be shown
                elif self.pending and client.generating_id is None:
                    # The reply ended without being stored: say so where it was streaming.
                    self.view.notes[len(self.messages) - 1] = "failed"
                    self.pending = False
                    self.transcript.set_messages(self.messages, self.view.notes, links=self.view.links)
                show_error(self, client.error, "Chat failed")
        if client.state == "failed" and not any(ev.kind == "failed" for ev in events):
            if client.error is not None:
                show_error(self, client.error, "Chat failed")
        if client.state in ("failed", "closed"):
            self.timer.stop()
        if finished:
            self.show_branch()
            self.conversations_changed()
        self._update_controls()

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
        problems = self.settings_panel.problems()
        has_turns = bool(self.view.turn_ids)
        enabled = {
            self.send_action: state == "ready" and not problems,
            self.stop_action: state == "generating",
            self.new_action: bool(self.messages) and state != "generating",
            self.regenerate_action: state == "ready" and has_turns and not problems,
            self.show_prompt_action: state in ("ready", "generating") and self.render_id is None,
            self.export_action: self.client is not None and has_turns and not self.pending,
        }
        for action, on in enabled.items():
            action.setEnabled(on)
        for button, action in ((self.send_button, self.send_action), (self.stop_button, self.stop_action),
                               (self.new_button, self.new_action), (self.export_button, self.export_action),
                               (self.show_prompt_button, self.show_prompt_action)):
            button.setEnabled(action.isEnabled())
        self.send_button.setToolTip(problems[0] if problems else self.send_action.toolTip())
        self.input.setEnabled(state in ("ready", "generating"))
        name = loaded.name if loaded else ""
        no_models = self.ctx is not None and not self._choices
        self.state_label.setText(state_text(state, name, self._device, no_models))
        self.transcript.set_placeholder(placeholder(state, name))
