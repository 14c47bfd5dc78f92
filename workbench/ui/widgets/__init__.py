"""Reusable widgets (the loss plot, the chat transcript, the welcome screen)."""
