"""Evaluation metrics, statistics, judge-agreement and judge prompts: pure Python over the field's metric libraries (no Qt, no torch, no store)."""
