"""What the Chat page's transcript shows of a conversation's branch: the messages, each reply's
stored stats (token counts, tokens/s), the per-message links (Regenerate, Edit, ‹ 2/3 ›, Copy,
Rate / correct…), and the dialog showing the rendered prompt."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from workbench.ui.common.chat_view import MODEL_CHANGE, link

# Link commands (ChatView.link_activated's first argument)
REGENERATE, EDIT, COPY, RATE, PREV, NEXT = "regenerate", "edit", "copy", "rate", "prev", "next"


@dataclass
class TranscriptView:
    """The transcript's content: messages as the view takes them and, per index, the turn shown."""

    messages: list[dict[str, str]] = field(default_factory=list)
    notes: dict[int, str] = field(default_factory=dict)
    links: dict[int, list[tuple[str, str]]] = field(default_factory=dict)
    turn_ids: dict[int, str] = field(default_factory=dict)


def reply_note(turn: Any) -> str:
    """A reply's stored stats: prompt and reply tokens, tokens/s, why it ended early."""
    from workbench.services.chat import turn_tokens_per_s

    parts = []
    if turn.tokens:
        prompt = f"{turn.prompt_tokens} prompt + " if turn.prompt_tokens else ""
        parts.append(f"{prompt}{turn.tokens} tokens")
    rate = turn_tokens_per_s(turn)
    if rate:
        parts.append(f"{rate:.1f} tok/s")
    if turn.finish_reason == "length":
        parts.append("stopped at the token limit")
    elif turn.finish_reason == "interrupted":
        parts.append("stopped")
    return " · ".join(parts)


def _branch_links(turn: Any, position: tuple[int, int]) -> list[tuple[str, str]]:
    index, count = position
    if count < 2:
        return []
    return [(link(PREV, turn.id) if index > 1 else "", "‹"), ("", f"{index}/{count}"),
            (link(NEXT, turn.id) if index < count else "", "›")]


def build(branch: list[Any], all_turns: list[Any], markers: dict[int, str],
          actions: bool = True) -> TranscriptView:
    """The view of `branch` (Turn records, first to head); `markers` puts a model-change line
    before the branch's turn at that index (len(branch): after the last)."""
    from workbench.services.chat import siblings

    out = TranscriptView()
    for i in range(len(branch) + 1):
        if i in markers:
            out.messages.append({"role": MODEL_CHANGE, "content": markers[i]})
        if i == len(branch):
            break
        turn = branch[i]
        row = len(out.messages)
        out.messages.append({"role": turn.role, "content": turn.content})
        out.turn_ids[row] = turn.id
        alts = siblings(all_turns, turn)
        position = (next((k for k, t in enumerate(alts) if t.id == turn.id), 0) + 1, max(len(alts), 1))
        links = _branch_links(turn, position)
        if turn.role == "assistant":
            out.notes[row] = reply_note(turn)
            if actions:
                links += [(link(REGENERATE, turn.id), "Regenerate"), (link(COPY, turn.id), "Copy"),
                          (link(RATE, turn.id), "Rate / correct…")]
        elif turn.role == "user" and actions:
            links += [(link(EDIT, turn.id), "Edit"), (link(COPY, turn.id), "Copy")]
        if links:
            out.links[row] = links
    return out


class PromptDialog(QDialog):
    """The prompt text the model's chat template made of the conversation, and its length."""

    def __init__(self, text: str, tokens: Optional[int], context_limit: Optional[int] = None,
                 parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("chatPromptDialog")
        self.setWindowTitle("The rendered prompt")
        self.resize(720, 520)
        limit = f" of the model's {context_limit}" if context_limit else ""
        self.tokens_label = QLabel(f"{tokens if tokens is not None else '?'} tokens{limit} — exactly what the "
                                   "model reads (its chat template applied), the reply starts after it.")
        self.tokens_label.setWordWrap(True)
        self.text = QPlainTextEdit(text)
        self.text.setReadOnly(True)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tokens_label)
        layout.addWidget(self.text, 1)
        layout.addWidget(buttons)
