"""Eval generation benchmark: the eval child's batched generation (engine/eval_generate, the
calls the child makes: same thread setting, plan, left-padded batches) against a plain loop of
`model.generate` one item at a time, same model, prompts and greedy settings. Checks that both
give the same tokens and prints items/s and the ratio (goal >= 2.5x on this machine's CPU). Not
a timed test.

    .venv/bin/python tests/benchmarks/bench_eval_generation.py [--model auto|tiny|smollm2|PATH]
        [--items 32] [--max-new-tokens 48] [--batch-sizes 8,16,32] [--rounds 1]

--model auto (the default): SmolLM2-135M-Instruct when it is built in the user data folder
(WORKBENCH_DATA_DIR), else the tiny demo model (built there on first use). Each batch size is
measured against the same plain loop; the first is a suite's default.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DEMO = os.path.join(REPO, "workbench", "resources", "demo", "support_chats.jsonl")
GOAL = 2.5


def model_path(name: str) -> tuple[str, str]:
    """(label, folder) of the model to measure."""
    if os.path.isdir(name):
        return name, name
    from workbench.services import models
    from workbench.store import ProjectStore

    with tempfile.TemporaryDirectory() as folder:
        store = ProjectStore.create(os.path.join(folder, "Bench.wbproj"))
        try:
            if name == "auto":
                built = {s.kind for s in models.builtin_states(store) if s.built}
                name = "smollm2" if "smollm2" in built else "tiny"
            return name, models.ensure_builtin_model(store, name).path
        finally:
            store.close()


def demo_prompts(n: int) -> list[list[dict]]:
    """The first n demo conversations up to their first assistant reply (varied lengths)."""
    out = []
    with open(DEMO, encoding="utf-8") as f:
        for line in f:
            msgs = json.loads(line)["messages"]
            first = next(i for i, m in enumerate(msgs) if m["role"] == "assistant")
            out.append(msgs[:first])
            if len(out) == n:
                break
    return out


def run_batched(gen, prompts, settings) -> tuple[float, dict]:
    """What the eval child does for its items: plan (sort, batch), then generate each batch."""
    t0 = time.perf_counter()
    batches, failures = gen.plan(prompts, settings)
    assert not failures, failures
    out = {r.key: r.ids for batch in batches for r in gen.generate(batch, settings)}
    return time.perf_counter() - t0, out


def run_plain(model, prompts, settings, eos_ids, pad_id) -> tuple[float, dict]:
    """A plain loop: model.generate on each unpadded prompt."""
    import torch

    out = {}
    t0 = time.perf_counter()
    for p in prompts:
        ids = torch.tensor([p.ids])
        with torch.inference_mode():
            row = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                                 max_new_tokens=settings.max_new_tokens, do_sample=False, temperature=None,
                                 top_p=None, top_k=None, eos_token_id=eos_ids, pad_token_id=pad_id)[0, ids.shape[1]:]
        row = row.tolist()
        stop = next((j for j, t in enumerate(row) if t in eos_ids), len(row))
        out[p.key] = tuple(row[:stop])
    return time.perf_counter() - t0, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="auto")
    ap.add_argument("--items", type=int, default=32)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--batch-sizes", default="", help="comma-separated; default: a suite's default, 16, 32")
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()

    from workbench.core.eval_records import GenerationSettings
    from workbench.engine.devices import pick_device
    from workbench.engine.eval_generate import BatchGenerator, Prompt, render_prompt, set_cpu_threads
    from workbench.engine.eval_load import load_model

    label, path = model_path(args.model)
    plan = pick_device("cpu")
    threads = set_cpu_threads()
    loaded = load_model(path, None, plan)
    gen = BatchGenerator(loaded.model, loaded.tokenizer, plan.device)
    prompts = [Prompt(str(i), render_prompt(loaded.tokenizer, m)) for i, m in enumerate(demo_prompts(args.items))]
    default = GenerationSettings().batch_size
    sizes = [int(x) for x in args.batch_sizes.split(",") if x.strip()] or list(dict.fromkeys([default, 16, 32]))
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens)
    lengths = [len(p.ids) for p in prompts]
    print(f"model {label} ({path}), {len(prompts)} items, prompts {min(lengths)}-{max(lengths)} tokens, "
          f"max_new_tokens {settings.max_new_tokens}, greedy, batch sizes {sizes}, "
          f"CPU with {threads} torch threads (load average {os.getloadavg()[0]:.1f})", flush=True)
    gen.generate(prompts[:2], GenerationSettings(max_new_tokens=4, batch_size=2))  # warm-up: first-call costs

    plain_s: list[float] = []
    batched_s: dict[int, list[float]] = {size: [] for size in sizes}
    same = True
    for r in range(args.rounds):  # alternating, so machine load hits both alike
        t_plain, plain = run_plain(loaded.model, prompts, settings, gen.eos_ids, gen.pad_id)
        plain_s.append(t_plain)
        print(f"round {r + 1}: plain loop {len(prompts) / t_plain:.2f} items/s ({t_plain:.1f} s, "
              f"{sum(len(v) for v in plain.values())} tokens)", flush=True)
        for size in sizes:
            t_batched, batched = run_batched(gen, prompts, replace(settings, batch_size=size))
            differ = [k for k in plain if plain[k] != batched[k]]
            same = same and not differ
            batched_s[size].append(t_batched)
            print(f"round {r + 1}: batched (batch {size}) {len(prompts) / t_batched:.2f} items/s ({t_batched:.1f} s), "
                  f"{t_plain / t_batched:.2f}x, outputs "
                  f"{'equal' if not differ else f'DIFFER on {len(differ)} items: {differ[:5]}'}", flush=True)
    for size in sizes:
        ratio = statistics.median(plain_s) / statistics.median(batched_s[size])
        verdict = "meets" if ratio >= GOAL else "MISSES"
        print(f"batched (batch {size}{', the default' if size == default else ''}) / plain loop: {ratio:.2f}x "
              f"items/s (goal >= {GOAL}x: {verdict})")
    print(f"greedy outputs {'identical' if same else 'NOT identical'} to the plain loop's at every batch size "
          f"(load average now {os.getloadavg()[0]:.1f})")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
