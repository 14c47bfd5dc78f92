"""The Chat page's commands (a mixin of ChatPage): send, stop, regenerate, edit and branch,
copy, rate, show the rendered prompt, new / open / export a conversation."""

from __future__ import annotations

import os
from typing import Any, Optional

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog, QInputDialog

from workbench.ui.chat import transcript as tr
from workbench.ui.common.errors import show_error
from workbench.ui.common.workers import run_task

EXPORT_FILTERS = "JSONL — OpenAI messages (*.jsonl);;Markdown (*.md)"


def _export(store: Any, session_id: str, path: str, progress=None, cancel=None) -> int:
    from workbench.services.chat_export import export_conversations

    return export_conversations(store, [session_id], path)


class ChatActions:
    """Uses the page's client, settings_panel, transcript, view, messages and show_branch()."""

    # -- sending ---------------------------------------------------------------------------------
    def _settings_or_none(self) -> Any:
        """The panel's settings, None while they have problems (shown in the panel; not sent)."""
        panel = self.settings_panel
        if panel.problems():
            self.settings_panel.problems_label.show()
            return None
        return panel.settings()

    def _request(self, make) -> Optional[str]:
        settings = self._settings_or_none()
        if settings is None or self.client is None or self.client.state != "ready":
            return None
        try:
            self.client.set_system_prompt(self.settings_panel.system_prompt())
            request_id = make(settings)
        except Exception as exc:  # noqa: BLE001 - shown to the user
            show_error(self, exc)
            return None
        self.show_branch(pending=True)
        self.conversations_changed()
        return request_id

    def send(self) -> Optional[str]:
        text = self.input.toPlainText().strip()
        if not text:
            return None
        request_id = self._request(lambda s: self.client.send(text, settings=s))
        if request_id is not None:
            self.input.clear()
        return request_id

    def regenerate(self, turn_id: Optional[str] = None) -> Optional[str]:
        """A new reply beside the old one (to the last message, or to the one `turn_id` is or answers)."""
        return self._request(lambda s: self.client.regenerate(turn_id, settings=s))

    def ask_edit(self, text: str) -> Optional[str]:
        """The edited message, None to cancel (tests replace this)."""
        edited, ok = QInputDialog.getMultiLineText(self, "Edit message",
                                                   "The edit starts a new branch; the original stays:", text)
        return edited if ok else None

    def edit(self, turn_id: str, text: Optional[str] = None) -> Optional[str]:
        if text is None:
            text = self.ask_edit(self._content(turn_id))
        if text is None or not text.strip():
            return None
        return self._request(lambda s: self.client.edit(turn_id, text.strip(), settings=s))

    def stop(self) -> None:
        if self.client is not None:
            self.client.stop_generation()

    # -- per message -----------------------------------------------------------------------------
    def link_activated(self, command: str, turn_id: str) -> None:
        handlers = {tr.REGENERATE: self.regenerate, tr.EDIT: self.edit, tr.COPY: self.copy,
                    tr.RATE: self.rate, tr.PREV: lambda t: self.switch_branch(t, -1),
                    tr.NEXT: lambda t: self.switch_branch(t, +1)}
        if command in handlers:
            handlers[command](turn_id)

    def _content(self, turn_id: str) -> str:
        rows = [i for i, t in self.view.turn_ids.items() if t == turn_id]
        return self.messages[rows[0]]["content"] if rows else ""

    def copy(self, turn_id: str) -> None:
        QGuiApplication.clipboard().setText(self._content(turn_id))
        self.notice.setText("Copied.")

    def switch_branch(self, turn_id: str, step: int) -> None:
        if self.client is None or self.state == "generating":
            return
        try:
            self.client.switch_branch(turn_id, step)
        except Exception as exc:  # noqa: BLE001
            show_error(self, exc)
            return
        self.show_branch()

    def rate(self, turn_id: str) -> Any:
        """Open the rating dialog for a reply (not modal: the chat goes on)."""
        from workbench.ui.feedback.dialog import FeedbackDialog

        if self.ctx is None:
            return None
        try:
            dialog = FeedbackDialog(self.ctx, turn_id, self)
        except Exception as exc:  # noqa: BLE001
            show_error(self, exc, "Cannot rate this reply")
            return None
        self.feedback_dialog = dialog
        dialog.setModal(False)
        dialog.show()
        return dialog

    # -- the rendered prompt ---------------------------------------------------------------------
    def show_prompt(self) -> Optional[str]:
        """Ask the child for the prompt (with the text being typed); the dialog opens when the
        answer comes (poll), the GUI never waits for it."""
        if self.client is None:
            return None
        try:
            self.client.set_system_prompt(self.settings_panel.system_prompt())
            self.render_id = self.client.render(self.input.toPlainText().strip())
        except Exception as exc:  # noqa: BLE001
            show_error(self, exc)
            return None
        self._update_controls()
        return self.render_id

    def _show_prompt_dialog(self, rendered: dict) -> None:
        dialog = tr.PromptDialog(str(rendered.get("text", "")), rendered.get("tokens"),
                                 self.client.context_limit if self.client else None, self)
        self.prompt_dialog = dialog
        dialog.show()

    # -- conversations ---------------------------------------------------------------------------
    def new_chat(self) -> None:
        """Start a new, empty conversation; the old one stays saved in the project. Never
        loads a model: with one loaded it keeps it, and only the stored session changes."""
        if self.state == "generating":
            return
        if self.client is not None and self.state in ("starting", "ready"):
            self.client.new_session(self.settings_panel.system_prompt())
            self.conversations_changed()
        self._clear_view()
        if self.state == "ready":
            self.input.setFocus()
        self._update_controls()

    def open_conversation(self, conversation: Any) -> None:
        """Show a stored conversation: with its model loaded, the child stays (no reload);
        otherwise its model is loaded for it."""
        from workbench.core.chat_records import SamplingSettings

        if self.ctx is None or self.state == "generating":
            return
        client = self.client
        if client is not None and client.session.id == conversation.id:
            return
        if client is not None and client.state in ("starting", "ready") and client.target == conversation.target:
            try:
                client.open_conversation(conversation.id)
            except Exception as exc:  # noqa: BLE001
                show_error(self, exc)
                return
            self.markers = {}
            settings = SamplingSettings.from_dict(conversation.settings) if conversation.settings else \
                self.settings_panel.settings()
            self.settings_panel.show_settings(settings, conversation.system_prompt)
            self.show_branch()
            return
        from workbench.services.chat import target_choice

        try:
            choice = target_choice(self.ctx.store, conversation.target)
        except Exception as exc:  # noqa: BLE001 - its model or run was removed
            show_error(self, exc, "Cannot open the conversation")
            return
        if choice.key not in [c.key for c in self._choices]:
            self._choices.append(choice)
            self.model_combo.addItem(choice.label)
        self._select_key(choice.key)
        self.load(session_id=conversation.id)

    def export_conversation(self, path: Optional[str] = None) -> Any:
        """Export the conversation shown (its branch) to JSONL or Markdown, by the file's name."""
        if self.client is None or self.ctx is None:
            return None
        session = self.client.session
        if path is None:
            stem = "".join(c if c.isalnum() or c in "-_ " else "_" for c in session.title)[:40].strip() or "chat"
            path, chosen = QFileDialog.getSaveFileName(self, "Export conversation",
                                                       os.path.join(os.path.expanduser("~"), f"{stem}.jsonl"),
                                                       EXPORT_FILTERS)
            if not path:
                return None
            if not os.path.splitext(path)[1]:  # the format follows the filter picked
                path += ".md" if chosen.startswith("Markdown") else ".jsonl"
        task = self.export_task = run_task(_export, self.ctx.store, session.id, path, name="chat: export")
        task.finished.connect(lambda _n: self.notice.setText(f"Exported to {os.path.basename(path)}."))
        task.failed.connect(lambda exc: show_error(self, exc, "Cannot export the conversation"))
        return task

    # -- panels ----------------------------------------------------------------------------------
    def _toggle_settings(self) -> None:
        shown = self.settings_action.isChecked()
        self.settings_panel.setVisible(shown)
        self.settings_button.setChecked(shown)

    def _focus_search(self) -> None:
        self.conversation_list.search_edit.setFocus()
        self.conversation_list.search_edit.selectAll()
