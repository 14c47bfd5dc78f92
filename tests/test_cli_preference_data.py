"""`workbench data import | list | export` with a preference file, as a user runs them."""

from __future__ import annotations

import json

from tests.test_cli_data import wb, wb_json


def test_import_list_and_export_preference_pairs(tmp_path):
    records = [{"conversations": [{"from": "human", "value": f"Poem about {t}?"}],
                "chosen": {"from": "gpt", "value": f"A poem about {t}."}, "rejected": {"from": "gpt", "value": "No."}}
               for t in ("rain", "snow")]
    data = tmp_path / "prefs.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    project = str(tmp_path / "P.wbproj")
    imported = wb_json("import", str(data), "--project", project)
    version = imported["version"]
    assert (version["kind"], version["format"], version["row_count"]) == ("preference", "sharegpt_preference", 2)
    done = wb("import", str(data), "--project", project)
    assert done.returncode == 0 and "2 preference pairs" in done.stdout
    shown = wb("show", version["id"], "--project", project, "--rows", "1")
    assert shown.returncode == 0, shown.stderr
    assert "preference pairs" in shown.stdout and "rejected:" in shown.stdout and "No." in shown.stdout
    out = tmp_path / "out.jsonl"
    exported = wb_json("export", version["id"], str(out), "--project", project)
    assert exported["export"]["style"] == "trl" and exported["export"]["rows"] == 2
    first = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    assert first == {"prompt": [{"role": "user", "content": "Poem about rain?"}],
                     "chosen": [{"role": "assistant", "content": "A poem about rain."}],
                     "rejected": [{"role": "assistant", "content": "No."}]}
    again = wb_json("import", str(out), "--project", project, "--name", "again")
    assert again["version"]["kind"] == "preference" and again["version"]["format"] == "prompt_preference"
