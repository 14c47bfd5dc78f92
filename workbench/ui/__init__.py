"""The PySide6 desktop GUI. Everything Qt (and pyqtgraph) lives here and nowhere else.

Nothing in this package imports torch / transformers / peft, directly or indirectly: training,
evaluation and chat generation run in child processes started by workbench.services.
"""
