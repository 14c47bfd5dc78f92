"""Chat benchmark: the chat child against plain `model.generate` with transformers'
TextIteratorStreamer on the same model, prompt and greedy settings (goal: TTFT <= 1.1x,
tokens/s >= 0.95x), and the arena's two-model latency: one generate_many over base + adapter
against two sequential single generates in the same child. Not a timed test.

    .venv/bin/python tests/benchmarks/bench_chat.py [--model auto|tiny|smollm2|PATH]
        [--max-new-tokens 64] [--rounds 5]

What each number includes (the same for both sides, so the ratios compare like with like):
- TTFT: from just before the prompt is rendered (plain: this process calls apply_chat_template;
  child: this process writes the request to the child's stdin, so the child's figure also holds
  the pipe both ways, request parsing and its event encoding) to the moment the first generated
  token is seen (plain: the streamer's first put() of generated ids, i.e. before the streamer
  holds text back to a word boundary; child: this process reads the first `token` event).
- tokens/s: (generated tokens - 1) / (the last token's end - the first token): plain until
  generate() returns, child until this process reads `done`. The end-of-turn id counts on both.
- "in the child": the child's own ttft / tokens_per_s from its `done` (no pipe), for comparison.
- CPU threads: torch's default on both sides, and the same OpenMP wait policy (PASSIVE, the
  child's default, unless OMP_WAIT_POLICY is set when this starts; printed).
The machine may be busy with other work: rounds are interleaved (child, plain, plain, child, ...)
after one warm-up of each, and every figure is a median over rounds.

--model auto: SmolLM2-135M-Instruct when built in the user data folder, else the tiny model.
The adapter is a random LoRA (r 8 on the attention projections) made here. The arena rounds run
in a second child with the adapter loaded; its base replies (through peft with the adapter
disabled) are measured against plain rounds interleaved with them ("adapter loaded").
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
# The chat child waits passively on CPU (engine/chat.py CPU_WAIT_ENV) unless told otherwise;
# plain generate in this process must wait the same way to compare like with like (the child
# inherits a value set here). OMP_WAIT_POLICY=ACTIVE on the command line: both spin.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

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


class Plain:
    """model.generate + TextIteratorStreamer consumed in this thread, generate in another."""

    def __init__(self, base: str):
        from transformers import AutoModelForCausalLM, AutoTokenizer, TextIteratorStreamer

        self.tok = AutoTokenizer.from_pretrained(base)
        self.model = AutoModelForCausalLM.from_pretrained(base).eval()
        self.eos = self.model.generation_config.eos_token_id

        class Timed(TextIteratorStreamer):
            first_token_at = None

            def put(self, value):
                if self.first_token_at is None and not self.next_tokens_are_prompt:
                    self.first_token_at = time.perf_counter()
                super().put(value)

        self.streamer_class = Timed

    def round(self, max_new: int) -> dict:
        import torch

        tok = self.tok
        t0 = time.perf_counter()
        enc = tok(tok.apply_chat_template(PROMPT, tokenize=False, add_generation_prompt=True),
                  add_special_tokens=False, return_tensors="pt")
        streamer = self.streamer_class(tok, skip_prompt=True, skip_special_tokens=True)
        kw = dict(**enc, max_new_tokens=max_new, do_sample=False, temperature=None, top_p=None, top_k=None,
                  streamer=streamer, pad_token_id=tok.pad_token_id, eos_token_id=self.eos)
        result: list[int] = []

        def work():
            with torch.inference_mode():
                out = self.model.generate(**kw)
            result.append(out.shape[1] - enc["input_ids"].shape[1])

        thread = threading.Thread(target=work)
        thread.start()
        first_text = None
        for text in streamer:
            if text and first_text is None:
                first_text = time.perf_counter()
        thread.join()
        end = time.perf_counter()
        first = streamer.first_token_at
        return {"ttft": first - t0, "rate": (result[0] - 1) / (end - first), "tokens": result[0],
                "first_text": first_text - t0}


class Child:
    def __init__(self, base: str, adapters: dict, work: str):
        from workbench.services.chat_child import ChatChild

        self.child = ChatChild(base, adapters, work).start()
        self.until("ready")

    def until(self, kind: str) -> list:
        events = []
        while True:
            batch = self.child.poll()
            now = time.perf_counter()
            events += [(now, e) for e in batch]
            if any(e.kind in (kind, "failed") for e in batch):
                if any(e.kind == "failed" for e in batch):
                    raise RuntimeError(f"the chat child failed: {[e.payload for e in batch]}")
                return events
            fd = self.child._child._fd if self.child._child else None  # wait on the pipe, no spinning
            if fd is not None:
                select.select([fd], [], [], 0.05)

    def round(self, req_id: str, adapter, settings: dict) -> dict:
        t0 = time.perf_counter()
        self.child.send_generate(req_id, PROMPT, adapter, settings)
        events = self.until("done")
        first = next(t for t, e in events if e.kind == "token")
        end, done = [(t, e) for t, e in events if e.kind == "done"][0]
        p = done.payload
        return {"ttft": first - t0, "rate": (p["tokens"] - 1) / (end - first), "tokens": p["tokens"],
                "end": end, "t0": t0, "child_ttft": p["ttft"], "child_rate": p["tokens_per_s"]}

    def many(self, req_id: str, settings: dict) -> float:
        t0 = time.perf_counter()
        self.child.send_generate_many(req_id, [{"key": "base", "messages": PROMPT, "adapter": None},
                                               {"key": "lora", "messages": PROMPT, "adapter": "lora"}], settings)
        self.until("batch_done")
        return time.perf_counter() - t0

    def close(self) -> None:
        self.child.close()


def med(rows: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="auto")
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--no-arena", action="store_true", help="only the single-chat ratios (quicker)")
    args = ap.parse_args()
    label, base = model_path(args.model)
    settings = {"temperature": 0, "max_new_tokens": args.max_new_tokens}
    n = args.rounds
    with tempfile.TemporaryDirectory() as tmp:
        adapter = make_adapter(base, os.path.join(tmp, "lora"))
        plain = Plain(base)
        # The child alone (what plain generate is: no adapter), rounds interleaved with plain's.
        child = Child(base, {}, os.path.join(tmp, "w0"))
        child.round("warm", None, settings), plain.round(args.max_new_tokens)
        cs, ps = [], []
        for r in range(n):
            pair = [lambda: cs.append(child.round(f"g{r}", None, settings)),
                    lambda: ps.append(plain.round(args.max_new_tokens))]
            for step in (pair if r % 2 == 0 else pair[::-1]):
                step()
        child.close()
        arena = None
        if not args.no_arena:
            # With an adapter loaded: base replies, then per round two sequential single chats
            # (base, then adapter) vs one generate_many over both.
            child = Child(base, {"lora": adapter}, os.path.join(tmp, "w1"))
            child.round("warm", None, settings), child.many("warm-m", settings)
            acs, aps, singles, manys = [], [], [], []
            for r in range(n):
                a = child.round(f"a{r}", None, settings)
                aps.append(plain.round(args.max_new_tokens))
                b = child.round(f"b{r}", "lora", settings)
                manys.append(child.many(f"m{r}", settings))
                acs.append(a)
                singles.append((a["end"] - a["t0"]) + (b["end"] - b["t0"]))
            child.close()
            arena = (acs, aps, statistics.median(singles), statistics.median(manys))
    print(f"model: {label} ({base}), max_new_tokens {args.max_new_tokens}, {n} interleaved rounds (medians), "
          f"{cs[-1]['tokens']} tokens per reply (plain {ps[-1]['tokens']}), "
          f"OMP_WAIT_POLICY {os.environ.get('OMP_WAIT_POLICY')} on both sides")
    print(f"TTFT      plain {med(ps, 'ttft') * 1000:.1f} ms   chat child {med(cs, 'ttft') * 1000:.1f} ms   "
          f"ratio {med(cs, 'ttft') / med(ps, 'ttft'):.2f}x (goal <= 1.1x)   "
          f"[in the child {med(cs, 'child_ttft') * 1000:.1f} ms; plain's first streamed text "
          f"{med(ps, 'first_text') * 1000:.1f} ms]")
    print(f"tokens/s  plain {med(ps, 'rate'):.1f}   chat child {med(cs, 'rate'):.1f}   "
          f"ratio {med(cs, 'rate') / med(ps, 'rate'):.2f}x (goal >= 0.95x)   "
          f"[in the child {med(cs, 'child_rate'):.1f}]")
    if arena:
        acs, aps, single, many = arena
        print(f"adapter loaded (base replies through peft): TTFT ratio {med(acs, 'ttft') / med(aps, 'ttft'):.2f}x   "
              f"tokens/s ratio {med(acs, 'rate') / med(aps, 'rate'):.2f}x")
        print(f"arena     two sequential chats {single * 1000:.0f} ms   one generate_many "
              f"{many * 1000:.0f} ms   ratio {many / single:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
