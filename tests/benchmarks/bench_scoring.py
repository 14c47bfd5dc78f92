"""Scoring speed: N prediction/reference pairs with every text metric, against the one-minute goal.

Not a timed test: it prints figures. The pairs are made from the demo data's assistant replies
(about 150 characters, 26 words each, like a support answer): each reference is a reply with
some words changed and an order number (so no two are alike), each prediction that reference
with more words changed, dropped or cut short; a few predictions are JSON tool calls.

First the total: one workbench.evaluation.scoring.score() call with every text metric, as the
app and `workbench eval score` make it (worker processes for ROUGE-L, BLEU and chrF). Then,
unless --no-breakdown, each metric alone in this one process (workers=1), so the seconds show
where the time goes.

    .venv/bin/python tests/benchmarks/bench_scoring.py [--pairs 100000] [--workers N] [--no-breakdown]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from workbench.core.eval_records import MetricSpec  # noqa: E402
from workbench.evaluation.registry import ItemInput  # noqa: E402
from workbench.evaluation.scoring import score  # noqa: E402

GOAL_S = 60.0
DEMO = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                    "workbench", "resources", "demo", "support_chats.jsonl")
METRICS = [MetricSpec("exact_match"), MetricSpec("token_f1"), MetricSpec("rouge_l"), MetricSpec("bleu"),
           MetricSpec("chrf"), MetricSpec("contains"), MetricSpec("regex", {"pattern": r"BB-\d{6}"}),
           MetricSpec("valid_json"), MetricSpec("length")]


def _replies() -> list[str]:
    with open(DEMO, encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    return [m["content"] for row in rows for m in row["messages"] if m["role"] == "assistant"]


def _perturb(words: list[str], rate: float, pool: list[str], rng: random.Random) -> list[str]:
    out = []
    for word in words:
        roll = rng.random()
        if roll < rate / 2:
            out.append(rng.choice(pool))
        elif roll < rate * 0.75:
            continue
        else:
            out.append(word)
    return out


def make_pairs(n: int, seed: int = 0) -> list[ItemInput]:
    rng = random.Random(seed)
    replies = _replies()
    pool = [w for reply in replies for w in reply.split()]
    items = []
    for i in range(n):
        words = _perturb(replies[i % len(replies)].split(), 0.15, pool, rng)
        words.insert(rng.randrange(len(words) + 1), f"BB-{rng.randrange(10**6):06d}")
        reference = " ".join(words)
        if i % 50 == 0:
            prediction = json.dumps({"name": "lookup_order", "arguments": {"order": words[0]}})
        else:
            pred = _perturb(words, 0.3, pool, rng)
            prediction = " ".join(pred[: max(1, int(len(pred) * rng.uniform(0.6, 1.0)))] if rng.random() < 0.3 else pred)
        items.append(ItemInput(prediction, [reference]))
    return items


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (the scoring workers)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=None, help="default: the CPUs")
    parser.add_argument("--no-breakdown", action="store_true")
    args = parser.parse_args()
    items = make_pairs(args.pairs)
    chars = sum(len(i.prediction) + len(i.references[0]) for i in items) / len(items) / 2
    print(f"{len(items)} pairs, {chars:.0f} characters a text on average, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f} (other processes share the CPUs)")
    cpu0 = _cpu()
    started = time.perf_counter()
    result = score(METRICS, items, workers=args.workers)
    total = time.perf_counter() - started
    print(f"all {len(METRICS)} text metrics in one score() call: {total:.1f} s "
          f"= {total / GOAL_S:.2f} of the {GOAL_S:.0f} s goal ({'met' if total < GOAL_S else 'NOT met'}); "
          f"CPU {_cpu() - cpu0:.1f} s over all processes, load average now {os.getloadavg()[0]:.2f}")
    for key, scored in result.items():
        print(f"  {key:12s} value {scored.value:.4f}  (n {scored.n})")
    if args.no_breakdown:
        return
    print("each metric alone, in this one process (workers=1): wall and CPU seconds")
    alone = alone_cpu = 0.0
    for spec in METRICS:
        started, cpu0 = time.perf_counter(), time.process_time()
        score([spec], items, workers=1)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu0
        alone, alone_cpu = alone + seconds, alone_cpu + cpu
        print(f"  {spec.name:12s} {seconds:6.1f} s  CPU {cpu:6.1f} s")
    print(f"  {'sum':12s} {alone:6.1f} s  CPU {alone_cpu:6.1f} s = {alone / GOAL_S:.2f} of the goal in one process")


if __name__ == "__main__":
    main()
