"""`workbench data ...` verbs, run as a user would: a real child process per command."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.helpers.rows import chat, write_jsonl

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def wb(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workbench.cli", "data", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})


def wb_json(*args: str) -> dict:
    done = wb(*args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_data_verbs(tmp_path, chatml_model):
    records = [chat(f"Question {i}: where is order BB-{100000 + i}?", f"Order {i} ships on day {i % 5}.",
                    topic="orders" if i % 2 else "billing") for i in range(20)]
    records += [records[3], chat("Mail me at ann@example.com", "Will do, Ann.")]
    data = write_jsonl(tmp_path / "chats.jsonl", records)
    project = str(tmp_path / "P.wbproj")

    imported = wb_json("import", str(data), "--project", project, "--name", "chats")
    vid = imported["version"]["id"]
    assert imported["command"] == "import" and imported["version"]["row_count"] == 22

    preview = wb_json("clean", vid, "--project", project, "--op", "exact_dedup", "--dry-run")
    assert preview["report"]["removed"] == [20] and preview["report"]["duplicate_of"] == [3]
    done = wb("clean", vid, "--project", project, "--op", "pii", "--dry-run", "--examples", "1")
    assert done.returncode == 0 and "[ann@example.com -> [EMAIL]]" in done.stdout and "email 1" in done.stdout
    pii = wb_json("clean", vid, "--project", project, "--op", "pii", "--dry-run")["report"]
    first = pii["examples"][0]["replacements"][0]  # each replacement, where it is: plain JSON
    assert (first["kind"], first["value"]) == ("email", "ann@example.com") and set(first["ref"]) == {
        "row", "message", "start", "end"}
    assert pii["excluded"] == {"rows": [], "spans": []}

    done = wb("clean", vid, "--project", project, "--op", "exact_dedup")
    assert done.returncode == 0 and "21 rows (1 removed, 0 changed)" in done.stdout
    clean_id = done.stdout.split()[2].rstrip(":")

    split = wb_json("split", clean_id, "--project", project, "--ratios", "0.6,0.2,0.2", "--seed", "5",
                    "--stratify", "topic", "--leakage")
    sizes = {k: v["row_count"] for k, v in split["splits"].items()}
    assert sum(sizes.values()) == 21 and split["leakage"]["exact_pairs"] == 0
    listing = wb("list", "--project", project)
    assert listing.returncode == 0
    lines = listing.stdout.splitlines()
    assert lines[0].startswith("chats") and "imported from chats.jsonl" in lines[1]
    assert "exact_dedup: -1 rows" in lines[2] and lines[2].startswith("    ")  # indented under its parent
    assert sum("split: " in line for line in lines) == 3
    # Each version by its label and parent: the split parts are told apart.
    assert "chats v1 · imported · 22 rows" in lines[1]
    assert "chats v2 · cleaned from v1 (exact duplicates removed) · 21 rows" in lines[2]
    for part, n in sizes.items():
        assert sum(f"· {part} part of split of v2 · {n} rows" in line for line in lines) == 1

    shown = wb_json("show", vid, "--project", project, "--rows", "2", "--tokenizer", str(chatml_model),
                    "--max-length", "20")
    assert shown["stats"]["row_count"] == 22 and shown["stats"]["turns"] == {"2": 22}
    assert shown["stats"]["token_measure"] == "rendered" and shown["stats"]["truncated_rows"] is not None
    assert [r["index"] for r in shown["rows"]] == [0, 1]
    human = wb("show", vid, "--project", project)
    assert "turns per row: 2: 22" in human.stdout and "row 0 (source row 1)" in human.stdout

    render = wb("render", vid, "0", "--project", project, "--tokenizer", str(chatml_model))
    assert render.returncode == 0 and "[TRAINED] 'Order 0 ships on day 0.<|im_end|>\\n'" in render.stdout

    out = wb_json("export", split["splits"]["test"]["id"], str(tmp_path / "test.jsonl"), "--project", project,
                  "--style", "alpaca")
    lines = (tmp_path / "test.jsonl").read_text(encoding="utf-8").splitlines()
    assert out["export"]["rows"] == len(lines) == sizes["test"]
    assert set(json.loads(lines[0])) == {"system", "instruction", "input", "output", "history"}


def test_data_errors_print_advice_and_exit_1(tmp_path):
    project = str(tmp_path / "P.wbproj")
    data = write_jsonl(tmp_path / "d.jsonl", [chat("Hi", "Hello")])
    assert wb("import", str(data), "--project", project).returncode == 0
    done = wb("clean", "d", "--project", project, "--op", "near_dedup", "--param", "threshold=7")
    assert done.returncode == 1 and done.stdout == ""
    assert "error: Near-duplicate threshold 7.0 is out of range." in done.stderr
    assert "what to do: Use a similarity between 0 and 1" in done.stderr
    done = wb("split", "d", "--project", project, "--ratios", "0.5,0.1,0.1")
    assert done.returncode == 1 and "add up to 0.7" in done.stderr


def test_runs_listing_names_the_dataset_version_and_a_readable_error(tmp_path):
    """An older project stored a failure as "message [bad_data]": the listing shows the
    message alone, and each run's dataset by its version title."""
    from workbench.store import ProjectStore

    data = write_jsonl(tmp_path / "shop.jsonl", [chat(f"q{i}", f"a{i}") for i in range(6)])
    project = str(tmp_path / "P.wbproj")
    version = wb_json("import", str(data), "--project", project)["version"]
    store = ProjectStore.open(project)
    try:
        model = store.add_base_model("m", "hf_folder", str(tmp_path / "m"), "f" * 64)
        store.add_run(id="r1", name="m-shop-1", dataset_version_id=version["id"], base_model_id=model.id,
                      config={}, status="failed", work_dir="runs/r1",
                      error="No row of the dataset is left to train on. [bad_data]")
    finally:
        store.close()
    done = subprocess.run([sys.executable, "-m", "workbench.cli", "runs", "--project", project], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "on shop v1 · imported · 6 rows" in done.stdout
    assert "No row of the dataset is left to train on." in done.stdout and "[bad_data]" not in done.stdout
