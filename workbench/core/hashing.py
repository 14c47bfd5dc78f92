"""The one file hash and the one base-model fingerprint.

Both the GUI process (services) and the engine children hash through here, so a file or a
model folder gives the same value wherever, and on whichever machine, it is hashed.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Callable, Optional

from workbench.core.progress import CancelToken, ProgressCallback, report

CHUNK = 1 << 20  # 1 MiB reads: constant memory for files of any size
FINGERPRINT_PREFIX = "sha256:"
WEIGHT_SUFFIXES = (".safetensors", ".bin")


def _feed(digest, path: str | os.PathLike[str], on_chunk: Optional[Callable[[int], None]] = None) -> None:
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
            if on_chunk is not None:
                on_chunk(len(chunk))


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    _feed(digest, path)
    return digest.hexdigest()


def fingerprinted_files(folder: str | os.PathLike[str]) -> list[Path]:
    """What model_fingerprint reads: config.json, then the weight files sorted by name."""
    folder = Path(folder)
    return [folder / "config.json"] + sorted(
        p for p in folder.iterdir() if p.is_file() and p.name.endswith(WEIGHT_SUFFIXES))


def model_fingerprint(folder: str | os.PathLike[str], *, cache_path: Optional[str] = None,
                      progress: Optional[ProgressCallback] = None,
                      cancel: Optional[CancelToken] = None) -> str:
    """A base model's identity, 'sha256:<hex>': one sha256 over config.json and then each
    top-level *.safetensors / *.bin file sorted by name, each fed as its name, a NUL byte and
    all of its bytes.

    Only names and contents go in (no folder path, sizes or times), so the same model on a
    teammate's machine gives the same value: resolve a project's base model there by
    fingerprinting candidate folders (fingerprint_matches). All the weight bytes go in because
    a fine-tuned checkpoint has the same config, file names and sizes as its base, and an
    adapter applied to the wrong weights fails silently. Tokenizer files stay out: they do not
    change the weights, and each adapter folder keeps the tokenizer it was trained with.

    Cost: one read of every weight byte (seconds per GB). With cache_path, a JSON file the
    caller keeps, the value is remembered per folder with each file's size and modification
    time, so an unchanged multi-GB folder costs a few stat calls the next time. (A file
    rewritten with the same size and modification time would not be noticed, as with make.)
    """
    folder = Path(folder).resolve()
    files = fingerprinted_files(folder)
    stats = [[p.name, (st := p.stat()).st_size, st.st_mtime_ns] for p in files]
    cache = _read_cache(cache_path) if cache_path else {}
    entry = cache.get(str(folder))
    if isinstance(entry, dict) and entry.get("files") == stats and entry.get("fingerprint"):
        return entry["fingerprint"]
    total = sum(size for _, size, _ in stats) or 1
    done = 0

    def on_chunk(n: int) -> None:
        nonlocal done
        done += n
        if cancel is not None:
            cancel.raise_if_cancelled()
        report(progress, done / total, f"Fingerprinting {folder.name}: {done / 1e9:.1f} of {total / 1e9:.1f} GB")

    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode("utf-8") + b"\0")
        _feed(digest, path, on_chunk)
    fingerprint = FINGERPRINT_PREFIX + digest.hexdigest()
    if cache_path:
        cache[str(folder)] = {"files": stats, "fingerprint": fingerprint}
        _write_cache(cache_path, cache)
    return fingerprint


def fingerprint_matches(stored: str, folder: str | os.PathLike[str], *, cache_path: Optional[str] = None) -> bool:
    """Whether `folder` holds the model a project recorded as `stored`. Local folders added
    before issue 7 were stored under an older scheme (bare hex over config.json and the weight
    files' names and sizes); those still match the folder they were made from."""
    if stored.startswith(FINGERPRINT_PREFIX):
        return model_fingerprint(folder, cache_path=cache_path) == stored
    return _names_and_sizes_fingerprint(folder) == stored


def _names_and_sizes_fingerprint(folder: str | os.PathLike[str]) -> str:
    # The old services.models.folder_fingerprint, kept only to recognise values it stored.
    digest = hashlib.sha256()
    _feed(digest, os.path.join(folder, "config.json"))
    for name in sorted(os.listdir(folder)):
        if name.endswith((".safetensors", ".bin", ".gguf")):
            digest.update(name.encode())
            digest.update(str(os.path.getsize(os.path.join(folder, name))).encode())
    return digest.hexdigest()


def _read_cache(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}  # no cache yet, or a damaged one: hash again
    return data if isinstance(data, dict) else {}


def _write_cache(path: str, cache: dict) -> None:
    # Written whole and renamed: two workers (or two app windows) may write at once; the last
    # one wins, and a lost entry only costs hashing that folder again. Failing to write it is
    # not an error: the cache only saves time.
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(cache, f)
        os.replace(tmp, path)
    except OSError:
        try:
            os.remove(tmp)
        except OSError:
            pass
