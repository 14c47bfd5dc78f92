"""Tool-calling conversations train through a chat template that renders tools (the tool calls
are labels, the tool results are not), and a template that cannot render them is refused while
the data is prepared, before the model loads."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from tests.engine.demo_corpus import write_parquet
from tests.engine.engine_helpers import run_engine
from tests.helpers.tool_template import TOOL_CHATML, tool_conversation

from workbench.core.records import TrainConfig
from workbench.jobs.specs import TrainSpec

pytestmark = pytest.mark.slow
CITIES = ["Paris", "Oslo", "Lima", "Rome", "Cairo", "Quito", "Hanoi", "Perth"]


def _rows(n: int = 8) -> list[dict]:
    plain = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}
    return [plain] + [{"messages": tool_conversation(CITIES[i % len(CITIES)], 10 + i)} for i in range(n)]


def _spec(tmp_path, base: str, dataset: str, name: str) -> TrainSpec:
    run_dir = tmp_path / name
    return TrainSpec(run_id=name, base_model_path=base, dataset_path=dataset, output_dir=str(run_dir),
                     journal_path=str(tmp_path / f"{name}.jsonl"), stop_file=str(run_dir / "STOP"),
                     config=TrainConfig(max_steps=3, batch_size=4, max_length=320, learning_rate=1e-3,
                                        eval_steps=0, save_steps=0))


@pytest.fixture
def tool_model(tmp_path, tiny_model_dir) -> str:
    """The tiny demo model with a chat template that renders tools."""
    folder = tmp_path / "tiny-tools"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "chat_template.jinja").write_text(TOOL_CHATML, encoding="utf-8")
    return str(folder)


def test_tool_calls_are_labels_and_tool_results_are_not(tool_model):
    from transformers import AutoTokenizer

    from workbench.engine.train_data import IGNORE_INDEX, tokenize_conversation

    tokenizer = AutoTokenizer.from_pretrained(tool_model)
    example, truncated = tokenize_conversation(tokenizer, tool_conversation("Paris", 18), max_length=1000)
    assert not truncated
    trained = tokenizer.decode([t for t, lab in zip(example.input_ids, example.labels) if lab != IGNORE_INDEX])
    assert trained == ('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call><|im_end|>\n'
                       "It is 18 C and sunny in Paris.<|im_end|>\n")
    everything = tokenizer.decode(example.input_ids)
    assert "<tool_response>\n18 C and sunny\n</tool_response>" in everything  # seen, not learned
    assert '"description": "The weather in a city now"' in everything  # the tool definitions too


def test_a_tool_dataset_trains_through_a_tool_template(tmp_path, tool_model):
    dataset = write_parquet(_rows(), str(tmp_path / "tools.parquet"))
    result = run_engine("train", _spec(tmp_path, tool_model, dataset, "tools"), str(tmp_path / "tools.json"))
    assert result.rc == 0, result.stderr[-3000:]
    done = result.last("completed").payload
    assert done["steps"] == 3 and done["last_loss"] > 0
    started = result.last("started").payload
    assert (started["rows"], started["usable_rows"], started["truncated_rows"]) == (9, 9, 0)


def test_a_template_without_tools_is_refused_before_the_model_loads(tmp_path, tiny_model_dir):
    with open(os.path.join(tiny_model_dir, "chat_template.jinja"), encoding="utf-8") as f:
        assert "tool" not in f.read()  # the demo model's plain ChatML
    dataset = write_parquet(_rows(), str(tmp_path / "tools.parquet"))
    spec = _spec(tmp_path, tiny_model_dir, dataset, "plain")
    spec = TrainSpec(**{**spec.__dict__, "dataset_name": "weather v1 · imported · 9 rows"})
    result = run_engine("train", spec, str(tmp_path / "plain.json"))
    assert result.rc == 1
    failed = result.last("failed").payload
    assert failed["error_kind"] == "bad_config"
    assert failed["message"] == (
        f"The chat template of {os.path.basename(tiny_model_dir)} does not support tools, but weather v1 · "
        "imported · 9 rows has tool-calling conversations (the first is row 2): the template does not show "
        "the tool calls or the tool definitions.")
    assert "Pick a base model whose chat template renders tool calls" in failed["advice"]
    assert "started" not in result.kinds() and not os.path.exists(os.path.join(spec.output_dir, "adapter"))
    assert json.loads(json.dumps(failed))  # the payload is plain JSON
