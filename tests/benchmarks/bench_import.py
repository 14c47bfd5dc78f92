"""Import benchmark: Workbench's import_file vs Hugging Face datasets on the same JSONL file.

Not a timed test: it prints seconds, ratios and peak memory measured side by side in one run
(alternating rounds, so machine load hits both alike), each import in its own subprocess:

  (a) workbench.data.import_file: read + validate + normalise + write the version's Parquet
  (b) datasets.load_dataset("json", data_files=..., split="train") then .to_parquet(...)
      (a fresh HF cache folder per round, HF_DATASETS_OFFLINE=1)

on a generated file of short OpenAI-messages conversations (1M rows by default; one in ten
replies holds a newline and quotes, which the JSON must escape). Goal: ratio <= 1.0.
It also imports a 250k-row file, to show that our peak memory does not grow with the file size,
and times read_rows(offset, 100) at random offsets of the 1M-row version (the preview table's
cost per scrolled page).

    .venv/bin/python tests/benchmarks/bench_import.py [--rows 1000000] [--rounds 3] [--python-path]

--python-path also times our import with the Arrow fast path switched off (the per-record
Python path every other format takes), for comparison.
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
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

OURS = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from workbench.data import import_file
if sys.argv[3] == "python-path":
    import workbench.data.ingest.text_inputs as ti
    ti.spec_for = lambda fmt: None
t1 = time.perf_counter()
outcome = import_file(sys.argv[1], dest_dir=sys.argv[2])
t2 = time.perf_counter()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"import_s": t1 - t0, "call_s": t2 - t1, "rows": outcome.row_count,
                  "peak_kb": peak, "parquet": str(outcome.parquet_path)}))
"""

HF = r"""
import json, os, resource, sys, time
cache = sys.argv[2]
os.environ.update(HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1", HF_DATASETS_CACHE=cache, HF_HOME=cache)
t0 = time.perf_counter()
import datasets
datasets.disable_progress_bars()
t1 = time.perf_counter()
ds = datasets.load_dataset("json", data_files=sys.argv[1], split="train", cache_dir=cache)
ds.to_parquet(os.path.join(cache, "out.parquet"))
t2 = time.perf_counter()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"import_s": t1 - t0, "call_s": t2 - t1, "rows": ds.num_rows, "peak_kb": peak}))
"""

LATENCY = r"""
import json, random, statistics, sys, time
from workbench.data import count_rows, read_rows
path = sys.argv[1]
total = count_rows(path)
t0 = time.perf_counter(); read_rows(path, 0, 100); first = time.perf_counter() - t0
rnd = random.Random(7)
times = []
for _ in range(int(sys.argv[2])):
    offset = rnd.randrange(0, total - 100)
    t0 = time.perf_counter()
    rows = read_rows(path, offset, 100)
    times.append(time.perf_counter() - t0)
    assert len(rows) == 100 and rows[0]["index"] == offset
times.sort()
print(json.dumps({"first_ms": first * 1000, "mean_ms": statistics.mean(times) * 1000,
                  "p95_ms": times[int(len(times) * 0.95)] * 1000, "max_ms": times[-1] * 1000}))
"""

WORDS = ("order parcel refund coffee beans grinder espresso latte week tracking address café thanks "
         "please return price ship delivery account invoice discount subscription filter kettle").split()


def generate(path: Path, rows: int, seed: int = 0) -> None:
    """Short conversations: 1-2 user/assistant pairs, a system prompt in every third."""
    rnd = random.Random(seed)
    system = {"role": "system", "content": "You are the friendly support assistant of a coffee shop."}
    with open(path, "w", encoding="utf-8") as f:
        lines = []
        for i in range(rows):
            messages = [system] if i % 3 == 0 else []
            for _ in range(1 + (i % 2)):
                question = " ".join(rnd.choices(WORDS, k=rnd.randint(4, 12))) + f" #{i}?"
                answer = " ".join(rnd.choices(WORDS, k=rnd.randint(6, 20))) + "."
                if i % 10 == 0:
                    answer += '\nSee "Orders" > Track.'
                messages += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
            lines.append(json.dumps({"messages": messages}, ensure_ascii=False))
            if len(lines) == 20_000:
                f.write("\n".join(lines) + "\n")
                lines.clear()
        if lines:
            f.write("\n".join(lines) + "\n")


