"""Training benchmark: the engine against a plain Trainer + peft script (plain_trainer.py), side
by side in one run, alternating rounds so machine load hits both alike. Not a timed test: it
prints ratios.

    .venv/bin/python tests/benchmarks/bench_train.py [--model tiny|smollm2|PATH] [--rounds 3]
        [--steps 20] [--batch 8] [--length 256] [--rows 3000]

1. tokens/s, same model, data (the demo set), batch, length, steps, precision     goal >= 1.0x
2. examples/s with packing on mixed lengths (demo set + long rows) against the plain
   padded script, and the engine's packed vs padded loss (same labels)             goal >= 1.5x
3. launch -> first optimizer step against the plain script's, on a larger set
   (--rows conversations): the engine's first run, and its second (token cache)    goal <= 1.2x, <= 0.5x
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)

from workbench.core.records import TrainConfig  # noqa: E402
from workbench.jobs.launch import child_env, engine_argv  # noqa: E402
from workbench.jobs.protocol import parse_line  # noqa: E402
from workbench.jobs.specs import TrainSpec, write_spec  # noqa: E402

PLAIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "plain_trainer.py")
DEMO = os.path.join(REPO, "workbench", "resources", "demo", "support_chats.jsonl")


def demo_rows() -> list[list[dict]]:
    with open(DEMO, encoding="utf-8") as f:
        return [json.loads(line)["messages"] for line in f if line.strip()]


def long_rows(n: int, rng: random.Random) -> list[list[dict]]:
    """Long conversations (several hundred tokens) that make padding expensive."""
    words = "order kettle grinder beans refund courier tracking warranty filter descaler".split()
    out = []
    for _ in range(n):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(150, 220)))
        out.append([{"role": "user", "content": "Please summarise: " + text},
                    {"role": "assistant", "content": " ".join(text.split()[:60])}])
    return out


def write_data(rows: list[list[dict]], folder: str, name: str) -> tuple[str, str]:
    """The same rows as JSONL (plain script) and Parquet (engine)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    jsonl = os.path.join(folder, f"{name}.jsonl")
    with open(jsonl, "w", encoding="utf-8") as f:
        for m in rows:
            f.write(json.dumps({"messages": m}) + "\n")
    parquet = os.path.join(folder, f"{name}.parquet")
    pq.write_table(pa.table({"messages": [json.dumps(m) for m in rows]}), parquet)
    return jsonl, parquet


def model_path(name: str, folder: str) -> str:
    if os.path.isdir(name):
        return name
    from workbench.services import models
    from workbench.store import ProjectStore

    store = ProjectStore.create(os.path.join(folder, "Bench.wbproj"))
    try:
        return models.ensure_builtin_model(store, name).path
    finally:
        store.close()


def run_engine(spec: TrainSpec, folder: str) -> dict:
    path = write_spec(spec, os.path.join(folder, f"{spec.run_id}.spec.json"))
    t0 = time.time()
    proc = subprocess.run(engine_argv("train", path), capture_output=True, text=True, env=child_env(), cwd=REPO)
    events = [e for e in (parse_line(line) for line in proc.stdout.splitlines()) if e]
    done = [e for e in events if e.kind == "completed"]
    if proc.returncode != 0 or not done:
        raise SystemExit(f"engine run {spec.run_id} failed (rc {proc.returncode}):\n{proc.stderr[-3000:]}\n{proc.stdout[-2000:]}")
    first = next(e.t for e in events if e.kind == "progress" and e.payload.get("step") == 1)
    p = done[-1].payload
    losses = [e.payload["values"]["loss"] for e in events if e.kind == "log" and "loss" in e.payload["values"]]
    return {"first_step_s": first - t0, "tokens_per_s": p["tokens_per_s"], "examples_per_s": p["examples_per_s"],
            "losses": losses}


