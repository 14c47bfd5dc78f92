"""Errors that carry a message for the user plus technical details.

Every layer raises a subclass of WorkbenchError for anything the user can act on; the UI shows
`user_message` in a dialog with `details` behind a "Show details" button, the CLI prints both.
"""

from __future__ import annotations


class WorkbenchError(Exception):
    """An error with a short user-facing message, details, and optional advice."""

    def __init__(self, user_message: str, details: str = "", advice: str = "") -> None:
        super().__init__(user_message)
        self.user_message = user_message
        self.details = details
        self.advice = advice

    def __str__(self) -> str:
        parts = [self.user_message]
        if self.advice:
            parts.append(self.advice)
        return " ".join(parts)


class ProjectError(WorkbenchError):
    """The project folder or its database cannot be used."""


class SchemaTooNewError(ProjectError):
    """The project was written by a newer Workbench; we refuse to touch it."""


class DataImportError(WorkbenchError):
    """A dataset file cannot be imported (which file, which row, what is wrong)."""


class ModelError(WorkbenchError):
    """A base model cannot be found, built or loaded."""


class JobError(WorkbenchError):
    """A child process could not be started or failed."""
