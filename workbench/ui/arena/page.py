"""Arena: the same prompt to two to four models at once (base models, runs' adapters,
checkpoints), streaming side by side; blind mode hides which model is which and shuffles the
sides every round until the vote; the project's leaderboard follows the votes.

services/arena.py does the work: one chat child per base model (a base and its adapters share
one loaded copy). A QTimer polls it; tokens are appended to each pane (no full re-render per
token). The leaderboard is computed in a worker after each vote.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from workbench.core.chat_records import SIDE_LETTERS, VOTE_OUTCOMES
from workbench.ui.arena.leaderboard_model import LeaderboardPanel
from workbench.ui.arena.widgets import SidePane, SidePickers
from workbench.ui.chat.settings_panel import SettingsPanel
from workbench.ui.chat.widgets import PromptEdit, bind, page_action
from workbench.ui.common.errors import show_error
from workbench.ui.common.page import Page, heading
from workbench.ui.shell.context import ProjectContext

if TYPE_CHECKING:
    from workbench.services.arena import ArenaEvent, ArenaSession

POLL_MS = 50
VOTE_TEXT = {"tie": "Tie", "both_bad": "Both bad"}
VOTE_KEYS = {"a": "Alt+A", "b": "Alt+B", "c": "Alt+C", "d": "Alt+D", "tie": "Alt+T", "both_bad": "Alt+N"}
PLACEHOLDER = ("Pick two to four models above, choose blind or not, press Start, then type one prompt: "
               "every model answers it side by side.")


def _vote_text(outcome: str) -> str:
    return VOTE_TEXT.get(outcome, f"{outcome.upper()} is better")


class ArenaPage(Page):
    title = "Arena"

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.session: Optional["ArenaSession"] = None
        self.feedback_dialog: Optional[QWidget] = None

        self.start_action = page_action(self, "Start", "Ctrl+Shift+L", "Load the picked models", self.start)
        self.send_action = page_action(self, "Send", "Ctrl+Return", "Send the prompt to every model", self.send)
        self.stop_action = page_action(self, "Stop", "Esc", "Stop every reply", self.stop)
        self.new_action = page_action(self, "New conversation", "Ctrl+Shift+N",
                                      "Next prompts start fresh conversations (the models stay loaded)",
                                      self.new_conversation)
        self.vote_actions = {o: page_action(self, _vote_text(o), VOTE_KEYS[o], f"Vote: {_vote_text(o)}",
                                            lambda o=o: self.vote(o)) for o in VOTE_OUTCOMES}

        self.pickers = SidePickers()
        self.pickers.changed.connect(self._pickers_changed)
        self.side_combos = self.pickers.combos  # the same list: it follows add / remove
        self.blind_check = QCheckBox("Blind")
        self.blind_check.setObjectName("arenaBlind")
        self.blind_check.setChecked(True)
        self.blind_check.setToolTip("Hide which model is which, and shuffle the sides every round, until you vote")
        self.start_button = bind(QPushButton("Start"), self.start_action, "primary")
        self.new_button = bind(QPushButton("New conversation"), self.new_action)
        self.state_label = QLabel("No arena started.")
        self.state_label.setObjectName("arenaState")
        top = QHBoxLayout()
        top.addWidget(heading("Arena"))
        top.addStretch(1)
        top.addWidget(self.blind_check)
        top.addWidget(self.start_button)
        top.addWidget(self.new_button)
        pick_row = QHBoxLayout()  # a row of its own: four pickers need the page's width
        pick_row.addWidget(QLabel("Models:"))
        pick_row.addWidget(self.pickers, 1)

        self.panes: list[SidePane] = []
        self._panes_row = QHBoxLayout()
        self._panes_row.setContentsMargins(0, 0, 0, 0)
        self.vote_buttons = {o: bind(QPushButton(a.text()), a) for o, a in self.vote_actions.items()}
        votes = QHBoxLayout()
        votes.addWidget(QLabel("Your vote:"))
        for button in self.vote_buttons.values():
            votes.addWidget(button)
        votes.addStretch(1)
        self.prompt_edit = PromptEdit()
        self.prompt_edit.setObjectName("arenaPrompt")
        self.prompt_edit.setPlaceholderText("One prompt for every model…  (Enter sends, Shift+Enter: new line)")
        self.prompt_edit.setFixedHeight(64)
        self.prompt_edit.submitted.connect(self.send)
        self.send_button = bind(QPushButton("Send"), self.send_action, "primary")
        self.stop_button = bind(QPushButton("Stop"), self.stop_action)
        send_row = QHBoxLayout()
        send_row.addWidget(self.prompt_edit, 1)
        buttons = QVBoxLayout()
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.stop_button)
        send_row.addLayout(buttons)
        arena = QWidget()
        centre = QVBoxLayout(arena)
        centre.setContentsMargins(0, 0, 0, 0)
        centre.addLayout(self._panes_row, 1)
        centre.addLayout(votes)
        centre.addLayout(send_row)

        self.leaderboard = LeaderboardPanel()
        self.leaderboard_model = self.leaderboard.model
        self.leaderboard_table = self.leaderboard.table
        self.settings_panel = SettingsPanel()
        self.settings_panel.set_target(None, None)
        self.settings_panel.max_tokens_spin.setValue(128)
        self.settings_panel.changed.connect(self._update_controls)
        vertical = QSplitter(Qt.Orientation.Vertical)
        vertical.addWidget(arena)
        vertical.addWidget(self.leaderboard)
        vertical.setStretchFactor(0, 3)
        vertical.setStretchFactor(1, 1)
        vertical.setChildrenCollapsible(False)
        self.splitter = QSplitter()
        self.splitter.addWidget(vertical)
        self.splitter.addWidget(self.settings_panel)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(pick_row)
        layout.addWidget(self.state_label)
        layout.addWidget(self.splitter, 1)

        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)
        self._set_pane_count(len(self.side_combos))
        self._update_controls()

    # -- project ---------------------------------------------------------------------------------
    def set_context(self, ctx: Optional[ProjectContext]) -> None:
        self.close_session()
        super().set_context(ctx)
        changed = self.refresh_when_shown(self.refresh_models)
        if ctx is not None:
            self.connect_ctx(ctx.runs_changed, changed)
            self.connect_ctx(ctx.models_changed, changed)
            self.connect_ctx(ctx.feedback_changed, self.refresh_when_shown(self.refresh_leaderboard))
        self.leaderboard.clear()
        self.refresh_models()
        self.refresh_leaderboard()

    def refresh_models(self) -> None:
        choices = []
        if self.ctx is not None:
            from workbench.services.chat import chat_choices

            choices = chat_choices(self.ctx.store)
        self.pickers.set_choices(choices)
        self._update_controls()

    def shutdown(self) -> None:
        self.close_session()
        self.leaderboard.shutdown()

    # -- the session -----------------------------------------------------------------------------
    @property
    def state(self) -> str:
        return self.session.state if self.session is not None else "none"

    def start(self) -> None:
        """Start an arena with the picked models (closing the one before)."""
        if self.ctx is None or self.state in ("starting", "generating"):
            return
        panel = self.settings_panel
        try:
            from workbench.services.arena import ArenaSession

            session = ArenaSession(self.ctx.store, [c.target for c in self.pickers.selected()],
                                   blind=self.blind_check.isChecked(), settings=panel.settings(),
                                   system_prompt=panel.system_prompt())
        except Exception as exc:  # noqa: BLE001 - shown to the user
            show_error(self, exc, "Cannot start the arena")
            return
        self.close_session()
        self.session = session
        try:
            session.start()
        except Exception as exc:  # noqa: BLE001 - shown to the user
            self.session = None
            show_error(self, exc, "Cannot load the models")
            self._update_controls()
            return
        self._set_pane_count(len(session.sides))
        for pane in self.panes:
            pane.clear("Loading…")
        self._show_titles()
        self.timer.start()
        self.ctx.conversations_changed.emit()
        self._update_controls()

    def close_session(self) -> None:
        self.timer.stop()
        if self.session is not None:
            session, self.session = self.session, None
            try:
                session.close()
            except Exception as exc:  # noqa: BLE001
                show_error(self, exc)
        self._update_controls()

    def send(self) -> None:
        session, text = self.session, self.prompt_edit.toPlainText().strip()
        if session is None or session.state != "ready" or not text or self.settings_panel.problems():
            return
        session.settings = self.settings_panel.settings()
        try:
            session.send(text)
        except Exception as exc:  # noqa: BLE001 - shown to the user
            show_error(self, exc, "Cannot send the prompt")
            return
        self.prompt_edit.clear()
        for pane in self.panes:
            turns = session.history(pane.position)
            # Blind: this round only. Earlier rounds were revealed by their votes, so a pane
            # showing its side's history would tell which model it is (the models still see it).
            pane.show_round(turns[-1:] if session.blind else turns)
        self._show_titles()
        self._update_controls()

    def stop(self) -> None:
        if self.session is not None:
            self.session.stop()

    def new_conversation(self) -> None:
        if self.session is None:
            return
        try:
            self.session.new_conversations()
        except Exception as exc:  # noqa: BLE001
            show_error(self, exc)
            return
        for pane in self.panes:
            pane.clear("A fresh conversation: the next prompt starts it.")
        if self.ctx is not None:
            self.ctx.conversations_changed.emit()

    def poll(self) -> None:
        session = self.session
        if session is None:
            self.timer.stop()
            return
        try:
            events = session.poll()
        except Exception as exc:  # noqa: BLE001
            self.timer.stop()
            show_error(self, exc)
            return
        for ev in events:
            self._event(ev)
        if session.state in ("failed", "closed"):
            self.timer.stop()
        if events:
            self._update_controls()

    def _event(self, ev: "ArenaEvent") -> None:
        pane = self.panes[ev.position] if ev.position is not None and ev.position < len(self.panes) else None
        if ev.kind == "token" and pane is not None:
            pane.append(ev.text)  # appended at the end, never a full render
        elif ev.kind == "done" and pane is not None:
            p = ev.payload
            speed = p.get("tokens_per_s")
            note = f"{p.get('tokens', 0)} tokens" + (f" · {speed:.1f} tok/s" if speed else "")
            if p.get("finish_reason") == "interrupted":
                note += " · stopped"
            pane.finish(ev.text, note)
            pane.rate_button.setEnabled(bool(ev.message_id))
        elif ev.kind == "failed":
            if pane is not None:
                pane.status.setText("failed")
            if ev.error is not None:
                show_error(self, ev.error, "The arena failed")
        elif ev.kind == "ready":
            for pane in self.panes:
                pane.clear("Ready. Type a prompt below.")
            self.prompt_edit.setFocus()
        elif ev.kind == "round_done" and self.ctx is not None:
            self.ctx.conversations_changed.emit()

    # -- voting ----------------------------------------------------------------------------------
    def vote(self, outcome: str) -> None:
        session = self.session
        if session is None or not session.can_vote or not self.vote_actions[outcome].isEnabled():
            return
        try:
            session.vote(outcome)
        except Exception as exc:  # noqa: BLE001 - shown to the user
            show_error(self, exc, "Cannot store the vote")
            return
        self._show_titles()
        self._update_controls()
        if self.ctx is not None:
            self.ctx.feedback_changed.emit()  # votes are feedback items
        if not self.is_current:  # shown, the page refreshes on feedback_changed already
            self.refresh_leaderboard()

    def refresh_leaderboard(self) -> None:
        self.leaderboard.refresh(self.ctx.store if self.ctx is not None else None)

    def rate(self, position: int) -> None:
        """Open the rating dialog on the reply shown at `position`."""
        from workbench.ui.feedback.dialog import FeedbackDialog

        message_id = self.session.message_id(position) if self.session is not None else None
        if self.ctx is None or message_id is None:
            return
        dialog = FeedbackDialog(self.ctx, message_id, self)
        self.feedback_dialog = dialog
        dialog.open()

    # -- view ------------------------------------------------------------------------------------
    def _set_pane_count(self, count: int) -> None:
        while len(self.panes) > count:
            pane = self.panes.pop()
            self._panes_row.removeWidget(pane)
            pane.deleteLater()
        while len(self.panes) < count:
            pane = SidePane(len(self.panes))
            pane.rate_requested.connect(self.rate)
            pane.clear(PLACEHOLDER if not self.panes else "")
            self._panes_row.addWidget(pane, 1)
            self.panes.append(pane)

    def _show_titles(self) -> None:
        session = self.session
        for pane in self.panes:
            if session is None:
                pane.title.setText(f"Model {SIDE_LETTERS[pane.position].upper()}")
            else:
                pane.title.setText(session.label(pane.position))

    def _pickers_changed(self) -> None:
        if self.session is None:
            self._set_pane_count(len(self.side_combos))
        self._update_controls()

    def _update_controls(self) -> None:
        state, session = self.state, self.session
        busy = state in ("starting", "generating")
        picked = self.pickers.selected()
        self.start_action.setEnabled(self.ctx is not None and len(picked) >= 2 and not busy)
        self.send_action.setEnabled(state == "ready" and not self.settings_panel.problems())
        self.stop_action.setEnabled(state == "generating")
        self.new_action.setEnabled(session is not None and state not in ("generating", "failed", "closed"))
        can_vote = session is not None and session.can_vote
        sides = len(session.sides) if session is not None else len(self.side_combos)
        for outcome, action in self.vote_actions.items():
            action.setEnabled(can_vote and (outcome not in SIDE_LETTERS or SIDE_LETTERS.index(outcome) < sides))
            self.vote_buttons[outcome].setVisible(outcome not in SIDE_LETTERS or SIDE_LETTERS.index(outcome) < sides)
        for button, action in ((self.start_button, self.start_action), (self.send_button, self.send_action),
                               (self.stop_button, self.stop_action), (self.new_button, self.new_action),
                               *((self.vote_buttons[o], a) for o, a in self.vote_actions.items())):
            button.setEnabled(action.isEnabled())
        self.pickers.setEnabled(self.ctx is not None and not busy)
        self.blind_check.setEnabled(not busy)
        self.prompt_edit.setEnabled(state in ("ready", "generating"))
        self.state_label.setText(self._state_text())

    def _state_text(self) -> str:
        session = self.session
        if session is None:
            if self.ctx is not None and not self.pickers.selected():
                return "No model yet: add one on the Models page."
            return "No arena started."
        mode = "blind" if session.blind else "names shown"
        names = ", ".join(s.name for s in session.sides) if not session.blind else f"{len(session.sides)} models"
        text = {"starting": f"Loading {names}…", "ready": f"Ready — {names} ({mode})",
                "generating": f"Generating — {names} ({mode})", "failed": "A model failed to load or crashed.",
                "closed": "The arena was closed."}.get(session.state, session.state)
        if session.state == "ready" and session.can_vote:
            text += " — vote: which reply is better?"
        elif session.state == "ready" and session.round is not None and session.round.revealed and session.blind:
            text += " — voted; the names are shown."
        return text
