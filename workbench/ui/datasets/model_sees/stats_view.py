"""What the model sees, in numbers: a version's row/turn counts and its character- and
token-length histograms (pyqtgraph BarGraphItems, imported when first shown) with the max
length as a line and how many rows training would truncate. A long tail (workbench.data.ops.stats
cuts it off) is one grey bar right of the others; the axis label says what it holds."""

from __future__ import annotations

import html
from typing import Any, Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QScrollArea, QStackedLayout, QVBoxLayout, QWidget

from workbench.ui.common import theme


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


# Bars fill the lower 1 / HEADROOM of a plot's height; the max-length label stands above them.
HEADROOM = 1.5
LABEL_AT = 0.97  # the label's top, as a fraction of the plot's height


def axis_text(hist: Any, unit: str) -> str:
    """The x axis' label: the unit, and what the grey long-tail bar holds."""
    if not hist.overflow:
        return unit
    rows = "row" if hist.overflow == 1 else "rows"
    return f"{unit} · grey bar: > {hist.edges[-1]:,.0f}: {hist.overflow:,} {rows} (longest {hist.max:,.0f})"


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
        self.overflow: dict[str, Any] = {}  # "char"/"token" -> the long tail's bar (when cut off)
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
        # The label sits in the headroom left above the tallest bar (set_stats), so it hides none.
        self.max_line = pg.InfiniteLine(angle=90, movable=False, label="max length",
                                        labelOpts={"position": LABEL_AT, "anchors": [(0, 0), (0, 0)]})
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
        assert self.summary_label is not None and self.truncation_label is not None
        self.stats = stats
        self.summary_label.setText(summary_html(stats))
        self.truncation_label.setText(truncation_text(stats))
        for key, plot, hist, unit in (("char", self.char_plot, stats.chars, "characters"),
                                      ("token", self.token_plot, stats.tokens, "tokens")):
            setattr(self, f"{key}_bars", self._draw(key, plot, hist, unit))
        self.token_plot.setVisible(stats.tokens is not None)
        t = stats.tokens
        # The line only where the bins are: beyond a cut-off tail the axis does not reach it.
        if t is not None and stats.max_length and (not t.overflow or stats.max_length <= t.edges[-1]):
            self.max_line.setPos(stats.max_length)
            self.max_line.label.setFormat(f"max length {stats.max_length:,}")
            self.max_line.show()
            right = self._right_end(t)
            self.token_plot.setXRange(min(t.min, stats.max_length) * 0.95, max(right, stats.max_length * 1.05),
                                      padding=0)
        else:
            self.max_line.hide()
        self._stack.setCurrentWidget(self.content)

    @staticmethod
    def _right_end(hist: Any) -> float:
        width = hist.edges[-1] - hist.edges[-2]
        return hist.edges[-1] + width * 2.0 if hist.overflow else hist.edges[-1] * 1.05

    def _draw(self, key: str, plot: Any, hist: Any, unit: str) -> Any:
        """The bars of one histogram (and its long-tail bar); -> the BarGraphItem or None."""
        import pyqtgraph as pg

        colors = theme.colors()
        for item in (getattr(self, f"{key}_bars"), self.overflow.pop(key, None)):
            if item is not None:
                plot.removeItem(item)
        if hist is None:
            return None
        plot.getPlotItem().setLabel("bottom", axis_text(hist, unit))
        bars = pg.BarGraphItem(x0=hist.edges[:-1], x1=hist.edges[1:], height=hist.counts,
                               brush=pg.mkBrush(colors.plot_line), pen=pg.mkPen(colors.plot_background))
        plot.addItem(bars)
        tallest = max(hist.counts + [hist.overflow])
        if hist.overflow:
            width = hist.edges[-1] - hist.edges[-2]
            x0 = hist.edges[-1] + width * 0.6  # a gap: this bar is not on the axis' scale
            tail = pg.BarGraphItem(x0=[x0], x1=[x0 + width], height=[hist.overflow],
                                   brush=pg.mkBrush(colors.muted_text), pen=pg.mkPen(colors.plot_background))
            tail.setToolTip(axis_text(hist, unit).split("grey bar: ")[1])
            plot.addItem(tail)
            self.overflow[key] = tail
        plot.setXRange(hist.edges[0] - (hist.edges[-1] - hist.edges[0]) * 0.02, self._right_end(hist), padding=0)
        plot.setYRange(0, tallest * HEADROOM, padding=0)
        return bars

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
