"""GPU check (issue 8 req 13), run by gpu_check.sh on a machine with an NVIDIA GPU.

A SmolLM2-135M LoRA run in bf16 and a QLoRA (4-bit) run through the real engine child; for each:
the memory estimate (services.fit) against the measured CUDA peak, tokens/s, and MFU
(model FLOPs utilisation: 6 x parameters x tokens/s over the GPU's peak bf16 FLOP/s, a lower
bound since LoRA's backward skips the frozen weights' gradients).

    python tests/benchmarks/gpu_check.py [--steps 30] [--batch 8] [--length 512] [--peak-tflops N]
"""

from __future__ import annotations

import argparse
import json
import os
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

# Dense bf16 tensor-core peaks (no sparsity), by a substring of nvidia-smi's name.
PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "L4": 121.0,
               "A10": 125.0, "4090": 165.0, "3090": 71.0, "T4": 65.0}


def gpu_name() -> str:
    out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                         capture_output=True, text=True)
    return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else "unknown GPU"


def run(spec: TrainSpec, folder: str) -> dict:
    path = write_spec(spec, os.path.join(folder, f"{spec.run_id}.json"))
    t0 = time.time()
    proc = subprocess.run(engine_argv("train", path), capture_output=True, text=True, env=child_env(), cwd=REPO)
    events = [e for e in (parse_line(line) for line in proc.stdout.splitlines()) if e]
    ends = [e for e in events if e.kind in ("completed", "failed")]
    if not ends or ends[-1].kind != "completed":
        return {"error": (ends[-1].payload.get("message") if ends else proc.stderr[-2000:])}
    p = ends[-1].payload
    started = next(e.payload for e in events if e.kind == "started")
    return {**p, "wall_s": time.time() - t0, "total_params": started.get("total_params"),
            "trainable_params": started.get("trainable_params"), "precision": started["environment"].get("precision")}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--length", type=int, default=512)
    ap.add_argument("--peak-tflops", type=float, default=None)
    args = ap.parse_args()
    from workbench.services import fit, models
    from workbench.store import ProjectStore

    folder = tempfile.mkdtemp(prefix="wb-gpu-")
    store = ProjectStore.create(os.path.join(folder, "Gpu.wbproj"))
    base = models.ensure_builtin_model(store, "smollm2").path
    store.close()
    import pyarrow as pa
    import pyarrow.parquet as pq

    with open(os.path.join(REPO, "workbench", "resources", "demo", "support_chats.jsonl"), encoding="utf-8") as f:
        rows = [json.loads(line)["messages"] for line in f if line.strip()]
    data = os.path.join(folder, "demo.parquet")
    pq.write_table(pa.table({"messages": [json.dumps(m) for m in rows]}), data)
    name = gpu_name()
    peak = args.peak_tflops or next((v for k, v in PEAK_TFLOPS.items() if k in name), None)
    base_cfg = TrainConfig(r=16, alpha=32, max_steps=args.steps, batch_size=args.batch, max_length=args.length,
                           learning_rate=2e-4, save_steps=0, eval_steps=0, packing=True)
    print(f"GPU: {name}; peak bf16 {peak or '?'} TFLOP/s")
    for label, cfg in (("LoRA bf16", base_cfg.replace(precision="bf16")),
                       ("QLoRA 4-bit", base_cfg.replace(quantization="4bit"))):
        est = fit.estimate_fit(base, cfg)
        out = os.path.join(folder, label.split()[0])
        spec = TrainSpec(run_id=label.split()[0], base_model_path=base, dataset_path=data, output_dir=out,
                         journal_path=os.path.join(out, "j.jsonl"), stop_file=os.path.join(out, "STOP"), config=cfg)
        r = run(spec, folder)
        if "error" in r:
            print(f"{label}: FAILED: {r['error']}")
            continue
        measured = r["peak_memory_bytes"]
        mfu = (6 * r["total_params"] * r["tokens_per_s"] / (peak * 1e12)) if peak and r.get("tokens_per_s") else None
        print(f"{label}: estimate {est.peak_bytes / 2**30:.2f} GiB ({est.verdict}), measured "
              f"{measured / 2**30:.2f} GiB ({r['peak_memory_kind']}), error {(est.peak_bytes - measured) / measured:+.0%}; "
              f"{r['tokens_per_s']:.0f} tokens/s, MFU {mfu:.1%}" if mfu is not None else
              f"{label}: estimate {est.peak_bytes / 2**30:.2f} GiB, measured {measured / 2**30:.2f} GiB, "
              f"{r.get('tokens_per_s')} tokens/s")
        print(f"  loss {r['first_loss']:.3f} -> {r['last_loss']:.3f} in {r['steps']} steps, {r['wall_s']:.0f} s wall")


if __name__ == "__main__":
    main()
