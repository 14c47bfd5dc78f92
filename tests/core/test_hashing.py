"""core.hashing: the one file hash and the base-model fingerprint (content, cache, progress)."""

from __future__ import annotations

import hashlib
import os

import pytest

from workbench.core.hashing import file_sha256, fingerprint_matches, model_fingerprint
from workbench.core.progress import CancelToken, Cancelled


def _model(folder, weights: bytes = b"\1" * 3_000_000):
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "gpt2"}', encoding="utf-8")
    (folder / "model.safetensors").write_bytes(weights)
    (folder / "tokenizer.json").write_text("{}", encoding="utf-8")
    return folder


def _rewrite_byte(path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    before = path.stat().st_mtime_ns
    path.write_bytes(bytes(data))
    # A later edit has a later time; set it so that a coarse clock cannot make it look unchanged.
    os.utime(path, ns=(before + 2_000_000_000, before + 2_000_000_000))


def test_file_sha256_is_the_sha256_of_the_bytes(tmp_path):
    path = tmp_path / "big.bin"
    data = os.urandom(3 * (1 << 20) + 17)  # several read chunks and a partial one
    path.write_bytes(data)
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()
    assert file_sha256(str(path)) == file_sha256(path)


def test_fingerprint_depends_on_names_and_bytes_not_on_the_folder(tmp_path):
    a = _model(tmp_path / "a")
    (tmp_path / "elsewhere").mkdir()
    b = _model(tmp_path / "elsewhere" / "b")
    assert model_fingerprint(a) == model_fingerprint(b)
    assert model_fingerprint(a).startswith("sha256:")
    (b / "tokenizer.json").write_text('{"changed": true}', encoding="utf-8")
    assert model_fingerprint(b) == model_fingerprint(a)  # tokenizer files are not the weights
    _rewrite_byte(b / "model.safetensors", 2_000_000)  # same size, one byte in the middle
    assert model_fingerprint(b) != model_fingerprint(a)


def test_cached_fingerprint_notices_a_changed_weight_file(tmp_path):
    folder = _model(tmp_path / "m")
    cache = str(tmp_path / "cache.json")
    first = model_fingerprint(folder, cache_path=cache)
    assert os.path.isfile(cache)
    assert model_fingerprint(folder, cache_path=cache) == first == model_fingerprint(folder)
    _rewrite_byte(folder / "model.safetensors", 10)
    changed = model_fingerprint(folder, cache_path=cache)
    assert changed != first and changed == model_fingerprint(folder)
    (tmp_path / "cache.json").write_text("not json", encoding="utf-8")  # a damaged cache is ignored
    assert model_fingerprint(folder, cache_path=cache) == changed


def test_fingerprint_reports_progress_and_can_be_cancelled(tmp_path):
    folder = _model(tmp_path / "m")
    seen = []
    model_fingerprint(folder, progress=lambda fraction, message: seen.append((fraction, message)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(fractions) >= 3
    assert all(m.startswith("Fingerprinting m:") for _, m in seen)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        model_fingerprint(folder, cancel=token)


def _names_and_sizes(folder) -> str:
    # What services.models.folder_fingerprint stored for local folders before issue 7.
    h = hashlib.sha256()
    h.update((folder / "config.json").read_bytes())
    for name in sorted(os.listdir(folder)):
        if name.endswith((".safetensors", ".bin", ".gguf")):
            h.update(name.encode())
            h.update(str(os.path.getsize(folder / name)).encode())
    return h.hexdigest()


def test_a_fingerprint_stored_by_the_old_scheme_still_matches_its_folder(tmp_path):
    folder = _model(tmp_path / "m")
    other = _model(tmp_path / "other", weights=b"\2" * 10)
    assert fingerprint_matches(_names_and_sizes(folder), folder)
    assert fingerprint_matches(model_fingerprint(folder), folder)
    assert not fingerprint_matches(_names_and_sizes(other), folder)
    assert not fingerprint_matches(model_fingerprint(other), folder)
