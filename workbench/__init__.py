"""Workbench: a desktop workbench for small teams that fine-tune language models locally."""

__version__ = "0.1.0"
