"""What the model sees, for one row: the conversation rendered with the model's chat template,
the tokens training learns from (assistant replies, tool calls) highlighted, tool results marked
apart (the model reads them, it does not learn them), and what max length cuts off.

Two views of the same RenderedRow: the text with trained spans marked, or every token as its
own chip (trained ones tinted) so the token boundaries are visible. A legend says which colour
is which.
"""

from __future__ import annotations

import html
from typing import Any, Optional

from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QTextBrowser, QVBoxLayout, QWidget

from workbench.core.tool_calls import TOOL_CALL, TOOL_RESULT
from workbench.ui.common import theme

TRAINED_BG = {"light": "#bbf7d0", "dark": "#14532d"}
TOOL_CALL_BG = {"light": "#bae6fd", "dark": "#0c4a6e"}  # trained too, told apart from replies
TOOL_RESULT_BG = {"light": "#fde68a", "dark": "#713f12"}  # read, not trained on
TOKEN_BG = {"light": ("#e5e7eb", "#f3f4f6"), "dark": ("#374151", "#2b2d31")}
TRAINED_TOKEN_BG = {"light": ("#86efac", "#bbf7d0"), "dark": ("#166534", "#14532d")}
TOOL_CALL_TOKEN_BG = {"light": ("#7dd3fc", "#bae6fd"), "dark": ("#075985", "#0c4a6e")}
TOOL_RESULT_TOKEN_BG = {"light": ("#fcd34d", "#fde68a"), "dark": ("#854d0e", "#713f12")}


def _text(s: str) -> str:
    # Visible whitespace: a newline shows as ⏎ then breaks, so template structure is readable.
    return html.escape(s).replace("\n", "<span style='opacity:0.5'>⏎</span><br>")


def cut_offset(rendered: Any) -> Optional[int]:
    """Character offset where truncation at max_length starts (None when nothing is cut)."""
    if not rendered.truncated or rendered.max_length is None or rendered.max_length >= len(rendered.tokens):
        return None
    return rendered.tokens[rendered.max_length].start


def spans_html(rendered: Any) -> str:
    name = theme.current_theme()
    colors = theme.colors()
    cut = cut_offset(rendered)
    text = rendered.text
    out = []
    for span in rendered.spans:
        pieces = [(span.start, span.end)]
        if cut is not None and span.start < cut < span.end:
            pieces = [(span.start, cut), (cut, span.end)]
        for start, end in pieces:
            chunk = _text(text[start:end])
            if cut is not None and start >= cut:
                out.append(f"<span style='color:{colors.error_text}'><s>{chunk}</s></span>")
            elif span.trained:
                background = (TOOL_CALL_BG if _kind(span) == TOOL_CALL else TRAINED_BG)[name]
                out.append(f"<span style='background-color:{background}'>{chunk}</span>")
            elif _kind(span) == TOOL_RESULT:
                out.append(f"<span style='background-color:{TOOL_RESULT_BG[name]}'>{chunk}</span>")
            else:
                out.append(f"<span style='color:{colors.muted_text}'>{chunk}</span>")
    return "".join(out)


def tokens_html(rendered: Any) -> str:
    name = theme.current_theme()
    colors = theme.colors()
    out = []
    for j, tok in enumerate(rendered.tokens):
        piece = rendered.text[tok.start:tok.end] or tok.piece
        cut = rendered.max_length is not None and j >= rendered.max_length
        if tok.trained:
            shades = (TOOL_CALL_TOKEN_BG if _kind(tok) == TOOL_CALL else TRAINED_TOKEN_BG)[name]
        else:
            shades = (TOOL_RESULT_TOKEN_BG if _kind(tok) == TOOL_RESULT else TOKEN_BG)[name]
        style = f"background-color:{shades[j % 2]}"
        if cut:
            style += f"; color:{colors.error_text}; text-decoration:line-through"
        title = html.escape(f"#{j} id {tok.id} {tok.piece!r}", quote=True)
        out.append(f"<span style='{style}' title='{title}'>{_text(piece)}</span>")
    return "".join(out)


def _kind(part: Any) -> str:
    return getattr(part, "kind", "") or ""


def has_tools(rendered: Any) -> bool:
    return any(_kind(s) in (TOOL_CALL, TOOL_RESULT) for s in rendered.spans)


def legend_html(rendered: Any) -> str:
    """Which colour is which (the tool entries only for a row with tool turns)."""
    name = theme.current_theme()
    items = [(TRAINED_BG[name], "reply: trained on")]
    if has_tools(rendered):
        items += [(TOOL_CALL_BG[name], "tool call: trained on"), (TOOL_RESULT_BG[name], "tool result: read, not trained on")]
    chips = [f"<span style='background-color:{bg}'>&nbsp;&nbsp;&nbsp;</span>&nbsp;{html.escape(label)}"
             for bg, label in items]
    chips.append(f"<span style='color:{theme.colors().muted_text}'>grey: the template's own text</span>")
    return "&nbsp;&nbsp;&nbsp;".join(chips)


def header_text(rendered: Any) -> str:
    what = "assistant replies and tool calls" if has_tools(rendered) else "assistant replies"
    text = (f"Row {rendered.index + 1}: {rendered.token_count:,} tokens, {rendered.trained_token_count:,} "
            f"trained on ({what}, highlighted)")
    if rendered.truncated:
        text += f" — longer than the max length {rendered.max_length:,}: the struck-out end is cut in training"
    elif rendered.max_length:
        text += f" — fits the max length {rendered.max_length:,}"
    return text


class TemplateView(QWidget):
    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("templateView")
        self.header = QLabel("Select a row and a base model to see it as the model sees it.")
        self.header.setObjectName("templateHeader")
        self.header.setWordWrap(True)
        self.tokens_check = QCheckBox("Show tokens")
        self.tokens_check.setToolTip("Every token as its own chip: see where the tokenizer splits the text.")
        self.tokens_check.toggled.connect(self._render)
        self.legend = QLabel()
        self.legend.setObjectName("templateLegend")
        self.legend.setWordWrap(True)
        self.legend.hide()
        self.browser = QTextBrowser()
        self.browser.setObjectName("templateText")
        self.browser.setOpenLinks(False)
        top = QHBoxLayout()
        top.addWidget(self.header, 1)
        top.addWidget(self.tokens_check)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.legend)
        layout.addWidget(self.browser, 1)
        self.rendered: Any = None

    def set_rendered(self, rendered: Any) -> None:
        self.rendered = rendered
        self._render()

    def set_message(self, text: str) -> None:
        self.rendered = None
        self.header.setText(text)
        self.legend.hide()
        self.browser.clear()

    def rerender(self) -> None:
        if self.rendered is not None:
            self._render()

    def _render(self) -> None:
        r = self.rendered
        if r is None:
            return
        self.header.setText(header_text(r))
        self.legend.setText(legend_html(r))
        self.legend.show()
        body = tokens_html(r) if self.tokens_check.isChecked() else spans_html(r)
        self.browser.setHtml(f"<div style='font-family:monospace; white-space:pre-wrap'>{body}</div>")
