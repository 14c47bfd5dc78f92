"""Shared UI pieces: workers, task dialogs, error dialogs, settings, themes, the page base and record tables, the chat transcript view."""