def child(code: str, *args: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=REPO)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall_s"] = wall
    if "peak_kb" in result:  # ru_maxrss: KiB on Linux, bytes on macOS
        result["peak_mb"] = result["peak_kb"] / (1024 * 1024 if sys.platform == "darwin" else 1024)
    return result


def ours(path: Path, tmp: Path, tag: str, mode: str = "fast") -> dict:
    return child(OURS, str(path), str(tmp / f"ours-{tag}"), mode)


def hf(path: Path, tmp: Path, tag: str) -> dict:
    return child(HF, str(path), str(tmp / f"hf-{tag}"))


def median(results: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in results)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small-rows", type=int, default=250_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pages", type=int, default=300, help="read_rows calls for the latency figures")
    parser.add_argument("--python-path", action="store_true", help="also time our import without the fast path")
    args = parser.parse_args()
    try:
        import datasets  # noqa: F401  (only to fail early; the children import it)
    except ImportError:
        print("Hugging Face `datasets` is not installed: pip install datasets")
        return 2

    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp_name:
        tmp = Path(tmp_name)
        big, small = tmp / "chats-big.jsonl", tmp / "chats-small.jsonl"
        t0 = time.perf_counter()
        generate(big, args.rows)
        generate(small, args.small_rows, seed=1)
        print(f"Generated {args.rows:,} rows ({big.stat().st_size / 1e6:.0f} MB) and {args.small_rows:,} rows "
              f"({small.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.1f} s; "
              f"{os.cpu_count()} CPUs\n")

        a_runs, b_runs = [], []
        for round_no in range(args.rounds):
            a_runs.append(ours(big, tmp, f"{round_no}"))
            b_runs.append(hf(big, tmp, f"{round_no}"))
            print(f"round {round_no + 1}: ours {a_runs[-1]['call_s']:.2f} s, datasets {b_runs[-1]['call_s']:.2f} s")
        assert all(r["rows"] == args.rows for r in a_runs + b_runs), "row counts differ"
        a_call, b_call = median(a_runs, "call_s"), median(b_runs, "call_s")
        a_wall, b_wall = median(a_runs, "wall_s"), median(b_runs, "wall_s")
        print(f"\nImport of {args.rows:,} rows (median of {args.rounds}; 'call' = the import call alone, "
              f"'process' = the whole subprocess with Python and library start-up):")
        print(f"  (a) workbench import_file:                call {a_call:6.2f} s   process {a_wall:6.2f} s   "
              f"peak RSS {median(a_runs, 'peak_mb'):5.0f} MB")
        print(f"  (b) datasets load_dataset + to_parquet:   call {b_call:6.2f} s   process {b_wall:6.2f} s   "
              f"peak RSS {median(b_runs, 'peak_mb'):5.0f} MB")
        print(f"  ratio (a)/(b): call {a_call / b_call:.2f}x   process {a_wall / b_wall:.2f}x   (goal <= 1.0x)")

        small_runs = [ours(small, tmp, f"small{i}") for i in range(max(1, args.rounds // 2 + 1))]
        print(f"\nOur peak memory vs file size: {args.small_rows:,} rows {median(small_runs, 'peak_mb'):.0f} MB, "
              f"{args.rows:,} rows {median(a_runs, 'peak_mb'):.0f} MB (blocks of at most 2 MiB, one row group "
              f"and two blocks in flight)")

        if args.python_path:
            slow = ours(big, tmp, "python", mode="python-path")
            print(f"\nOur import without the Arrow fast path (the per-record Python path): "
                  f"{slow['call_s']:.2f} s ({slow['call_s'] / b_call:.2f}x datasets), peak {slow['peak_mb']:.0f} MB")

        latency = child(LATENCY, a_runs[0]["parquet"], str(args.pages))
        print(f"\nread_rows(offset, 100) on the {args.rows:,}-row version, {args.pages} random offsets: "
              f"mean {latency['mean_ms']:.1f} ms, p95 {latency['p95_ms']:.1f} ms, max {latency['max_ms']:.1f} ms "
              f"(first call, footer not cached yet: {latency['first_ms']:.1f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
