"""Never a half-written dataset version: cancel, exceptions, a source deleted, truncated or
growing mid-import, a failing disk, and a killed process all leave dest_dir without new files
(a killed process's `.partial-*` file is removed by a later import once it is stale)."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from workbench.core.errors import DataImportError
from workbench.core.progress import CancelToken, Cancelled
from workbench.data import clean_stale_partials, import_file
from workbench.data.ingest.partials import STALE_AFTER_S, partial_path, pid_alive

REPO = Path(__file__).resolve().parents[3]


def record(i: int) -> dict:
    return {"messages": [{"role": "user", "content": f"Question {i}"}, {"role": "assistant", "content": f"Answer {i}"}]}


@pytest.fixture(scope="module")
def many(tmp_path_factory) -> Path:
    """30,000 JSONL records (~2.4 MB): several fast-path blocks and row groups."""
    path = tmp_path_factory.mktemp("many") / "many.jsonl"
    path.write_text("".join(json.dumps(record(i)) + "\n" for i in range(30_000)), encoding="utf-8")
    return path


def entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def unpack_leftovers() -> list[Path]:
    folder = Path(tempfile.gettempdir()) / "workbench-import"
    return list(folder.glob(f".partial-{os.getpid()}-*")) if folder.exists() else []


def copy_of(source: Path, folder: Path) -> Path:
    target = folder / source.name
    target.write_bytes(source.read_bytes())
    return target


@pytest.mark.parametrize("at_call", [1, 3, 6])
def test_cancel_at_any_point_leaves_nothing(many, dest, at_call):
    token = CancelToken()
    calls = []

    def progress(fraction, message):
        calls.append(fraction)
        if len(calls) == at_call:
            token.cancel()

    with pytest.raises(Cancelled):
        import_file(many, dest_dir=dest, progress=progress, cancel=token)
    assert entries(dest) == []


def test_cancel_on_the_python_path_and_gzip_parquet(tmp_path, dest):
    csv_path = tmp_path / "rows.csv"
    csv_path.write_text("prompt,completion\n" + "".join(f"q{i},a{i}\n" for i in range(5000)), encoding="utf-8")
    token = CancelToken()
    with pytest.raises(Cancelled):
        import_file(csv_path, dest_dir=dest, cancel=token, progress=lambda f, m: f > 0.3 and token.cancel())
    parquet = tmp_path / "rows.parquet"
    pq.write_table(pa.table({"prompt": ["q"] * 5000, "completion": ["a"] * 5000}), parquet)
    with open(parquet, "rb") as f, gzip.open(tmp_path / "rows.parquet.gz", "wb") as g:
        g.write(f.read())
    token = CancelToken()
    with pytest.raises(Cancelled):
        import_file(tmp_path / "rows.parquet.gz", dest_dir=dest, cancel=token,
                    progress=lambda f, m: f > 0.3 and token.cancel())
    assert entries(dest) == [] and unpack_leftovers() == []


def test_an_exception_in_a_callback_leaves_nothing(many, dest, tmp_path):
    def progress(fraction, message):
        if fraction > 0.5:
            raise RuntimeError("the UI went away")

    with pytest.raises(RuntimeError, match="UI went away"):
        import_file(many, dest_dir=dest, progress=progress, problems_path=tmp_path / "r.jsonl")
    assert entries(dest) == [] and not (tmp_path / "r.jsonl").exists()
    assert [p.name for p in tmp_path.glob(".partial-*")] == []


@pytest.mark.parametrize("change", ["delete", "truncate", "append", "rewrite"])
def test_source_changing_mid_import_is_refused(many, tmp_path, dest, change):
    source = copy_of(many, tmp_path)
    done = []

    def progress(fraction, message):
        if fraction > 0.3 and not done:
            done.append(True)
            if change == "delete":
                source.unlink()
            elif change == "truncate":
                os.truncate(source, source.stat().st_size // 2)
            elif change == "append":
                with open(source, "a", encoding="utf-8") as f:
                    f.write(json.dumps(record(-1)) + "\n")
            else:
                before = source.stat()
                source.write_bytes(source.read_bytes())  # same size and bytes...
                # ...and a later modification time, set explicitly: a coarse-timestamp
                # filesystem may not see the rewrite move it at all.
                os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns + 2_000_000_000))

    with pytest.raises(DataImportError) as err:
        import_file(source, dest_dir=dest, progress=progress)
    expected = "was removed" if change == "delete" else "changed while it was being imported"
    assert expected in err.value.user_message and "nothing was imported" in err.value.user_message
    assert entries(dest) == []


def test_a_failing_disk_is_a_clear_error_and_leaves_nothing(many, dest, monkeypatch):
    def full(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pq.ParquetWriter, "write_table", full)
    with pytest.raises(DataImportError, match="could not be written") as err:
        import_file(many, dest_dir=dest)
    assert "No space left" in err.value.details and "free space" in err.value.advice
    assert entries(dest) == []


KILLER = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from workbench.data import import_file
    dest = Path(sys.argv[2])
    def progress(fraction, message):
        # Die (no clean-up possible) once the partial file holds a row group.
        if any(p.stat().st_size > 0 for p in dest.glob(".partial-*")):
            os.kill(os.getpid(), signal.SIGKILL)
    import_file(sys.argv[1], dest_dir=dest, progress=progress)
""")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_a_killed_import_leaves_a_partial_file_that_a_later_import_removes(many, dest, tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", KILLER, str(many), str(dest)], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL, stderr
    (left,) = dest.glob(".partial-*.parquet")
    assert left.name.startswith(f".partial-{proc.pid}-") and not pid_alive(proc.pid)

    ok = import_file(many, dest_dir=dest)  # still fresh: might be a slow import, kept
    assert entries(dest) == sorted([left.name, ok.parquet_path.name])

    old = time.time() - STALE_AFTER_S - 60
    os.utime(left, (old, old))
    again = import_file(many, dest_dir=dest)
    assert entries(dest) == [again.parquet_path.name]


def test_stale_cleanup_spares_live_imports_and_other_files(tmp_path):
    old = time.time() - STALE_AFTER_S - 60
    mine = partial_path(tmp_path, ".parquet")  # this process: alive
    legacy = tmp_path / (".import-" + "a" * 32 + ".parquet.tmp")
    dead = tmp_path / f".partial-999999999-{'b' * 32}.parquet"
    fresh_dead = tmp_path / f".partial-999999999-{'c' * 32}.parquet"
    unrelated = [tmp_path / ".partial-notes.txt", tmp_path / "keep.parquet"]
    for path in [mine, legacy, dead, fresh_dead, *unrelated]:
        path.write_bytes(b"x")
        if path is not fresh_dead:
            os.utime(path, (old, old))
    removed = clean_stale_partials(tmp_path)
    assert sorted(p.name for p in removed) == sorted([legacy.name, dead.name])
    assert sorted(entries(tmp_path)) == sorted(p.name for p in [mine, fresh_dead, *unrelated])
    assert pid_alive(os.getpid()) and not pid_alive(999999999) and not pid_alive(0)


def test_an_unwritable_destination_is_a_clear_error(many, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    with pytest.raises(DataImportError, match="cannot be written to"):
        import_file(many, dest_dir=blocker / "blobs", problems_path=tmp_path / "r.csv")
    assert [p.name for p in tmp_path.iterdir()] == ["not-a-folder"]
