"""The import dialog and its steps: source, preview, column mapping, problems."""
