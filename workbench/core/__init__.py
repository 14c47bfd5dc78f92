"""Typed records, errors and small pure helpers shared by every layer (no Qt, torch, sqlite)."""
