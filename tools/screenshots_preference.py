"""Screenshot of a preference version on the Datasets page: the version list with its kind, and a
pair read side by side (prompt, then Chosen and Rejected).

    xvfb-run -a -s "-screen 0 1600x1000x24" python -m tools.screenshots_preference [OUT_DIR]

The pairs are written as a ShareGPT-style preference file (conversations + chosen + rejected)
and imported through the normal import; the project PreferenceShots.wbproj in the scratch data
folder (--data-dir, default ./out/screenshot-data) is made afresh each time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil

from tools.screenshots import REPO, settle, start_window

PAIRS = [
    ("Where is my order BB-100231?",
     "Order BB-100231 left our warehouse yesterday and should arrive on Thursday. You can follow it with "
     "the tracking link in your confirmation email.",
     "I don't know. Check the website."),
    ("Can I return shoes I have worn once?",
     "Yes: worn shoes can be returned within 30 days if they are clean and undamaged. Start the return from "
     "Orders → Return an item and we will email you a prepaid label.",
     "No returns on worn items."),
    ("How do I change the address on my account?",
     "Go to Account → Addresses, choose Edit next to the address and save. Orders already shipped keep the "
     "old address; for those, reply here with the order number.",
     "You can't change it once it's set."),
    ("Do you ship to Norway?",
     "We do. Shipping to Norway takes 4–6 working days; import VAT is added at checkout, so there is nothing "
     "to pay on delivery.",
     "Maybe, try ordering and see."),
    ("My discount code SPRING20 is rejected.",
     "SPRING20 ended on 31 May, so the checkout refuses it. Our current code is SUMMER15 (15% off orders "
     "over €40) — it works on everything except gift cards.",
     "Codes are case sensitive, type it again."),
]


def _write_pairs(path: str) -> str:
    with open(path, "w", encoding="utf-8") as out:
        for question, good, bad in PAIRS:
            out.write(json.dumps({
                "system": "You are the support assistant of an online shoe shop.",
                "conversations": [{"from": "human", "value": question}],
                "chosen": {"from": "gpt", "value": good},
                "rejected": {"from": "gpt", "value": bad},
            }, ensure_ascii=False) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", default=os.path.join(REPO, "resources", "screenshots"))
    parser.add_argument("--data-dir", default=os.path.join(REPO, "out", "screenshot-data"))
    parser.add_argument("--theme", choices=("light", "dark"), default="light")
    parser.add_argument("--size", default="1280x800", help="window size WIDTHxHEIGHT")
    args = parser.parse_args(argv)
    data_dir, app, window = start_window(args)
    from workbench.services import datasets, projects
    from workbench.ui.shell.main_window import DATASETS

    folder = os.path.join(data_dir, "projects", "PreferenceShots.wbproj")
    shutil.rmtree(folder, ignore_errors=True)
    store = projects.create_project(folder)
    datasets.import_dataset(store, os.path.join(REPO, "workbench", "resources", "demo", "support_chats.jsonl"),
                            name="Shop support chats")
    pairs = datasets.import_dataset(store, _write_pairs(os.path.join(data_dir, "support_pairs.jsonl")),
                                    name="Shop support pairs")
    store.close()
    if not window.open_project(folder):
        raise SystemExit("screenshots: the project did not open")
    window.set_page(DATASETS)
    page = window.datasets_page
    page.refresh(select_id=pairs.id)
    settle(app)
    page.go_to_row(4)
    settle(app)
    window.grab().save(os.path.join(args.out, "datasets-preference.png"))
    print("screenshots: datasets-preference.png")
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
