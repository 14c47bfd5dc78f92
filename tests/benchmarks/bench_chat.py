"""Chat benchmark: the chat child (a real `chat` engine child, measured from the parent: request
written to its stdin -> first token event, and tokens/s after it) against plain `model.generate`
with transformers' TextIteratorStreamer in this process, same model, prompt and greedy settings
(goal: TTFT <= 1.1x, tokens/s >= 0.95x); and the arena's two-model latency: one generate_many over
base + adapter against two sequential single generates in the same child. Not a timed test.

    .venv/bin/python tests/benchmarks/bench_chat.py [--model auto|tiny|smollm2|PATH]
        [--max-new-tokens 64] [--rounds 5]

--model auto: SmolLM2-135M-Instruct when built in the user data folder, else the tiny model.
The adapter is a random LoRA (r 8 on the attention projections) made here.
"""

from __future__ import annotations

import argparse
import os
import select
import statistics
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "tests", "benchmarks"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bench_eval_generation import model_path  # noqa: E402

PROMPT = [{"role": "user", "content": "My order #1234 arrived with a broken grinder. What can I do?"}]


def make_adapter(base: str, path: str) -> str:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(base)
    names = {n.split(".")[-1] for n, _ in model.named_modules()}
    targets = [t for t in ("q_proj", "v_proj", "c_attn") if t in names]
    get_peft_model(model, LoraConfig(r=8, lora_alpha=16, init_lora_weights=False, target_modules=targets)
                   ).save_pretrained(path)
    return path


def plain(base: str, max_new: int, rounds: int) -> tuple[float, float]:
    """(median TTFT, median tokens/s) of model.generate + TextIteratorStreamer in a thread."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, TextIteratorStreamer

    tok = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base).eval()
    eos = model.generation_config.eos_token_id
    ttfts, rates = [], []
    for r in range(rounds + 1):
        t0 = time.perf_counter()
        enc = tok(tok.apply_chat_template(PROMPT, tokenize=False, add_generation_prompt=True),
                  add_special_tokens=False, return_tensors="pt")
        streamer = TextIteratorStreamer(tok, skip_prompt=True, skip_special_tokens=True)
        kw = dict(**enc, max_new_tokens=max_new, do_sample=False, temperature=None, top_p=None, top_k=None,
                  streamer=streamer, pad_token_id=tok.pad_token_id, eos_token_id=eos)

        def work():
            with torch.inference_mode():
                out = model.generate(**kw)
            result.append(out.shape[1] - enc["input_ids"].shape[1])

        result: list[int] = []
        thread = threading.Thread(target=work)
        thread.start()
        first = None
        for text in streamer:
            if text and first is None:
                first = time.perf_counter()
        thread.join()
        end = time.perf_counter()
        if r:  # round 0 warms up
            ttfts.append(first - t0)
            rates.append((result[0] - 1) / (end - first))
    return statistics.median(ttfts), statistics.median(rates)


def child_rounds(base: str, adapter: str, max_new: int, rounds: int, work: str, arena: bool = True) -> dict:
    from workbench.services.chat_child import ChatChild

    child = ChatChild(base, {"lora": adapter} if arena else {}, work).start()
    settings = {"temperature": 0, "max_new_tokens": max_new}

    def until(kind: str):
        events = []
        while True:
            batch = child.poll()
            now = time.perf_counter()
            events += [(now, e) for e in batch]
            if any(e.kind == kind for e in batch) or any(e.kind == "failed" for e in batch):
                return events
            fd = child._child._fd if child._child else None  # wait on the pipe, not a spin that steals a core
            if fd is not None:
                select.select([fd], [], [], 0.05)

    until("ready")
    ttfts, rates, singles, manys = [], [], [], []
    for r in range(rounds + 1):
        t0 = time.perf_counter()
        child.send_generate(f"g{r}", PROMPT, None, settings)
        events = until("done")
        first = next(t for t, e in events if e.kind == "token")
        end, done = [(t, e) for t, e in events if e.kind == "done"][0]
        if r:
            ttfts.append(first - t0)
            rates.append((done.payload["tokens"] - 1) / (end - first))
        if not arena:
            continue
        # two sequential single chats (base, then adapter) vs one generate_many over both
        t1 = time.perf_counter()
        child.send_generate(f"a{r}", PROMPT, "lora", settings)
        until("done")
        t2 = time.perf_counter()
        child.send_generate_many(f"m{r}", [{"key": "base", "messages": PROMPT, "adapter": None},
                                           {"key": "lora", "messages": PROMPT, "adapter": "lora"}], settings)
        until("batch_done")
        t3 = time.perf_counter()
        if r:
            singles.append(t2 - t0 - (t1 - end))
            manys.append(t3 - t2)
    child.close()
    return {"ttft": statistics.median(ttfts), "rate": statistics.median(rates),
            "two_single": statistics.median(singles) if singles else None,
            "many": statistics.median(manys) if manys else None,
            "tokens": done.payload["tokens"], "child_ttft": done.payload["ttft"]}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="auto")
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    label, base = model_path(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        adapter = make_adapter(base, os.path.join(tmp, "lora"))
        # The child alone (what plain generate is: no adapter), then with an adapter loaded
        # (base replies through peft's disabled adapters) for the arena.
        b = child_rounds(base, adapter, args.max_new_tokens, args.rounds, os.path.join(tmp, "w0"), arena=False)
        p_ttft, p_rate = plain(base, args.max_new_tokens, args.rounds)
        c = child_rounds(base, adapter, args.max_new_tokens, args.rounds, os.path.join(tmp, "w1"))
    print(f"model: {label} ({base}), max_new_tokens {args.max_new_tokens}, {args.rounds} rounds (medians), "
          f"{c['tokens']} tokens per reply")
    print(f"TTFT      plain {p_ttft * 1000:.1f} ms   chat child {b['ttft'] * 1000:.1f} ms   ratio "
          f"{b['ttft'] / p_ttft:.2f}x (goal <= 1.1x)   with an adapter loaded {c['ttft'] / p_ttft:.2f}x")
    print(f"tokens/s  plain {p_rate:.1f}   chat child {b['rate']:.1f}   ratio {b['rate'] / p_rate:.2f}x "
          f"(goal >= 0.95x)   with an adapter loaded {c['rate'] / p_rate:.2f}x")
    print(f"arena     two sequential chats {c['two_single'] * 1000:.0f} ms   one generate_many "
          f"{c['many'] * 1000:.0f} ms   ratio {c['many'] / c['two_single']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
