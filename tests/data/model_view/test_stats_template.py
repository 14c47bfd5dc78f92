"""What the model sees: statistics of a known dataset, and a row rendered with a ChatML chat
template whose trained-token mask matches the training engine's labels."""

from __future__ import annotations

import json
import shutil

import pytest

from workbench.core.errors import WorkbenchError
from workbench.services import dataset_ops

KNOWN = [
    {"messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": "hello"},
                  {"role": "assistant", "content": "world!"}]},
    {"messages": [{"role": "user", "content": "ab"}, {"role": "assistant", "content": "cd"}]},
    {"messages": [{"role": "user", "content": "q1"}, {"role": "assistant", "content": "a1"},
                  {"role": "user", "content": "q2"}, {"role": "assistant", "content": "a2"}]},
]


def chatml(messages) -> str:
    return "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)


def test_stats_of_a_known_dataset(store, import_records, chatml_model):
    from tokenizers import Tokenizer

    v = import_records(KNOWN)
    st = dataset_ops.version_stats(store, v.id)
    assert st.row_count == 3 and st.message_count == 9
    assert st.turns == {2: 1, 3: 1, 4: 1} and st.assistant_turns == {1: 2, 2: 1}
    assert st.roles == {"assistant": 4, "system": 1, "user": 4}
    assert st.role_chars == {"assistant": 12, "system": 3, "user": 11}
    assert (st.chars.min, st.chars.max, st.chars.median, st.chars.mean) == (4, 14, 8, round(26 / 3, 3))
    assert sum(st.chars.counts) == 3 and st.chars.edges[0] == 4 and st.chars.edges[-1] == 14
    assert st.tokens is None and st.truncated_rows is None and st.rows_without_assistant == 0

    tok = Tokenizer.from_file(str(chatml_model / "tokenizer.json"))
    lengths = [len(tok.encode(chatml(r["messages"]), add_special_tokens=False).ids) for r in KNOWN]
    limit = sorted(lengths)[1]
    st = dataset_ops.version_stats(store, v.id, tokenizer=str(chatml_model), max_length=limit)
    assert st.token_measure == "rendered" and st.tokenizer == str(chatml_model)
    assert (st.tokens.min, st.tokens.max) == (min(lengths), max(lengths))
    assert st.truncated_rows == sum(n > limit for n in lengths) == 1

    content = dataset_ops.version_stats(store, v.id, tokenizer=str(chatml_model), measure="content")
    expected = [sum(len(tok.encode(m["content"], add_special_tokens=False).ids) for m in r["messages"]) for r in KNOWN]
    assert content.token_measure == "content" and content.tokens.max == max(expected)
    assert content.tokens.min == min(expected)


def test_render_row_marks_assistant_tokens(store, import_records, chatml_model):
    from tokenizers import Tokenizer

    v = import_records(KNOWN)
    r = dataset_ops.render_row(store, v.id, 2, str(chatml_model))
    assert r.text == chatml(KNOWN[2]["messages"])
    trained_text = [r.text[s.start:s.end] for s in r.spans if s.trained]
    assert trained_text == ["a1<|im_end|>\n", "a2<|im_end|>\n"]  # reply + end of turn, no header
    assert [s.message_index for s in r.spans if s.trained] == [1, 3]
    assert r.spans[0].start == 0 and r.spans[-1].end == len(r.text)
    assert all(a.end == b.start for a, b in zip(r.spans, r.spans[1:]))
    tok = Tokenizer.from_file(str(chatml_model / "tokenizer.json"))
    assert [t.id for t in r.tokens] == tok.encode(r.text, add_special_tokens=False).ids
    assert "".join(r.text[t.start:t.end] for t in r.tokens if t.trained) == "".join(trained_text)
    assert r.trained_token_count == sum(t.trained for t in r.tokens) and not r.truncated
    assert any(t.piece == "<|im_end|>" and t.trained for t in r.tokens)
    assert not any(t.piece == "<|im_start|>" and t.trained for t in r.tokens)

    cut = dataset_ops.render_row(store, v.id, 2, str(chatml_model), max_length=r.token_count - 3)
    assert cut.truncated and not any(t.trained for t in cut.tokens[r.token_count - 3:])
    assert cut.trained_token_count == r.trained_token_count - 3  # the last reply's tail is cut
    with pytest.raises(WorkbenchError, match="out of range"):
        dataset_ops.render_row(store, v.id, 3, str(chatml_model))


def test_mask_matches_the_training_engine(chatml_model):
    """Same ids and the same trained positions as engine/train_data.tokenize_conversation."""
    from transformers import PreTrainedTokenizerFast

    from tests.helpers.chatml_folder import CHATML
    from workbench.data.model_view.template import render_conversation
    from workbench.data.model_view.tokens import find_tokenizer_files
    from workbench.engine.train_data import IGNORE_INDEX, tokenize_conversation

    hf = PreTrainedTokenizerFast(tokenizer_file=str(chatml_model / "tokenizer.json"), eos_token="<|im_end|>",
                                 bos_token="<|endoftext|>")
    hf.chat_template = CHATML
    files = find_tokenizer_files(chatml_model)
    for row in KNOWN + [{"messages": [{"role": "user", "content": "Où est ma commande? ☕"},
                                      {"role": "assistant", "content": "Elle part demain — merci!"}]}]:
        example, _ = tokenize_conversation(hf, row["messages"], max_length=10_000)
        mine = render_conversation(files, row["messages"])
        assert [t.id for t in mine.tokens] == example.input_ids
        assert [t.trained for t in mine.tokens] == [lab != IGNORE_INDEX for lab in example.labels]


def test_template_sources_and_errors(chatml_model, tmp_path):
    from workbench.data.model_view.template import render_conversation
    from workbench.data.model_view.tokens import find_tokenizer_files

    msgs = KNOWN[1]["messages"]
    folder = tmp_path / "m"
    shutil.copytree(chatml_model, folder)
    # transformers 5 writes the template to chat_template.jinja; it wins over the config's.
    (folder / "chat_template.jinja").write_text(
        "{{ bos_token }}{% for m in messages %}{% generation %}[{{ m.role }}] {{ m.content }}{% endgeneration %}{{ '\\n' }}"
        "{% endfor %}", encoding="utf-8")
    r = render_conversation(find_tokenizer_files(folder), msgs)
    # No end-of-turn marker in this template: the reply gets the EOS training appends.
    assert r.text == "<|endoftext|>[user] ab\n[assistant] cd\n<|im_end|>"
    (folder / "chat_template.jinja").unlink()
    config = json.loads((folder / "tokenizer_config.json").read_text())
    del config["chat_template"]
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    with pytest.raises(WorkbenchError, match="no chat template"):
        render_conversation(find_tokenizer_files(folder), msgs)
    config["chat_template"] = "{{ raise_exception('roles must alternate') }}"
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    with pytest.raises(WorkbenchError, match="cannot be rendered") as err:
        render_conversation(find_tokenizer_files(folder), msgs)
    assert "roles must alternate" in err.value.details
    with pytest.raises(WorkbenchError, match="No tokenizer.json"):
        find_tokenizer_files(tmp_path)
