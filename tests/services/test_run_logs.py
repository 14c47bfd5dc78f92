"""Reading a run's log as it grows: new bytes from an offset, whole characters, a replaced log."""

from __future__ import annotations

import os
import uuid

from workbench.services.run_logs import read_log


def _run(store):
    ds = store.add_dataset("d")
    v = store.add_version(dataset_id=ds.id, content_hash="c", blob_path="b", row_count=1, format="t",
                          source_name="f", source_size=1, source_hash="h")
    m = store.add_base_model("m", "tiny", "/p", "fp")
    run_id = str(uuid.uuid4())
    run = store.add_run(id=run_id, name="r", dataset_version_id=v.id, base_model_id=m.id, config={},
                        work_dir=f"runs/{run_id}", status="running")
    os.makedirs(store.abspath(run.work_dir))
    return run, os.path.join(store.abspath(run.work_dir), "train.log")


def test_reading_follows_the_log_as_it_grows(store):
    run, path = _run(store)
    assert read_log(store.path, run, 0) == read_log(store.path, run, 0)  # no log yet
    chunk = read_log(store.path, run, 0)
    assert (chunk.text, chunk.offset, chunk.size) == ("", 0, 0)
    with open(path, "ab") as f:
        f.write(b"loading model\n")
    first = read_log(store.path, run, 0)
    assert (first.text, first.offset, first.size) == ("loading model\n", 14, 14)
    with open(path, "ab") as f:
        f.write(b"step 1 loss 2.5\n")
    second = read_log(store.path, run, first.offset)
    assert (second.text, second.offset, second.size) == ("step 1 loss 2.5\n", 30, 30)
    assert read_log(store.path, run, second.offset).text == ""


def test_reads_are_bounded_and_never_cut_a_character(store):
    run, path = _run(store)
    text = "température 20 °C → 25 °C ✓\n" * 50
    with open(path, "wb") as f:
        f.write(text.encode("utf-8"))
    size = os.path.getsize(path)
    pieces, offset = [], 0
    while offset < size:
        chunk = read_log(store.path, run, offset, max_bytes=7)  # cuts multi-byte characters often
        assert 0 < chunk.offset - offset <= 7 and chunk.size == size
        pieces.append(chunk.text)
        offset = chunk.offset
    assert "".join(pieces) == text and "\ufffd" not in "".join(pieces)


def test_a_character_still_being_written_comes_whole_next_time(store):
    run, path = _run(store)
    with open(path, "wb") as f:
        f.write(b"ok \xe2\x9c")  # the first two of ✓'s three bytes
    chunk = read_log(store.path, run, 0)
    assert (chunk.text, chunk.offset) == ("ok ", 3)
    with open(path, "ab") as f:
        f.write(b"\x93\n")
    assert read_log(store.path, run, chunk.offset).text == "✓\n"


def test_a_log_shorter_than_the_offset_is_read_from_its_start(store):
    run, path = _run(store)
    with open(path, "w") as f:
        f.write("new\n")
    chunk = read_log(store.path, run, 500)
    assert (chunk.text, chunk.offset, chunk.size) == ("new\n", 4, 4)