def run_plain(cfg: dict, folder: str, name: str) -> dict:
    path = os.path.join(folder, f"{name}.plain.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump({**cfg, "out": os.path.join(folder, name)}, f)
    t0 = time.time()
    proc = subprocess.run([sys.executable, PLAIN, path], capture_output=True, text=True, env=child_env(), cwd=REPO)
    lines = [json.loads(line[6:]) for line in proc.stdout.splitlines() if line.startswith("BENCH ")]
    if proc.returncode != 0 or len(lines) < 2:
        raise SystemExit(f"plain run failed:\n{proc.stderr[-3000:]}")
    end = lines[-1]
    return {"first_step_s": lines[0]["first_step"] - t0, "tokens_per_s": end["tokens"] / end["train_seconds"],
            "examples_per_s": end["examples"] / end["train_seconds"], "losses": end["losses"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="tiny")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--length", type=int, default=256)
    ap.add_argument("--rows", type=int, default=3000, help="conversations in the launch-time set")
    args = ap.parse_args()
    folder = tempfile.mkdtemp(prefix="wb-bench-train-")
    base = model_path(args.model, folder)
    rng = random.Random(0)
    cfg = TrainConfig(r=8, alpha=16, dropout=0.0, learning_rate=2e-4, max_steps=args.steps, batch_size=args.batch,
                      max_length=args.length, seed=1, save_steps=0, eval_steps=0, precision="fp32")
    plain_cfg = {"model": base, "r": 8, "alpha": 16, "dropout": 0.0, "lr": 2e-4, "batch_size": args.batch,
                 "max_length": args.length, "max_steps": args.steps, "seed": 1, "target_modules": None}

    def spec(name: str, parquet: str, config: TrainConfig, cache: str = "") -> TrainSpec:
        out = os.path.join(folder, name)
        return TrainSpec(run_id=name, base_model_path=base, dataset_path=parquet, output_dir=out,
                         journal_path=os.path.join(out, "journal.jsonl"), stop_file=os.path.join(out, "STOP"),
                         config=config, cache_dir=cache)

    demo_jsonl, demo_parquet = write_data(demo_rows(), folder, "demo")
    mixed = demo_rows() + long_rows(len(demo_rows()) // 3, rng)
    rng.shuffle(mixed)
    mixed_jsonl, mixed_parquet = write_data(mixed, folder, "mixed")
    big = [rng.choice(demo_rows()) for _ in range(args.rows)]
    big_jsonl, big_parquet = write_data(big, folder, "big")

    tok_e, tok_p, ex_pack, ex_plain, loss_pack, loss_pad = [], [], [], [], [], []
    first_e, first_e2, first_p = [], [], []
    for r in range(args.rounds):
        # 1. tokens/s, padded both sides
        tok_e.append(run_engine(spec(f"tok-{r}", demo_parquet, cfg), folder)["tokens_per_s"])
        tok_p.append(run_plain({**plain_cfg, "data": demo_jsonl}, folder, f"tok-{r}")["tokens_per_s"])
        # 2. packing on mixed lengths
        packed = run_engine(spec(f"pack-{r}", mixed_parquet, cfg.replace(packing=True)), folder)
        padded = run_engine(spec(f"pad-{r}", mixed_parquet, cfg), folder) if r == 0 else None
        ex_pack.append(packed["examples_per_s"])
        ex_plain.append(run_plain({**plain_cfg, "data": mixed_jsonl}, folder, f"mixed-{r}")["examples_per_s"])
        if padded:
            loss_pack, loss_pad = packed["losses"], padded["losses"]
        # 3. launch -> first step, a fresh token cache per round
        cache = os.path.join(folder, f"cache-{r}")
        short = cfg.replace(max_steps=2)
        first_e.append(run_engine(spec(f"first-{r}", big_parquet, short, cache), folder)["first_step_s"])
        first_e2.append(run_engine(spec(f"second-{r}", big_parquet, short, cache), folder)["first_step_s"])
        first_p.append(run_plain({**plain_cfg, "data": big_jsonl, "max_steps": 2}, folder, f"first-{r}")["first_step_s"])
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr, flush=True)

    med = statistics.median
    print(f"model {args.model}, batch {args.batch}, length {args.length}, {args.steps} steps, {args.rounds} rounds, "
          f"{os.cpu_count()} cores")
    print(f"1. tokens/s: engine {med(tok_e):.0f}, plain {med(tok_p):.0f}: {med(tok_e) / med(tok_p):.2f}x (goal >= 1.0)")
    print(f"2. examples/s, mixed lengths: engine packed {med(ex_pack):.2f}, plain padded {med(ex_plain):.2f}: "
          f"{med(ex_pack) / med(ex_plain):.2f}x (goal >= 1.5)")
    # Packed steps hold more conversations than padded ones, so the curves differ step by step;
    # the loss over the last quarter of the steps says whether packing learns as well.
    tail = max(1, len(loss_pack) // 4)
    print(f"   loss over the last {tail} steps (engine, same labels): packed {statistics.mean(loss_pack[-tail:]):.4f}, "
          f"padded {statistics.mean(loss_pad[-tail:]):.4f}")
    print(f"3. launch -> first step, {args.rows} conversations: engine {med(first_e):.1f} s, cached {med(first_e2):.1f} s, "
          f"plain {med(first_p):.1f} s: {med(first_e) / med(first_p):.2f}x (goal <= 1.2), "
          f"second run {med(first_e2) / med(first_p):.2f}x (goal <= 0.5)")


if __name__ == "__main__":
    main()
