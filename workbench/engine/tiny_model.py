"""The demo base model, built offline: a byte-level BPE tokenizer trained on a corpus of
conversations, a small GPT-2, and a short causal-LM pretraining on the rendered corpus
(without its assistant replies)."""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from typing import Callable

from workbench.core.hashing import model_fingerprint
from workbench.engine.errors import BadConfigError
from workbench.engine.messages import Message, read_jsonl_conversations
from workbench.engine.model_files import CHATML_TEMPLATE, atomic_folder

TINY_NAME = "workbench-tiny-gpt2"
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>"]

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class TinyShape:
    vocab_size: int = 3000
    n_positions: int = 512
    n_embd: int = 128
    n_layer: int = 3
    n_head: int = 4
    block_size: int = 128
    batch_size: int = 8
    learning_rate: float = 3e-3
    seed: int = 1234


def render_chatml(messages: list[Message]) -> str:
    return "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)


def train_tokenizer(conversations: list[list[Message]], vocab_size: int):
    """A byte-level BPE tokenizer wrapped as a transformers fast tokenizer with ChatML."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    # Train on plain text (roles + contents), so the special-token strings never become merges.
    texts = (f"{m['role']}\n{m['content']}\n" for conv in conversations for m in conv)
    tok.train_from_iterator(texts, trainer)
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|endoftext|>",
        eos_token="<|im_end|>",
        pad_token="<|pad|>",
        unk_token=None,
        additional_special_tokens=["<|im_start|>"],
        model_max_length=512,
        clean_up_tokenization_spaces=False,
    )
    wrapped.chat_template = CHATML_TEMPLATE
    return wrapped


def _token_stream(tokenizer, conversations: list[list[Message]]) -> list[int]:
    ids: list[int] = []
    for conv in conversations:
        ids.extend(tokenizer(render_chatml(conv), add_special_tokens=False)["input_ids"])
    return ids


def pretrain(model, ids: list[int], shape: TinyShape, steps: int, progress: Progress) -> float:
    """A short plain-torch causal-LM loop over random blocks of the token stream."""
    import torch

    if steps <= 0:
        return float("nan")
    block = min(shape.block_size, max(8, len(ids) - 1))
    data = torch.tensor(ids, dtype=torch.long)
    starts = max(1, len(ids) - block)
    gen = torch.Generator().manual_seed(shape.seed)
    optim = torch.optim.AdamW(model.parameters(), lr=shape.learning_rate, weight_decay=0.01)
    warmup = max(1, steps // 10)

    def lr_at(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))

    sched = torch.optim.lr_scheduler.LambdaLR(optim, lr_at)
    model.train()
    loss_value = float("nan")
    last_report = 0.0
    for step in range(steps):
        offsets = torch.randint(0, starts, (shape.batch_size,), generator=gen)
        batch = torch.stack([data[o : o + block] for o in offsets.tolist()])
        loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optim.step()
        sched.step()
        optim.zero_grad(set_to_none=True)
        loss_value = float(loss.detach())
        now = time.monotonic()
        if now - last_report >= 0.5 or step == steps - 1:
            last_report = now
            progress(
                0.1 + 0.85 * (step + 1) / steps,
                f"Pretraining step {step + 1}/{steps}, loss {loss_value:.3f}",
            )
    model.eval()
    return loss_value


def build_tiny(
    corpus_path: str | None,
    output_dir: str,
    pretrain_steps: int,
    progress: Progress,
    shape: TinyShape = TinyShape(),
) -> dict:
    """Build the demo model into output_dir; returns the `completed` payload."""
    if not corpus_path:
        raise BadConfigError(
            "Building the demo model needs a corpus file.",
            advice="Pass corpus_path: a JSONL file with one {\"messages\": [...]} per line.",
        )
    if pretrain_steps < 0:
        raise BadConfigError(f"pretrain_steps must be >= 0, got {pretrain_steps}.")
    progress(0.0, "Reading the corpus")
    conversations = read_jsonl_conversations(corpus_path)
    random.Random(shape.seed).shuffle(conversations)

    progress(0.02, "Training the tokenizer")
    tokenizer = train_tokenizer(conversations, shape.vocab_size)
    # Pretraining sees the corpus without its assistant replies: the base model learns the
    # language and the customers' questions, and fine-tuning has the replies left to teach, so
    # a demo run's loss visibly falls and its chat answers change.
    ids = _token_stream(tokenizer, [[m for m in c if m["role"] != "assistant"] for c in conversations])

    progress(0.08, "Creating the model")
    import torch
    from transformers import GenerationConfig, GPT2Config, GPT2LMHeadModel

    torch.manual_seed(shape.seed)
    special = tokenizer.convert_tokens_to_ids
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=shape.n_positions,
        n_embd=shape.n_embd,
        n_layer=shape.n_layer,
        n_head=shape.n_head,
        bos_token_id=special("<|endoftext|>"),
        eos_token_id=special("<|im_end|>"),
        pad_token_id=special("<|pad|>"),
        # No dropout: the pretraining is short and a CPU step is cheaper without it.
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
    )
    model = GPT2LMHeadModel(config)
    final_loss = pretrain(model, ids, shape, pretrain_steps, progress)

    progress(0.96, "Saving the model")
    model.generation_config = GenerationConfig(
        bos_token_id=config.bos_token_id,
        eos_token_id=config.eos_token_id,
        pad_token_id=config.pad_token_id,
    )

    def write(folder: str) -> None:
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)

    path = atomic_folder(output_dir, write)
    progress(1.0, f"Done (final pretraining loss {final_loss:.3f})")
    return {"path": path, "fingerprint": model_fingerprint(path), "name": TINY_NAME}
