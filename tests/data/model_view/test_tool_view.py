"""What the model sees of a tool-calling conversation: the tools go to the template, the tool call
is trained on like any reply, the tool result is marked but not trained, exactly as the engine
labels it; a template that cannot show tools is found by a probe, in the view's services check."""

from __future__ import annotations

import json

import pytest
from tests.helpers.chatml_folder import CHATML
from tests.helpers.tool_template import TOOL_CHATML, WEATHER_TOOL, build_tool_folder, tool_conversation

from workbench.core.errors import ModelError
from workbench.data.model_view.template import REPLY, TOOL_CALL, TOOL_RESULT, ChatTemplate, render_conversation
from workbench.data.model_view.tokens import find_tokenizer_files
from workbench.data.model_view.tool_support import ToolUsage, probe, problem, stored_usage
from workbench.services import dataset_ops
from workbench.services.tool_check import check_tool_support


@pytest.fixture(scope="module")
def tool_model(tmp_path_factory):
    return build_tool_folder(tmp_path_factory.mktemp("tool-model"))


def test_tool_turns_are_rendered_marked_and_trained_like_the_engine(tool_model):
    from transformers import PreTrainedTokenizerFast

    from workbench.engine.train_data import IGNORE_INDEX, tokenize_conversation

    conversation = tool_conversation("Oslo", 4)
    r = render_conversation(find_tokenizer_files(tool_model), conversation)
    marked = [(s.kind, s.trained, s.message_index, r.text[s.start:s.end]) for s in r.spans if s.kind]
    assert marked == [
        (TOOL_CALL, True, 1, '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call><|im_end|>\n'),
        (TOOL_RESULT, False, 2, "4 C and sunny"),
        (REPLY, True, 3, "It is 4 C and sunny in Oslo.<|im_end|>\n"),
    ]
    assert r.text.startswith("<|im_start|>system\n# Tools\n<tools>\n" + json.dumps(WEATHER_TOOL, ensure_ascii=False))
    assert r.spans[0].start == 0 and r.spans[-1].end == len(r.text)
    assert all(a.end == b.start for a, b in zip(r.spans, r.spans[1:]))
    assert {t.kind for t in r.tokens if t.trained} == {TOOL_CALL, REPLY}
    assert any(t.kind == TOOL_RESULT and not t.trained for t in r.tokens)

    hf = PreTrainedTokenizerFast(tokenizer_file=str(tool_model / "tokenizer.json"), eos_token="<|im_end|>",
                                 bos_token="<|endoftext|>")
    hf.chat_template = TOOL_CHATML
    example, _ = tokenize_conversation(hf, conversation, max_length=10_000)
    assert [t.id for t in r.tokens] == example.input_ids
    assert [t.trained for t in r.tokens] == [lab != IGNORE_INDEX for lab in example.labels]


def test_the_probe_tells_tool_templates_from_plain_ones(tool_model, chatml_model):
    tools = probe(ChatTemplate.from_files(find_tokenizer_files(tool_model)).render)
    plain = probe(ChatTemplate(CHATML, {"eos_token": "<|im_end|>"}).render)
    assert (tools.calls, tools.results, tools.definitions) == (True, True, True)
    # Plain ChatML shows a tool result's text but drops the call (empty content) and the tools.
    assert (plain.calls, plain.results, plain.definitions) == (False, True, False)
    # The built-in models' templates (SmolLM2's, the tiny demo model's ChatML) render no tools.
    from workbench.engine.model_files import CHATML_TEMPLATE
    from workbench.engine.smollm2 import SMOLLM2_TEMPLATE

    for source in (SMOLLM2_TEMPLATE, CHATML_TEMPLATE):
        built_in = probe(ChatTemplate(source, {"eos_token": "<|im_end|>"}).render)
        assert not built_in.calls and not built_in.definitions
    refusing = probe(ChatTemplate("{{ raise_exception('Only user and assistant roles are supported!') }}").render)
    assert not refusing.calls and "Only user and assistant roles" in refusing.error
    usage = ToolUsage(calls=True, results=True, first_row=4)
    message, details, advice = problem(plain, usage, "plain-model", "the dataset shop")
    assert message == ("The chat template of plain-model does not support tools, but the dataset shop has "
                       "tool-calling conversations (the first is row 5): the template does not show the tool calls.")
    assert "tool calls no, tool results yes" in details and "Qwen2.5-Instruct" in advice
    assert problem(tools, usage, "m", "d") is None
    assert problem(plain, ToolUsage(), "m", "d") is None


def test_a_named_tool_use_template_renders_conversations_with_tools(tmp_path):
    folder = build_tool_folder(tmp_path / "named", chat_template=[
        {"name": "default", "template": CHATML}, {"name": "tool_use", "template": TOOL_CHATML}])
    files = find_tokenizer_files(folder)
    assert files.chat_template == CHATML and files.tool_template == TOOL_CHATML
    r = render_conversation(files, tool_conversation())
    assert "<tool_call>" in r.text
    plain = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    assert render_conversation(files, plain).text == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\nhello<|im_end|>\n"


def test_services_check_before_a_run(store, import_records, tool_model, chatml_model):
    plain = [{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}] * 3
    source = tool_conversation()  # as an OpenAI row: tools beside the messages
    tools = source[0].pop("tools")
    with_tools = import_records(plain + [{"messages": source, "tools": tools}], name="weather")
    without = import_records(plain, name="chat")
    assert stored_usage(store.abspath(with_tools.blob_path)) == ToolUsage(True, True, True, 3)
    assert not stored_usage(store.abspath(without.blob_path))
    check_tool_support(store, with_tools.id, str(tool_model))
    check_tool_support(store, without.id, str(chatml_model))
    with pytest.raises(ModelError) as err:
        check_tool_support(store, with_tools.id, str(chatml_model))
    assert err.value.user_message.startswith(f"The chat template of {chatml_model.name} does not support tools, "
                                             "but the dataset weather has tool-calling conversations (the first is row 4)")
    assert err.value.advice
    r = dataset_ops.render_row(store, with_tools.id, 3, str(tool_model))
    assert [s.kind for s in r.spans if s.kind] == [TOOL_CALL, TOOL_RESULT, REPLY]
