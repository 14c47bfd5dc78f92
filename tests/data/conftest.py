"""Fixtures for the data-layer tests: real dataset files written in tmp_path."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest


@pytest.fixture
def write(tmp_path: Path):
    """write(name, text_or_bytes, encoding="utf-8", gz=False) -> Path of the written file."""

    def _write(name: str, content: str | bytes, encoding: str = "utf-8", gz: bool = False) -> Path:
        data = content if isinstance(content, bytes) else content.encode(encoding)
        path = tmp_path / name
        if gz:
            with gzip.open(path, "wb") as f:
                f.write(data)
        else:
            path.write_bytes(data)
        return path

    return _write


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    return tmp_path / "blobs"
