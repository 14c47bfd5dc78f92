"""Writing model folders atomically (fingerprints: workbench.core.hashing.model_fingerprint)."""

from __future__ import annotations

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
