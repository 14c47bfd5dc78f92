"""Label masking (assistant tokens only, for any chat template), truncation, padding, errors."""

from __future__ import annotations

import pytest

from workbench.engine.errors import BadDataError, failure_payload, is_oom
from workbench.engine.train_data import IGNORE_INDEX, Collator, Example, tokenize_all, tokenize_conversation

CONVERSATION = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Where is order #1234?"},
    {"role": "assistant", "content": "It ships today."},
    {"role": "user", "content": "Thanks!"},
    {"role": "assistant", "content": "You are welcome."},
]

# A template with different markers and no end-of-turn special token.
PLAIN_TEMPLATE = (
    "{% for m in messages %}### {{ m['role'] }}:\n{{ m['content'] }}\n\n{% endfor %}"
    "{% if add_generation_prompt %}### assistant:\n{% endif %}"
)


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


def _trained_text(tok, example: Example) -> str:
    return tok.decode([i for i, label in zip(example.input_ids, example.labels) if label != IGNORE_INDEX])


def test_only_assistant_replies_and_their_end_marker_are_labelled(tokenizer):
    example, truncated = tokenize_conversation(tokenizer, CONVERSATION, 256)
    assert not truncated
    assert _trained_text(tokenizer, example) == "It ships today.<|im_end|>\nYou are welcome.<|im_end|>\n"
    assert all(label in (IGNORE_INDEX, tid) for tid, label in zip(example.input_ids, example.labels))


def test_loss_on_all_tokens_labels_the_prompt_too(tokenizer):
    example, _ = tokenize_conversation(tokenizer, CONVERSATION, 256, loss_on="all")
    assert example.labels == example.input_ids
    assistant_only, _ = tokenize_conversation(tokenizer, CONVERSATION, 256)
    assert assistant_only.input_ids == example.input_ids


def test_batched_encoding_gives_each_conversation_its_own_tokens(tokenizer, monkeypatch):
    from tests.engine.demo_corpus import shop_conversations
    from workbench.engine import train_data

    monkeypatch.setattr(train_data, "ENCODE_BATCH", 7)  # several batches, one partly full
    conversations = [r["messages"] for r in shop_conversations(30)]
    data = tokenize_all(tokenizer, conversations, 80, "chats")
    one_by_one = [tokenize_conversation(tokenizer, m, 80)[0] for m in conversations]
    assert data.examples == [e for e in one_by_one if any(label != IGNORE_INDEX for label in e.labels)]
    assert data.truncated_rows == sum(tokenize_conversation(tokenizer, m, 80)[1] for m in conversations) > 0


def _spans(example: Example) -> list[list[int]]:
    """The labelled runs of an example (one per assistant reply)."""
    runs: list[list[int]] = []
    previous = IGNORE_INDEX
    for label in example.labels:
        if label != IGNORE_INDEX:
            if previous == IGNORE_INDEX:
                runs.append([])
            runs[-1].append(label)
        previous = label
    return runs


def test_masking_follows_any_template_and_a_reply_without_end_marker_gets_eos(tokenizer):
    original = tokenizer.chat_template
    tokenizer.chat_template = PLAIN_TEMPLATE
    try:
        example, _ = tokenize_conversation(tokenizer, CONVERSATION, 256)
    finally:
        tokenizer.chat_template = original
    # The template has no end-of-turn marker: each reply's labels end with EOS, so the model
    # learns to stop after a reply.
    assert _trained_text(tokenizer, example) == "It ships today.\n\n<|im_end|>You are welcome.\n\n<|im_end|>"
    runs = _spans(example)
    assert len(runs) == 2 and all(run[-1] == tokenizer.eos_token_id for run in runs)
    assert example.input_ids.count(tokenizer.eos_token_id) == 2


def test_the_model_view_shows_the_same_eos_as_training(tokenizer, tiny_model_dir, tmp_path):
    """The data layer's "as the model sees it" view and the engine agree on the added EOS."""
    import shutil

    from workbench.data.model_view.template import ChatTemplate, render_conversation, rendered_length
    from workbench.data.model_view.tokens import find_tokenizer_files, load_tokenizer

    folder = tmp_path / "plain"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "chat_template.jinja").write_text(PLAIN_TEMPLATE, encoding="utf-8")
    files = find_tokenizer_files(folder)
    view = render_conversation(files, CONVERSATION)
    original = tokenizer.chat_template
    tokenizer.chat_template = PLAIN_TEMPLATE
    try:
        example, _ = tokenize_conversation(tokenizer, CONVERSATION, 256)
    finally:
        tokenizer.chat_template = original
    assert [t.id for t in view.tokens] == example.input_ids
    assert [t.trained for t in view.tokens] == [label != IGNORE_INDEX for label in example.labels]
    assert [view.text[s.start:s.end] for s in view.spans if s.trained] == [
        "It ships today.\n\n<|im_end|>", "You are welcome.\n\n<|im_end|>"]
    template = ChatTemplate.from_files(files)
    assert rendered_length(template, load_tokenizer(files), [CONVERSATION]) == [len(example.input_ids)]


def test_truncation_and_dropping(tokenizer):
    long_user = [{"role": "user", "content": "word " * 200}, {"role": "assistant", "content": "ok"}]
    no_answer = [{"role": "user", "content": "hello?"}]
    data = tokenize_all(tokenizer, [CONVERSATION, long_user, no_answer], max_length=80, source="t.parquet")
    assert data.rows == 3 and len(data.examples) == 1
    assert data.dropped_rows == 2 and data.dropped_row_numbers == [2, 3] and data.truncated_rows == 1
    assert all(len(e.input_ids) <= 80 for e in data.examples)


def test_no_trainable_row_is_bad_data_with_advice(tokenizer):
    with pytest.raises(BadDataError) as info:
        tokenize_all(tokenizer, [[{"role": "user", "content": "hi"}]] * 3, 64, "x.parquet")
    assert "3 rows" in info.value.user_message and "assistant" in info.value.advice
    assert failure_payload(info.value)["error_kind"] == "bad_data"


def test_collator_pads_ids_with_pad_and_labels_with_ignore():
    batch = Collator(pad_id=3)([Example([5, 6, 7], [-100, 6, 7]), Example([8], [8])])
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 3, 3]]
    assert batch["labels"].tolist() == [[-100, 6, 7], [8, -100, -100]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]


def test_oom_is_recognised_without_torch_types():
    class OutOfMemoryError(RuntimeError):
        pass

    assert is_oom(OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert is_oom(RuntimeError("[enforce fail] DefaultCPUAllocator: can't allocate memory"))
    assert not is_oom(ValueError("out of memory"))
    payload = failure_payload(RuntimeError("CUDA error: out of memory"), oom_advice="lower batch size")
    assert payload["error_kind"] == "oom" and payload["advice"] == "lower batch size"
