"""The SQLite project store: schema, numbered migrations, queries, blobs on disk."""

from workbench.store.project_store import ProjectStore

__all__ = ["ProjectStore"]
