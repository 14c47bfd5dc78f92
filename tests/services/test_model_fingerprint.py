"""One base-model fingerprint: the engine (built-in models) and services.models (local
folders) give the same value for the same folder, a changed weight file changes it, and a
value stored by the old local-folder scheme still resolves."""

from __future__ import annotations

import hashlib
import os
import shutil

from workbench.services import models


def _rewrite_weights_byte(folder) -> None:
    path = os.path.join(folder, "model.safetensors")
    with open(path, "r+b") as f:  # same size: only the bytes differ
        f.seek(os.path.getsize(path) // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))
    later = os.stat(path).st_mtime_ns + 2_000_000_000  # a later edit: not hidden by a coarse clock
    os.utime(path, ns=(later, later))


def test_engine_and_local_folder_give_the_same_fingerprint(store, tiny_model_dir, tmp_path):
    built = models.ensure_builtin_model(store, "tiny")  # fingerprinted by the build-model child
    assert built.fingerprint.startswith("sha256:")
    assert models.add_local_model(store, tiny_model_dir).fingerprint == built.fingerprint
    copy = shutil.copytree(tiny_model_dir, tmp_path / "teammate" / "tiny")  # another machine's path
    assert models.add_local_model(store, str(copy)).fingerprint == built.fingerprint


def test_a_changed_weight_file_changes_the_fingerprint(store, tiny_model_dir, tmp_path):
    copy = str(shutil.copytree(tiny_model_dir, tmp_path / "tiny"))
    before = models.add_local_model(store, copy)
    assert models.add_local_model(store, copy).id == before.id  # unchanged: the same model
    _rewrite_weights_byte(copy)
    after = models.add_local_model(store, copy)
    assert after.fingerprint != before.fingerprint and after.id != before.id


def test_a_fingerprint_stored_before_issue_7_still_resolves(store, tiny_model_dir, tmp_path):
    copy = str(shutil.copytree(tiny_model_dir, tmp_path / "tiny"))
    old = hashlib.sha256()  # the old services.models.folder_fingerprint: config + weight names and sizes
    old.update(open(os.path.join(copy, "config.json"), "rb").read())
    for name in sorted(os.listdir(copy)):
        if name.endswith((".safetensors", ".bin", ".gguf")):
            old.update(name.encode() + str(os.path.getsize(os.path.join(copy, name))).encode())
    stored = store.add_base_model("tiny", "hf_folder", copy, old.hexdigest())
    assert models.add_local_model(store, copy).id == stored.id
    assert [m.id for m in store.list_base_models()] == [stored.id]
