"""The Runs page's metric charts: live curves of one run or several overlaid.

MetricChart (metric_chart.py) and ChartPanel (chart_panel.py, the chart with its toolbar) are
Qt widgets; series, decimate, run_data, curves and ticks are pure numpy/Python (tested without
Qt); axes, drawing, crosshair and export import pyqtgraph, and only once a chart is built.
"""
