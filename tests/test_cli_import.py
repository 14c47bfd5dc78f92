"""`workbench import` and `workbench data import` name every field the import does not keep
(run as a user would: a real child process per command)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def wb(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workbench.cli", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=120)


def test_import_output_lists_the_fields_not_kept(tmp_path):
    records = [{"conversations": [{"from": "human", "value": f"Weather {i}?"}, {"from": "gpt", "value": "Sunny."}],
                "history": '[["Hi", "Hello!"]]' if i % 2 else "", "id": i} for i in range(10)]
    path = tmp_path / "tools.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    project = str(tmp_path / "P.wbproj")

    done = wb("import", str(path), "--project", project)
    assert done.returncode == 0, done.stderr
    assert "not kept: history (5 of 10 records): earlier turns will not be kept" in done.stdout
    assert "not kept: id (10 of 10 records): not part of the conversation" in done.stdout

    done = wb("data", "import", str(path), "--project", str(tmp_path / "Q.wbproj"), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["not_kept"][0].startswith("history (5 of 10 records)")
    assert result["version"]["options"]["unused_fields"][0] == {
        "name": "history", "rows": 5, "read": 10, "meaning": "earlier turns will not be kept"}
    done = wb("data", "import", str(path), "--project", str(tmp_path / "R.wbproj"))
    assert "  not kept: history (5 of 10 records)" in done.stdout
