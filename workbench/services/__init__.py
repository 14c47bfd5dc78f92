"""Use cases shared by the UI and the CLI (no Qt, no torch)."""
