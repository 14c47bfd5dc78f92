"""Writing model folders atomically and fingerprinting them."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Callable

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

WEIGHT_SUFFIXES = (".safetensors", ".bin")


def fingerprint(folder: str | os.PathLike[str]) -> str:
    """sha256 over config.json and the weight files (sorted by name), as 'sha256:<hex>'."""
    folder = Path(folder)
    digest = hashlib.sha256()
    files = [folder / "config.json"] + sorted(
        p for p in folder.iterdir() if p.is_file() and p.name.endswith(WEIGHT_SUFFIXES)
    )
    for path in files:
        digest.update(path.name.encode("utf-8") + b"\0")
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def atomic_folder(output_dir: str, write: Callable[[str], None]) -> str:
    """Call write(tmp_dir) on a temp sibling folder, then move it to output_dir.

    A crash leaves either the old folder or the new one, never a half-written model under
    output_dir. An existing output_dir is replaced.
    """
    target = Path(output_dir).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
    old = target.parent / f".{target.name}.old-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        write(str(tmp))
        if target.exists():
            os.replace(target, old)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return str(target)
