"""Record formats: detecting OpenAI messages, ShareGPT, Alpaca, prompt/completion and plain text, column mappings, normalising to chat messages, validation and problem reports."""

# The preference-pair formats register themselves with detect's FORMATS: importing them here
# means any use of a format (detection, a chosen format name) sees them.
from workbench.data.formats import preference_formats  # noqa: F401

__all__ = ["preference_formats"]
