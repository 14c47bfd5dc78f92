"""Screenshot of the Arena page: the tiny base model and an adapter of it side by side in blind
mode, two rounds voted (the leaderboard ranks them), the third answered and waiting for a vote.

    xvfb-run -a -s "-screen 0 1600x1000x24" python -m tools.screenshots_arena [OUT_DIR]

The replies come from the real chat child (one child: the base and its adapter share it). The
adapter is a seeded random LoRA of the tiny model saved as a finished run's adapter; the project
ArenaShots.wbproj in the scratch data folder (--data-dir, default ./out/screenshot-data) is
made afresh each time. The page is shown on its own (as the window would show it).
"""

from __future__ import annotations

import argparse
import os
import shutil

from tools.screenshots import REPO, settle, start_window, wait_for

PROMPTS = ("Where is my order BB-100231?", "Can I return shoes I have worn once?", "Do you ship to Norway?")


def _adapter_run(store, model) -> None:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from workbench.services import datasets

    version = datasets.import_dataset(store, os.path.join(REPO, "workbench", "resources", "demo",
                                                          "support_chats.jsonl"), name="Shop support chats")
    store.add_run(id="support-lora", name="support-lora-1", dataset_version_id=version.id, base_model_id=model.id,
                  config={}, status="completed", work_dir="runs/support-lora", adapter_path="runs/support-lora/adapter")
    torch.manual_seed(0)
    lora = LoraConfig(r=4, lora_alpha=256, init_lora_weights=False, target_modules=["c_attn"])
    get_peft_model(AutoModelForCausalLM.from_pretrained(model.path), lora).save_pretrained(
        store.abspath("runs/support-lora/adapter"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", default=os.path.join(REPO, "resources", "screenshots"))
    parser.add_argument("--data-dir", default=os.path.join(REPO, "out", "screenshot-data"))
    parser.add_argument("--theme", choices=("light", "dark"), default="light")
    parser.add_argument("--size", default="1500x920", help="page size WIDTHxHEIGHT")
    args = parser.parse_args(argv)
    data_dir, app, window = start_window(args)
    window.hide()
    from workbench.services import models, projects
    from workbench.ui.arena.page import ArenaPage
    from workbench.ui.shell.context import ProjectContext

    folder = os.path.join(data_dir, "projects", "ArenaShots.wbproj")
    shutil.rmtree(folder, ignore_errors=True)
    store = projects.create_project(folder)
    model = models.ensure_builtin_model(store, "tiny")
    _adapter_run(store, model)
    ctx = ProjectContext(store)
    page = ArenaPage()
    width, height = (int(v) for v in args.size.split("x"))
    page.resize(width, height)
    page.set_context(ctx)
    page.show()
    panel = page.settings_panel
    panel.system_edit.setPlainText("You are the support assistant of an online shoe shop.")
    panel.temperature_spin.setValue(0.7)
    panel.seed_spin.setValue(7)
    panel.max_tokens_spin.setValue(48)
    page.start()
    wait_for(app, lambda: page.state == "ready", 180, "the models to load")
    for i, prompt in enumerate(PROMPTS):
        page.prompt_edit.setPlainText(prompt)
        page.send()
        wait_for(app, lambda: page.state == "ready" and page.session.round_complete, 180, "the replies")
        if i < len(PROMPTS) - 1:
            page.vote("a" if i == 0 else "tie")
            wait_for(app, lambda: page.leaderboard.task is None or not page.leaderboard.task.running, 60,
                     "the leaderboard")
    page.prompt_edit.setPlainText("And how long does shipping take?")
    settle(app, 0.8)
    page.grab().save(os.path.join(args.out, "arena.png"))
    print("screenshots: arena.png")
    page.shutdown()
    ctx.close()
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
