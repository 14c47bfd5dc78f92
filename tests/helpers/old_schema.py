"""A project database exactly as an older schema version left it, for migration tests."""

from __future__ import annotations

import sqlite3

import sqlite_utils

from workbench.store import migrations

STAMP = {"created_at": "x", "created_by": "me"}


def old_project(tmp_path, version: int) -> tuple[str, str, sqlite3.Connection, sqlite_utils.Database]:
    """Old.wbproj at schema `version` holding a project, a dataset "d" with version "v" and a
    base model "m": -> (folder, db path, connection, database). The caller adds its runs, then
    commits and closes the connection before opening the folder with the store."""
    folder = tmp_path / "Old.wbproj"
    folder.mkdir()
    db_path = str(folder / "project.sqlite")
    conn = sqlite3.connect(db_path)
    db = sqlite_utils.Database(conn)
    with conn:
        for number, migration in enumerate(migrations.MIGRATIONS[:version], start=1):
            migration(db)
            conn.execute(f"PRAGMA user_version = {number}")
    db["project"].insert({"id": "p", "name": "Old", "app_version": "0", **STAMP})
    db["datasets"].insert({"id": "d", "name": "d", **STAMP})
    db["dataset_versions"].insert({"id": "v", "dataset_id": "d", **STAMP})
    db["base_models"].insert({"id": "m", "name": "m", **STAMP})
    return str(folder), db_path, conn, db
