"""Eval generation benchmark: the eval child's batched generation (engine/eval_generate, the
calls the child makes: same thread setting, plan, left-padded batches) against a plain loop of
`model.generate` one item at a time, same model, prompts and greedy settings. Checks that both
give the same tokens and prints items/s and the ratio (goal >= 2.5x on this machine's CPU). Not
a timed test.

    .venv/bin/python tests/benchmarks/bench_eval_generation.py [--model auto|tiny|smollm2|PATH]
        [--items 32] [--max-new-tokens 48] [--batch-size N] [--rounds 1]

--model auto (the default): SmolLM2-135M-Instruct when it is built in the user data folder
(WORKBENCH_DATA_DIR), else the tiny demo model (built there on first use).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

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
    ap.add_argument("--batch-size", type=int, default=None, help="default: a suite's default batch size")
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
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens,
                                  batch_size=args.batch_size or GenerationSettings().batch_size)
    lengths = [len(p.ids) for p in prompts]
    print(f"model {label} ({path}), {len(prompts)} items, prompts {min(lengths)}-{max(lengths)} tokens, "
          f"max_new_tokens {settings.max_new_tokens}, greedy, batch {settings.batch_size}, "
          f"CPU with {threads} torch threads (load average {os.getloadavg()[0]:.1f})", flush=True)
    gen.generate(prompts[:2], GenerationSettings(max_new_tokens=4, batch_size=2))  # warm-up: first-call costs

    plain_s, batched_s, same = [], [], True
    for r in range(args.rounds):  # alternating, so machine load hits both alike
        t_plain, plain = run_plain(loaded.model, prompts, settings, gen.eos_ids, gen.pad_id)
        t_batched, batched = run_batched(gen, prompts, settings)
        differ = [k for k in plain if plain[k] != batched[k]]
        same = same and not differ
        plain_s.append(t_plain)
        batched_s.append(t_batched)
        tokens = sum(len(v) for v in batched.values())
        print(f"round {r + 1}: plain loop {len(prompts) / t_plain:.2f} items/s ({t_plain:.1f} s), batched "
              f"{len(prompts) / t_batched:.2f} items/s ({t_batched:.1f} s), {tokens} tokens, "
              f"outputs {'equal' if not differ else f'DIFFER on {len(differ)} items: {differ[:5]}'}", flush=True)
    ratio = statistics.median(plain_s) / statistics.median(batched_s)
    verdict = "meets" if ratio >= GOAL else "MISSES"
    print(f"batched / plain loop: {ratio:.2f}x items/s (goal >= {GOAL}x: {verdict}); "
          f"greedy outputs {'identical' if same else 'NOT identical'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
