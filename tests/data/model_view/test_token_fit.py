"""How a version fits a max length: the counts measured with the data layer's tokenizer and
template agree with what the training engine truncates and drops, for every max length."""

from __future__ import annotations

import pytest

from workbench.core.errors import WorkbenchError
from workbench.services import dataset_ops

LONG_USER = "Where is my order? " * 12  # the reply starts late: dropped at small max lengths
ROWS = [
    [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "world!"}],
    [{"role": "system", "content": "You are a helpful assistant for a coffee shop."},
     {"role": "user", "content": "How long does shipping take?"},
     {"role": "assistant", "content": "Three to five business days. " * 4}],
    [{"role": "user", "content": LONG_USER}, {"role": "assistant", "content": "It ships tomorrow."}],
    [{"role": "user", "content": "q1"}, {"role": "assistant", "content": "a1"},
     {"role": "user", "content": "q2"}, {"role": "assistant", "content": "a2"}],
    [{"role": "user", "content": "no reply here"}],
]


def _hf(chatml_model):
    from transformers import PreTrainedTokenizerFast

    from tests.helpers.chatml_folder import CHATML

    hf = PreTrainedTokenizerFast(tokenizer_file=str(chatml_model / "tokenizer.json"), eos_token="<|im_end|>",
                                 bos_token="<|endoftext|>")
    hf.chat_template = CHATML
    return hf


def test_fit_counts_match_what_training_truncates_and_drops(store, add_raw_version, chatml_model):
    from workbench.engine.train_data import tokenize_all

    v = add_raw_version(ROWS)
    fit = dataset_ops.token_fit(store, v.id, str(chatml_model))
    assert fit.rows == len(ROWS) and fit.render_errors == 0
    hf = _hf(chatml_model)
    checked = 0
    for max_length in (4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 10_000):
        counts = fit.at(max_length)
        assert counts.without_reply == 1
        try:
            data = tokenize_all(hf, ROWS, max_length, "t")
        except WorkbenchError:  # the engine refuses a run in which every row is dropped
            assert counts.usable == 0 and counts.dropped == len(ROWS)
            continue
        checked += 1
        assert (counts.truncated, counts.dropped, counts.usable) == (
            data.truncated_rows, data.dropped_rows, len(data.examples)), max_length
    assert checked >= 5  # the lengths above cover "some dropped" and "nothing dropped"
    assert fit.at(10_000).dropped == 1 and fit.at(10_000).truncated == 0


def test_shortest_fit_is_the_smallest_length_that_keeps_a_row(store, add_raw_version, chatml_model):
    v = add_raw_version(ROWS)
    fit = dataset_ops.token_fit(store, v.id, str(chatml_model))
    shortest = fit.at(8).shortest_fit
    assert shortest is not None
    assert fit.at(shortest).usable >= 1
    assert fit.at(shortest - 1).usable == 0


def test_rows_the_template_rejects_are_counted_not_fatal(store, add_raw_version, tmp_path, chatml_model):
    import json
    import shutil

    folder = tmp_path / "strict"
    shutil.copytree(chatml_model, folder)
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config["chat_template"] = ("{% for m in messages %}{% if m['role'] == 'system' %}"
                               "{{ raise_exception('no system role') }}{% endif %}"
                               "{{ m['role'] + ': ' + m['content'] + eos_token }}{% endfor %}")
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    v = add_raw_version(ROWS)
    fit = dataset_ops.token_fit(store, v.id, str(folder))
    assert fit.render_errors == 1 and fit.render_error_rows == [1]
    counts = fit.at(10_000)
    assert counts.usable == 3 and counts.dropped == 1  # the unrenderable row is neither


def test_a_model_without_a_chat_template_is_a_clear_error(store, add_raw_version, tmp_path, chatml_model):
    import json
    import shutil

    folder = tmp_path / "plain"
    shutil.copytree(chatml_model, folder)
    config = json.loads((folder / "tokenizer_config.json").read_text())
    del config["chat_template"]
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    v = add_raw_version(ROWS)
    with pytest.raises(WorkbenchError, match="no chat template"):
        dataset_ops.token_fit(store, v.id, str(folder))
