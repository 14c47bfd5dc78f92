"""Render a conversation (list of {role, content}) as chat bubbles in a QTextBrowser, each
bubble with an optional note (token counts...) and links (Regenerate, Edit, ‹ 2/3 ›, Copy...)."""

from __future__ import annotations

import html
from typing import Iterable, Mapping, Optional, Sequence

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QColor, QTextCharFormat, QTextCursor, QTextTable
from PySide6.QtWidgets import QTextBrowser, QWidget

from workbench.ui.common import theme

_ROLE_LABEL = {"user": "You", "assistant": "Assistant", "system": "System"}
# A line in the view, not a message: where the conversation went on with another model.
MODEL_CHANGE = "model-change"
LINK_SCHEME = "act"  # a bubble link's href is act:<command>/<turn id>

# (href, text) pairs shown in a bubble's header
Links = Sequence[tuple[str, str]]


def link(command: str, turn_id: str) -> str:
    return f"{LINK_SCHEME}:{command}/{turn_id}"


def parse_link(url: str) -> Optional[tuple[str, str]]:
    """(command, turn id) of a bubble link, None for any other href."""
    if not url.startswith(LINK_SCHEME + ":"):
        return None
    command, _, turn_id = url[len(LINK_SCHEME) + 1:].partition("/")
    return (command, turn_id) if command and turn_id else None


def _bubble(role: str, content: str, colors: theme.Colors, label: Optional[str] = None,
            note: str = "", links: Links = ()) -> str:
    if role == MODEL_CHANGE:
        return (f"<p align='center' style='color:{colors.muted_text}; margin:4px 0 10px 0'>"
                f"── {html.escape(content)} ──</p>")
    background = {"user": colors.user_bubble, "assistant": colors.assistant_bubble}.get(
        role, colors.system_bubble)
    name = html.escape(label or _ROLE_LABEL.get(role, role.capitalize()))
    extra = f" <span style='color:{colors.muted_text}'>{html.escape(note)}</span>" if note else ""
    tools = ""
    if links:
        # An empty href is plain text (a branch position between its arrows).
        anchors = "&nbsp;&nbsp;".join(
            f"<a href='{html.escape(href, quote=True)}' style='color:{colors.muted_text}'>{html.escape(text)}</a>"
            if href else f"<span style='color:{colors.muted_text}'>{html.escape(text)}</span>"
            for href, text in links)
        tools = f"&nbsp;&nbsp;&nbsp;<span>{anchors}</span>"
    # pre-wrap: spaces and line breaks show as typed (indented code), long lines still wrap.
    # Tables, not divs: Qt's rich text honours cell padding and background, not div styling.
    # The content paragraph comes last: streaming appends at the end of the cell.
    return (
        f"<table width='100%' cellspacing='0' cellpadding='8' style='margin-bottom:6px'>"
        f"<tr><td style='background-color:{background}; color:{colors.bubble_text}'>"
        f"<b>{name}</b>{extra}{tools}<p style='white-space:pre-wrap; margin:0'>{html.escape(content)}</p>"
        f"</td></tr></table>"
    )


def conversation_html(messages: Iterable[Mapping[str, str]], notes: Optional[dict[int, str]] = None,
                      links: Optional[dict[int, Links]] = None) -> str:
    colors = theme.colors()
    notes, links = notes or {}, links or {}
    parts = [_bubble(str(m.get("role", "")), str(m.get("content", "")), colors, note=notes.get(i, ""),
                     links=links.get(i, ()))
             for i, m in enumerate(messages)]
    return "".join(parts)


class ChatView(QTextBrowser):
    """A read-only transcript; set_messages re-renders, append_to_last streams into the last
    bubble without re-rendering (so a long conversation stays cheap and a selection survives);
    both keep the view at the bottom when it was there. A click on a bubble link emits
    link_activated(command, turn id)."""

    link_activated = Signal(str, str)

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setOpenExternalLinks(False)
        self.setOpenLinks(False)
        self._messages: list[dict[str, str]] = []
        self._notes: dict[int, str] = {}
        self._links: dict[int, Links] = {}
        self._placeholder = ""
        self.full_renders = 0  # how often the whole document was rebuilt (tests: not per token)
        self.anchorClicked.connect(self._anchor)

    def _anchor(self, url: QUrl) -> None:
        parsed = parse_link(url.toString())
        if parsed is not None:
            self.link_activated.emit(*parsed)

    def set_placeholder(self, text: str) -> None:
        if text == self._placeholder:
            return
        self._placeholder = text
        if not self._messages:
            self._render()

    def set_messages(self, messages: Iterable[Mapping[str, str]], notes: Optional[dict[int, str]] = None,
                     follow: bool = True, links: Optional[dict[int, Links]] = None) -> None:
        self._messages = [dict(m) for m in messages]
        self._notes = dict(notes or {})
        self._links = dict(links or {})
        self._render(follow)

    def links(self) -> dict[int, list[tuple[str, str]]]:
        return {i: list(v) for i, v in self._links.items()}

    def append_to_last(self, text: str) -> None:
        """Add streamed text to the last message (a bubble); re-renders only if it cannot."""
        if not text or not self._messages:
            return
        self._messages[-1]["content"] = self._messages[-1].get("content", "") + text
        frames = self.document().rootFrame().childFrames()
        table = frames[-1] if frames else None
        if not isinstance(table, QTextTable) or self._messages[-1].get("role") == MODEL_CHANGE:
            self._render()
            return
        bar = self.verticalScrollBar()
        at_bottom = bar.value() >= bar.maximum() - 4
        cursor = table.cellAt(0, 0).lastCursorPosition()
        fmt = QTextCharFormat()
        fmt.setForeground(QColor(theme.colors().bubble_text))
        cursor.insertText(text, fmt)
        if at_bottom:
            bar.setValue(bar.maximum())

    def messages(self) -> list[dict[str, str]]:
        return [dict(m) for m in self._messages]

    def rerender(self) -> None:
        self._render(follow=False)

    def _render(self, follow: bool = True) -> None:
        self.full_renders += 1
        bar = self.verticalScrollBar()
        at_bottom = bar.value() >= bar.maximum() - 4
        if self._messages:
            self.setHtml(conversation_html(self._messages, self._notes, self._links))
        else:
            color = theme.colors().muted_text
            self.setHtml(f"<p style='color:{color}'>{html.escape(self._placeholder)}</p>")
        if follow and at_bottom:
            self.moveCursor(QTextCursor.MoveOperation.End)
            bar.setValue(bar.maximum())
