"""A model folder holding only a tokenizer (byte-level BPE, ChatML template), built offline in
milliseconds: for tests of token counts and chat-template rendering that need no weights."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + eos_token + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
CORPUS = [
    "system You are a helpful assistant for a coffee shop.",
    "user Where is my order? assistant It ships tomorrow with tracking.",
    "user How long does shipping take? assistant Three to five business days.",
    "What grind should I use for espresso? A fine grind, like powdered sugar.",
]


def build_chatml_folder(folder: Path, eos_token: Any = "<|im_end|>", **config: Any) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    folder.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(CORPUS * 5, trainer)
    tok.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "bos_token": "<|endoftext|>", "eos_token": eos_token, "chat_template": CHATML, **config,
    }), encoding="utf-8")
    return folder
