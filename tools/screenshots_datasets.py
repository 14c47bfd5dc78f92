"""Screenshots of the dataset screens: the import dialog's column mapping, a cleaning preview,
and what the model sees (statistics, chat template) with the built tiny model.

    xvfb-run -a -s "-screen 0 1600x1000x24" python -m tools.screenshots_datasets [OUT_DIR]

Everything lives in a scratch data folder (--data-dir, default ./out/screenshot-data, shared
with tools.screenshots so the tiny model is built once); the project
DatasetShots.wbproj in it is made afresh each time.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil

from tools.screenshots import REPO, settle, start_window, wait_for

DEMO = os.path.join(REPO, "workbench", "resources", "demo", "support_chats.jsonl")


def _odd_csv(path: str, rows: int = 60) -> str:
    """A support export whose column names no format knows: the mapping step is needed."""
    with open(DEMO, encoding="utf-8") as src, open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["ticket_id", "Customer wrote", "Agent answer", "Bot persona", "channel"])
        for i, line in enumerate(src):
            if i >= rows:
                break
            msgs = json.loads(line)["messages"]
            first = {}
            for m in msgs:
                first.setdefault(m["role"], m["content"])
            writer.writerow([f"T-{1040 + i}", first.get("user", ""), first.get("assistant", ""),
                             first.get("system", ""), ("email", "chat", "phone")[i % 3]])
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", default=os.path.join(REPO, "resources", "screenshots"))
    parser.add_argument("--data-dir", default=os.path.join(REPO, "out", "screenshot-data"))
    parser.add_argument("--theme", choices=("light", "dark"), default="light")
    parser.add_argument("--size", default="1280x800", help="window size WIDTHxHEIGHT")
    args = parser.parse_args(argv)
    data_dir, app, window = start_window(args)
    from workbench.services import dataset_ops, datasets, models, projects
    from workbench.ui.shell.main_window import DATASETS
    from workbench.ui.datasets.model_sees.panel import STATS, TEMPLATE

    folder = os.path.join(data_dir, "projects", "DatasetShots.wbproj")
    shutil.rmtree(folder, ignore_errors=True)
    store = projects.create_project(folder)
    tiny = models.ensure_builtin_model(store, "tiny")  # built once per data folder (about a minute)
    version = datasets.import_dataset(store, DEMO, name="Shop support chats")
    dataset_ops.apply_clean(store, version.id, "exact_dedup")
    store.close()
    if not window.open_project(folder):
        raise SystemExit("screenshots: the project did not open")
    window.set_page(DATASETS)
    page = window.datasets_page
    page.refresh(select_id=version.id)
    settle(app)

    def shot(widget, name: str) -> None:
        settle(app)
        widget.grab().save(os.path.join(args.out, name))
        print(f"screenshots: {name}")

    # 1. Import: a CSV whose columns need mapping (detection fails, the mapping step opens).
    csv_path = _odd_csv(os.path.join(data_dir, "support-export.csv"))
    dialog = page.open_import_dialog(csv_path)
    dialog.resize(1100, 720)
    wait_for(app, lambda: dialog.preview_result is not None and not dialog.busy, 60, "the import preview")
    panel = dialog.mapping_panel
    panel.set_role_column("user", "Customer wrote")
    panel.set_role_column("assistant", "Agent answer")
    panel.set_role_column("system", "Bot persona")
    dialog.refresh_mapping_preview()
    wait_for(app, lambda: dialog.mapping_preview is not None and not dialog.busy, 60, "the mapping preview")
    dialog.mapping_records.table.selectRow(1)
    shot(dialog, "dataset_import.png")
    dialog.close()

    # 2. Cleaning: the personal-data scrub previewed, one change selected (before/after).
    dialog = page.clean_selected()
    dialog.resize(1100, 720)
    dialog.set_op("pii")
    dialog.preview()
    wait_for(app, lambda: dialog.report is not None and not dialog.busy, 60, "the cleaning preview")
    dialog.examples.selectRow(2)
    shot(dialog, "dataset_clean.png")
    dialog.close()

    # 3. What the model sees: statistics against the tiny model, then one row's template.
    inspector = page.inspector
    inspector.set_model(tiny.id)
    inspector.max_spin.setValue(160)
    inspector.tabs.setCurrentIndex(STATS)
    wait_for(app, lambda: inspector.stats_task is None and inspector.stats_view.stats is not None, 120, "the statistics")
    shot(window, "dataset_stats.png")
    model = page.rows_model
    row = next((i for i in range(model.rowCount()) if model.index(i, 1).data().count("U") >= 2), 0)
    page.go_to_row(row)
    inspector.tabs.setCurrentIndex(TEMPLATE)
    wait_for(app, lambda: inspector.template_task is None and inspector.template_view.rendered is not None, 60,
          "the template view")
    shot(window, "dataset_template.png")
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
