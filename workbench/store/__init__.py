"""The SQLite project store: schema, numbered migrations, queries, blobs on disk."""

from workbench.store.project_store import ProjectStore
from workbench.store.run_report import MetricRow, RunReport

__all__ = ["MetricRow", "ProjectStore", "RunReport"]
