"""What the model sees, in numbers: a version's row/turn counts and its character- and
token-length histograms (pyqtgraph BarGraphItems, imported when first shown) with the max
length as a line and how many rows training would truncate."""

from __future__ import annotations

import html
from typing import Any, Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QScrollArea, QStackedLayout, QVBoxLayout, QWidget

from workbench.ui import theme


def summary_html(stats: Any) -> str:
    turns = ", ".join(f"{k}: {v:,}" for k, v in stats.turns.items())
    roles = ", ".join(f"{html.escape(k)} {v:,}" for k, v in stats.roles.items())
    lines = [f"<b>{stats.row_count:,}</b> rows, <b>{stats.message_count:,}</b> messages ({roles})",
             f"Messages per row: {turns}"]
    if stats.assistant_turns:
        lines.append("Assistant replies per row: " + ", ".join(f"{k}: {v:,}" for k, v in stats.assistant_turns.items()))
    c = stats.chars
    lines.append(f"Characters per row: median {c.median:,.0f}, 95% ≤ {c.p95:,.0f}, max {c.max:,.0f}")
    if stats.tokens is not None:
        t = stats.tokens
        how = "rendered with the chat template" if stats.token_measure == "rendered" else "message texts"
        lines.append(f"Tokens per row ({how}): median {t.median:,.0f}, 95% ≤ {t.p95:,.0f}, max {t.max:,.0f}")
    warn = theme.colors().error_text
    if stats.empty_messages:
        lines.append(f"<span style='color:{warn}'>{stats.empty_messages:,} empty messages</span>")
    if stats.rows_without_assistant:
        lines.append(f"<span style='color:{warn}'>{stats.rows_without_assistant:,} rows have no assistant "
                     "reply (nothing to train on)</span>")
    if stats.render_errors:
        rows = ", ".join(str(i + 1) for i in stats.render_error_rows[:8])
        lines.append(f"<span style='color:{warn}'>{stats.render_errors:,} rows cannot be rendered with this "
                     f"model's chat template (rows {rows}…)</span>")
    return "<br>".join(lines)


def truncation_text(stats: Any) -> str:
    if stats.tokens is None:
        return "Choose a base model to see token lengths and what training would cut."
    if stats.truncated_rows is None or not stats.max_length:
        return ""
    n = stats.truncated_rows
    share = n / max(1, stats.row_count)
    if n == 0:
        return f"No row is longer than the max length of {stats.max_length:,} tokens."
    return (f"{n:,} rows would be truncated ({share:.1%} of the rows are longer than "
            f"{stats.max_length:,} tokens).")


class StatsView(QWidget):
    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("statsView")
        self._stack = QStackedLayout(self)
        self.placeholder = QLabel("Select a version to see its statistics.")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.placeholder.setEnabled(False)
        self._stack.addWidget(self.placeholder)
        self.content: Optional[QWidget] = None
        self.summary_label: Optional[QLabel] = None
        self.truncation_label: Optional[QLabel] = None
        self.char_plot: Any = None
        self.token_plot: Any = None
        self.char_bars: Any = None
        self.token_bars: Any = None
        self.max_line: Any = None
        self.stats: Any = None

    @property
    def built(self) -> bool:
        return self.content is not None

    def ensure_built(self) -> None:
        if self.content is not None:
            return
        import pyqtgraph as pg  # heavy: only once statistics are first shown

        self.summary_label = QLabel()
        self.summary_label.setObjectName("statsSummary")
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.truncation_label = QLabel()
        self.truncation_label.setObjectName("statsTruncation")
        self.truncation_label.setWordWrap(True)
        font = self.truncation_label.font()
        font.setBold(True)
        self.truncation_label.setFont(font)
        self.char_plot = pg.PlotWidget()
        self.char_plot.setObjectName("charHistogram")
        self.token_plot = pg.PlotWidget()
        self.token_plot.setObjectName("tokenHistogram")
        for plot, title, unit in ((self.char_plot, "Characters per row", "characters"),
                                  (self.token_plot, "Tokens per row (what training sees)", "tokens")):
            plot.setMinimumHeight(140)
            plot.setMenuEnabled(False)
            item = plot.getPlotItem()
            item.setTitle(title)
            item.setLabel("bottom", unit)
            item.setLabel("left", "rows")
            item.setMouseEnabled(x=False, y=False)
            item.hideButtons()
        self.max_line = pg.InfiniteLine(angle=90, movable=False, label="max length",
                                        labelOpts={"position": 0.92, "anchors": [(0, 0), (0, 0)]})
        self.max_line.setZValue(10)  # above the bars, label included
        self.token_plot.addItem(self.max_line)
        inner = QWidget()
        layout = QVBoxLayout(inner)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.truncation_label)
        layout.addWidget(self.token_plot, 1)  # first: it is what training truncates
        layout.addWidget(self.char_plot, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(inner)
        self.content = scroll
        self._stack.addWidget(scroll)
        self.apply_theme()

    def set_placeholder(self, text: str) -> None:
        self.placeholder.setText(text)
        self._stack.setCurrentWidget(self.placeholder)

    def set_stats(self, stats: Any) -> None:
        self.ensure_built()
        import pyqtgraph as pg

        assert self.summary_label is not None and self.truncation_label is not None
        self.stats = stats
        self.summary_label.setText(summary_html(stats))
        self.truncation_label.setText(truncation_text(stats))
        colors = theme.colors()
        for attr, plot, hist in (("char_bars", self.char_plot, stats.chars),
                                 ("token_bars", self.token_plot, stats.tokens)):
            old = getattr(self, attr)
            if old is not None:
                plot.removeItem(old)
                setattr(self, attr, None)
            if hist is None:
                continue
            bars = pg.BarGraphItem(x0=hist.edges[:-1], x1=hist.edges[1:], height=hist.counts,
                                   brush=pg.mkBrush(colors.plot_line), pen=pg.mkPen(colors.plot_background))
            plot.addItem(bars)
            setattr(self, attr, bars)
        self.token_plot.setVisible(stats.tokens is not None)
        if stats.tokens is not None and stats.max_length:
            self.max_line.setPos(stats.max_length)
            self.max_line.show()
            hi = max(stats.tokens.max, stats.max_length)
            self.token_plot.setXRange(min(stats.tokens.min, stats.max_length) * 0.95, hi * 1.05, padding=0)
        else:
            self.max_line.hide()
            if stats.tokens is not None:
                self.token_plot.enableAutoRange()
        self._stack.setCurrentWidget(self.content)

    def apply_theme(self) -> None:
        if self.content is None:
            return
        import pyqtgraph as pg

        colors = theme.colors()
        for plot in (self.char_plot, self.token_plot):
            plot.setBackground(colors.plot_background)
            item = plot.getPlotItem()
            for name in ("bottom", "left"):
                axis = item.getAxis(name)
                axis.setPen(pg.mkPen(colors.plot_foreground))
                axis.setTextPen(pg.mkPen(colors.plot_foreground))
            item.titleLabel.setText(item.titleLabel.text, color=colors.plot_foreground)
        self.max_line.setPen(pg.mkPen(colors.error_text, width=2, style=Qt.PenStyle.DashLine))
        self.max_line.label.setColor(colors.error_text)
        self.max_line.label.fill = pg.mkBrush(colors.plot_background)
        if self.stats is not None:
            self.set_stats(self.stats)
